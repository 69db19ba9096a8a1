"""Strict SDP at the Socket.IO edge (issue 10, item 8): every bad offer to
`media:publish` and bad answer to `media:answer` gets
`{"ok": false, "error": {"code": "invalid", "message": <what is wrong>}}`,
never `internal`, and the connection stays up and usable."""
from __future__ import annotations

import asyncio
import logging
import random
import re

from aiortc import RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from tests.helpers import wait_until
from tests.media.media_testkit import MovingVideo, Tone, config


async def _offer(direction: str = "sendonly") -> tuple[RTCPeerConnection, str]:
    pc = RTCPeerConnection(config())
    t = pc.addTransceiver(MovingVideo(), direction=direction)
    caps = RTCRtpSender.getCapabilities("video").codecs
    t.setCodecPreferences([c for c in caps if c.mimeType.lower() in ("video/vp8", "video/rtx")])
    pc.addTransceiver(Tone(), direction=direction)
    await pc.setLocalDescription(await pc.createOffer())
    return pc, pc.localDescription.sdp


async def _answer_sdp() -> str:
    """A real answer (setup:active), to be sent where an offer belongs."""
    tx, rx = RTCPeerConnection(config()), RTCPeerConnection(config())
    try:
        tx.addTransceiver(MovingVideo(), direction="sendonly")
        await tx.setLocalDescription(await tx.createOffer())
        await rx.setRemoteDescription(tx.localDescription)
        await rx.setLocalDescription(await rx.createAnswer())
        return rx.localDescription.sdp
    finally:
        await tx.close()
        await rx.close()


def _sub(sdp: str, pattern: str, replacement: str) -> str:
    out = re.sub(pattern, replacement, sdp, flags=re.MULTILINE)
    assert out != sdp, pattern
    return out


def _invalid(ack: dict, *words: str) -> None:
    assert ack.get("ok") is False and ack["error"]["code"] == "invalid", ack
    for word in words:
        assert word in ack["error"]["message"], (word, ack)


def _no_tracebacks(caplog) -> None:
    logged = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not logged, [r.getMessage() for r in logged]


async def test_bad_publish_offers_are_invalid_and_the_connection_stays(sqlite_hub, clients, caplog):
    caplog.set_level(logging.WARNING)
    mid = await sqlite_hub.meeting()
    member = await sqlite_hub.participant(mid, "委员", "member")
    c = await sqlite_hub.connect(member["token"])
    clients.append(c)
    pcs: list[RTCPeerConnection] = []
    try:
        recvonly_pc, recvonly = await _offer("recvonly")
        inactive_pc, inactive = await _offer("inactive")
        pc, good = await _offer()
        pcs += [recvonly_pc, inactive_pc, pc]
        video_pt = re.search(r"^m=video \d+ \S+ (\d+)", good, re.MULTILINE).group(1)
        bad = {
            "recvonly": (recvonly, ["sends no audio or video"]),
            "inactive": (inactive, ["sends no audio or video"]),
            "no fingerprint": (_sub(good, r"^a=fingerprint:[^\r\n]*\r\n", ""), ["fingerprint"]),
            "payload type 999": (
                good.replace(f" {video_pt} ", " 999 ", 1).replace(f"a=rtpmap:{video_pt} ", "a=rtpmap:999 "),
                ["999", "0-127"],
            ),
            "answer as offer": (await _answer_sdp(), ["setup:active", "offer"]),
            "no setup": (_sub(good, r"^a=setup:[^\r\n]*\r\n", ""), ["a=setup"]),
            "no ice": (_sub(good, r"^a=ice-(ufrag|pwd):[^\r\n]*\r\n", ""), ["ice-ufrag"]),
            "not sdp": ("hello", ["v=0"]),
            "control characters": (good.replace("s=-", "s=\x00\x01"), ["control"]),
            "random text": ("".join(random.Random(8).choice("abc=\r\n v0m") for _ in range(5000)), []),
            "random bytes as text": (bytes(random.Random(9).randrange(256) for _ in range(4000)).decode("latin-1"), []),
            "huge": ("v=0\r\n" + "a=x\r\n" * 20000, []),
        }
        for name, (sdp, words) in bad.items():
            ack = await c.call("media:publish", {"sdp": sdp})
            _invalid(ack, *words)
        # Binary where text belongs, and wrong JSON types.
        for body in ({"sdp": bytes(range(256))}, {"sdp": b"v=0\r\n"}, {"sdp": 12}, {"sdp": ["v=0"]}, {"sdp": None}):
            _invalid(await c.call("media:publish", body))
        assert c.sio.connected

        # The same connection then publishes a good offer.
        ack = await c.call("media:publish", {"sdp": good})
        assert ack["ok"], ack
        await pc.setRemoteDescription(RTCSessionDescription(sdp=ack["sdp"], type="answer"))
        tracks = await c.wait_for("media:tracks", lambda m: len(m["tracks"]) == 2)
        assert {t["participant_id"] for t in tracks["tracks"]} == {member["id"]}
        # A renegotiation that sends nothing is refused too, and leaves the
        # published tracks alone.
        for t in pc.getTransceivers():
            t.direction = "inactive"
        await pc.setLocalDescription(await pc.createOffer())
        _invalid(await c.call("media:publish", {"sdp": pc.localDescription.sdp}), "media:unpublish")
        assert len(sqlite_hub.hub.media.tracks(mid)) == 2
    finally:
        for p in pcs:
            await p.close()
    _no_tracebacks(caplog)


async def test_bad_answers_are_invalid_and_a_good_one_still_works(sqlite_hub, clients, caplog):
    caplog.set_level(logging.WARNING)
    mid = await sqlite_hub.meeting()
    chair = await sqlite_hub.participant(mid, "主任", "chair")
    member = await sqlite_hub.participant(mid, "委员", "member")
    pub = await sqlite_hub.connect(chair["token"])
    sub = await sqlite_hub.connect(member["token"])
    clients += [pub, sub]
    publisher, offer = await _offer()
    rx = RTCPeerConnection(config())
    frames = {"video": 0}
    readers: list[asyncio.Task] = []

    async def read(track):
        try:
            while True:
                await track.recv()
                frames[track.kind] = frames.get(track.kind, 0) + 1
        except (MediaStreamError, asyncio.CancelledError):
            pass

    rx.on("track", lambda track: readers.append(asyncio.ensure_future(read(track))))
    try:
        # Garbage is invalid even before any offer is pending (not `state`).
        _invalid(await sub.call("media:answer", {"sdp": "v=0\r\nnonsense"}))
        _invalid(await sub.call("media:answer", {"sdp": bytes(range(256))}))

        ack = await pub.call("media:publish", {"sdp": offer})
        assert ack["ok"], ack
        await publisher.setRemoteDescription(RTCSessionDescription(sdp=ack["sdp"], type="answer"))
        assert (await sub.call("media:subscribe", {"tracks": "all"})) == {"ok": True}
        server_offer = (await sub.wait_for("media:offer"))["sdp"]
        await rx.setRemoteDescription(RTCSessionDescription(sdp=server_offer, type="offer"))
        await rx.setLocalDescription(await rx.createAnswer())
        answer = rx.localDescription.sdp

        bad = {
            "the offer echoed back": (server_offer, ["setup:actpass", "answer"]),
            "no fingerprint": (_sub(answer, r"^a=fingerprint:[^\r\n]*\r\n", ""), ["fingerprint"]),
            "other mid": (_sub(answer, r"^a=mid:0", "a=mid:9"), ["does not answer"]),
            "one m-line short": (answer[: answer.index("m=audio")], ["m-lines"]),
            "sendrecv to sendonly": (_sub(answer, r"^a=recvonly", "a=sendrecv"), ["does not answer sendonly"]),
            "payload type 999": (_sub(answer, r"^(m=video \d+ \S+) (\d+)", r"\1 999"), ["999"]),
            "random bytes as text": (bytes(random.Random(7).randrange(256) for _ in range(3000)).decode("latin-1"), []),
        }
        for name, (sdp, words) in bad.items():
            _invalid(await sub.call("media:answer", {"sdp": sdp}), *words)
        assert sub.sio.connected

        # The offer is still pending: the real answer is taken and video flows.
        assert (await sub.call("media:answer", {"sdp": answer})) == {"ok": True}
        await wait_until(lambda: frames["video"] >= 10, timeout=15)
        # Nothing is pending any more: a well-formed answer is now `state`.
        late = await sub.call("media:answer", {"sdp": answer})
        assert late["ok"] is False and late["error"]["code"] == "state", late
    finally:
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        await rx.close()
        await publisher.close()
    _no_tracebacks(caplog)


async def test_mutated_offers_never_get_internal(sqlite_hub, clients, caplog):
    """Real offers cut, stripped of a line or with a byte changed, sent one
    after another on one connection: each is answered ok or invalid (state
    at worst), never internal, never a timeout, never a dropped connection."""
    caplog.set_level(logging.WARNING)
    mid = await sqlite_hub.meeting()
    member = await sqlite_hub.participant(mid, "委员", "member")
    c = await sqlite_hub.connect(member["token"])
    clients.append(c)
    pc, offer = await _offer()
    await pc.close()
    rng = random.Random(10)
    codes: dict[str, int] = {}
    # 100: within the per-connection burst allowance (signaling.server.BURST).
    for _ in range(100):
        text = offer
        how = rng.randrange(3)
        if how == 0:
            lines = text.split("\r\n")
            del lines[rng.randrange(len(lines))]
            text = "\r\n".join(lines)
        elif how == 1:
            at = rng.randrange(len(text))
            text = text[:at] + chr(rng.randrange(32, 127)) + text[at + 1:]
        else:
            text = text[: rng.randrange(len(text))]
        ack = await c.call("media:publish", {"sdp": text})
        code = "ok" if ack.get("ok") else ack["error"]["code"]
        codes[code] = codes.get(code, 0) + 1
    print(f"\nmutated offers: {codes}")
    assert set(codes) <= {"ok", "invalid", "state"}, codes
    assert codes.get("invalid", 0) > 30, codes
    assert c.sio.connected
    assert (await c.call("state:sync"))["ok"]
    _no_tracebacks(caplog)
