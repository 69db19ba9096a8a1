"""Media over Socket.IO: publish, media:tracks, subscribe, offer/answer, refusals, teardown."""
import asyncio

from aiortc import RTCPeerConnection, RTCSessionDescription

from tests.helpers import wait_until
from tests.media.media_testkit import MovingVideo, Tone, config


async def _publish(client, tracks, sources=None) -> RTCPeerConnection:
    pc = RTCPeerConnection(config())
    for track in tracks:
        pc.addTransceiver(track, direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    body = {"sdp": pc.localDescription.sdp}
    if sources:
        body["sources"] = sources
    ack = await client.call("media:publish", body)
    assert ack["ok"], ack
    await pc.setRemoteDescription(RTCSessionDescription(sdp=ack["sdp"], type="answer"))
    return pc


async def test_publish_subscribe_and_decode_through_signaling(sqlite_hub, clients):
    mid = await sqlite_hub.meeting()
    chair = await sqlite_hub.participant(mid, "主任", "chair")
    station = await sqlite_hub.participant(mid, "联络站", "deputy")
    pub = await sqlite_hub.connect(chair["token"])
    sub = await sqlite_hub.connect(station["token"])
    clients += [pub, sub]
    pcs: list[RTCPeerConnection] = []
    try:
        pcs.append(await _publish(pub, [MovingVideo(), Tone()]))
        tracks = await sub.wait_for("media:tracks", lambda m: len(m["tracks"]) == 2)
        assert {(t["kind"], t["source"], t["participant_id"]) for t in tracks["tracks"]} == {
            ("video", "camera", chair["id"]), ("audio", "mic", chair["id"])}
        sync = await sub.call("state:sync")
        assert sorted(t["id"] for t in sync["tracks"]) == sorted(t["id"] for t in tracks["tracks"])

        frames = {"audio": 0, "video": 0}
        readers: list[asyncio.Task] = []
        rx = RTCPeerConnection(config())
        pcs.append(rx)

        async def read(track):
            while True:
                await track.recv()
                frames[track.kind] += 1

        rx.on("track", lambda track: readers.append(asyncio.ensure_future(read(track))))
        assert (await sub.call("media:subscribe", {"tracks": "all"})) == {"ok": True}
        offer = await sub.wait_for("media:offer")
        assert {c["track_id"] for c in offer["consumers"]} == {t["id"] for t in tracks["tracks"]}
        await rx.setRemoteDescription(RTCSessionDescription(sdp=offer["sdp"], type="offer"))
        await rx.setLocalDescription(await rx.createAnswer())
        assert (await sub.call("media:answer", {"sdp": rx.localDescription.sdp}))["ok"]
        await wait_until(lambda: frames["video"] >= 20 and frames["audio"] >= 20, timeout=20)
        for task in readers:
            task.cancel()
    finally:
        for pc in pcs:
            await pc.close()

    media = sqlite_hub.hub.media
    await pub.close()
    gone = await sub.wait_for("media:tracks", lambda m: m["tracks"] == [])
    assert gone["seq"] > tracks["seq"]
    await sub.close()
    await wait_until(lambda: media.stats()["transports"] == 0 and media.stats()["producers"] == 0)


async def test_media_refusals(sqlite_hub, clients):
    mid = await sqlite_hub.meeting()
    member = await sqlite_hub.participant(mid, "委员", "member")
    observer = await sqlite_hub.participant(mid, "列席", "observer")
    c = await sqlite_hub.connect(member["token"])
    o = await sqlite_hub.connect(observer["token"])
    clients += [c, o]

    garbage = await c.call("media:publish", {"sdp": "v=0 this is not sdp"})
    assert garbage["ok"] is False and garbage["error"]["code"] == "invalid"
    pc = RTCPeerConnection(config())
    pc.createDataChannel("no-media")
    await pc.setLocalDescription(await pc.createOffer())
    no_media = await c.call("media:publish", {"sdp": pc.localDescription.sdp})
    await pc.close()
    assert no_media["ok"] is False and no_media["error"]["code"] == "invalid"
    assert (await c.call("media:publish", {}))["error"]["code"] == "invalid"
    assert (await c.call("media:publish", {"sdp": "x" * 70000}))["error"]["code"] == "invalid"
    assert (await c.call("media:publish", {"sdp": "v=0", "sources": {"0": "hologram"}}))["error"]["code"] == "invalid"
    unknown = await c.call("media:subscribe", {"tracks": ["no-such-track"]})
    assert unknown["ok"] is False and unknown["error"]["code"] == "not_found"
    assert (await c.call("media:subscribe", {"tracks": "some"}))["error"]["code"] == "invalid"
    stray = await c.call("media:answer", {"sdp": "v=0"})
    assert stray["ok"] is False and stray["error"]["code"] in ("invalid", "state")
    forbidden = await o.call("media:publish", {"sdp": "v=0"})
    assert forbidden["ok"] is False and forbidden["error"]["code"] == "forbidden"
    assert c.sio.connected and o.sio.connected
