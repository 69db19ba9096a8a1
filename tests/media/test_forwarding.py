"""End-to-end forwarding through the SFU with real aiortc peers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiortc import RTCSessionDescription

from media import aiortc_hooks as hooks
from media.service import MediaService
from tests.media.media_testkit import MovingVideo, Publisher, Subscriber, Tone, wait_for


async def _publish_av(service: MediaService, meeting: str, pid: str, codec: str | None = None) -> Publisher:
    pub = Publisher(service, meeting, pid)
    pub.add(MovingVideo(), codec=codec)
    pub.add(Tone())
    await pub.publish()
    return pub


@pytest.mark.parametrize("codec", ["VP8", "H264"])
async def test_publish_and_subscribers_decode(service: MediaService, codec: str) -> None:
    pub = await _publish_av(service, "m1", "alice", codec)
    tracks = service.tracks("m1")
    assert sorted((t.kind, t.source) for t in tracks) == [("audio", "mic"), ("video", "camera")]
    assert all(t.participant_id == "alice" for t in tracks)
    assert tracks[0].to_dict().keys() == {"id", "participant_id", "kind", "source"}
    producer = next(p for p in service.router("m1").producers.values() if p.kind == "video")
    assert producer.mime_type.lower() == f"video/{codec.lower()}"

    subs = [Subscriber(service, "m1", f"viewer{i}") for i in range(2)]
    try:
        for sub in subs:
            await sub.subscribe("all")
        await wait_for(lambda: all(s.frames["video"] >= 40 and s.frames["audio"] >= 50 for s in subs), 20, "decoded frames")
        stats = service.stats()
        assert stats["consumers"] == 4 and stats["producers"] == 2
        assert stats["packets_forwarded"] > stats["packets_received"]  # fanned out, not re-encoded
        # Packets were handled in the socket callback, not via aiortc's queue.
        send_transport = service._peers[("m1", "alice")].send
        assert send_transport.slow_path_packets == 0 and send_transport.malformed == 0
        # Steady consumers were fed by the compiled fan-out, not per packet in Python.
        router = service.router("m1")
        assert all(c.steady for c in router.consumers.values())
        assert all(p._table.size == len(p.consumers) == 2 for p in router.producers.values())
        # Each subscriber got only the publisher's tracks, by mid.
        for sub in subs:
            mapping = service.consumers("m1", sub.pid)
            assert {m["track_id"] for m in mapping} == {t.id for t in tracks}
    finally:
        for sub in subs:
            await sub.close()
        await pub.close()


async def _late_join_first_frame_delay(
    service: MediaService, lateness: float, keyframe_requests: bool, codec: str | None = None
) -> float | None:
    pub = Publisher(service, "late", "alice")
    pub.add(MovingVideo(), codec=codec)
    await pub.publish()
    router = service.router("late")
    # Constant bitrate: a REMB change restarts aiortc's encoder, which would
    # emit a keyframe by itself and hide a missing keyframe request.
    router.remb_enabled = False
    early = Subscriber(service, "late", "early")
    late = Subscriber(service, "late", "late")
    try:
        await early.subscribe("all")
        await wait_for(lambda: early.frames["video"] >= 10, 15, "early subscriber frames")
        for producer in router.producers.values():
            producer.keyframe_requests = keyframe_requests
        await asyncio.sleep(lateness)
        await late.subscribe("all")
        await wait_for(lambda: late.connected_at is not None, 10, "late subscriber connected")
        try:
            await wait_for(lambda: "video" in late.first_frame, 3, "late subscriber first frame")
        except AssertionError:
            return None
        assert late.connected_at is not None
        return late.first_frame["video"] - late.connected_at
    finally:
        await late.close()
        await early.close()
        await pub.close()


@pytest.mark.parametrize("codec", ["VP8", "H264"])
async def test_late_subscriber_gets_keyframe_quickly(service: MediaService, codec: str) -> None:
    delay = await _late_join_first_frame_delay(service, lateness=3.0, keyframe_requests=True, codec=codec)
    assert delay is not None and delay < 1.0, f"first frame {delay}s after connection"
    assert service.stats()["plis_sent"] >= 2  # one per subscriber joining


async def test_late_subscriber_without_keyframe_request_sees_nothing(service: MediaService) -> None:
    """Proves the test above measures keyframe-on-join: without the PLI the
    publisher never sends another keyframe, so the late viewer stays black."""
    delay = await _late_join_first_frame_delay(service, lateness=3.0, keyframe_requests=False)
    assert delay is None


async def test_nack_repairs_injected_loss(service: MediaService) -> None:
    pub = Publisher(service, "loss", "alice")
    pub.add(MovingVideo())
    await pub.publish()
    sub = Subscriber(service, "loss", "bob")
    try:
        await sub.subscribe("all")
        router = service.router("loss")
        consumer = next(iter(router.consumers.values()))
        consumer.drop_hook = lambda seq: seq % 20 == 7  # 5% of forwarded packets
        await wait_for(lambda: consumer.dropped >= 1, 10, "drops")
        before = sub.frames["video"]
        started = time.monotonic()
        await wait_for(lambda: sub.frames["video"] - before >= 60, 15, "frames despite loss")
        elapsed = time.monotonic() - started
        assert consumer.retransmissions > 0
        assert consumer.nacks_received > 0
        assert consumer.dropped > 0
        # ~30 fps expected; repairs must keep it flowing (well above 10 fps).
        assert (sub.frames["video"] - before) / elapsed > 10
        assert service.stats()["retransmissions"] > 0
    finally:
        await sub.close()
        await pub.close()


async def test_uplink_loss_is_nacked_and_repaired_by_publisher_rtx(service: MediaService) -> None:
    pub = Publisher(service, "up", "alice")
    pub.add(MovingVideo())
    await pub.publish()
    sub = Subscriber(service, "up", "bob")
    try:
        await sub.subscribe("all")
        producer = next(iter(service.router("up").producers.values()))
        await wait_for(lambda: sub.frames["video"] >= 5, 15, "frames")
        dropped: set[int] = set()

        def drop_once(seq: int) -> bool:
            # Lose 5% of the uplink, each packet only once (the repair passes).
            if seq % 20 == 3 and seq not in dropped:
                dropped.add(seq)
                return True
            return False

        producer.drop_hook = drop_once
        before = sub.frames["video"]
        await wait_for(lambda: producer.rtx_received >= 5 and sub.frames["video"] - before >= 45, 15, "repairs")
        assert producer.nacks_sent > 0
        assert service.stats()["nacks_sent"] > 0
    finally:
        await sub.close()
        await pub.close()


async def test_sender_reports_carry_true_counts(service: MediaService) -> None:
    pub = Publisher(service, "sr", "alice")
    pub.add(MovingVideo())
    pub.add(Tone())
    await pub.publish()
    sub = Subscriber(service, "sr", "bob")
    try:
        await sub.subscribe("all")
        consumers = {c.ssrc: c for c in service.router("sr").consumers.values()}

        async def remote_outbound() -> dict[int, int]:
            seen = {}
            for receiver in sub.pc.getReceivers():
                for stat in (await receiver.getStats()).values():
                    if stat.type == "remote-outbound-rtp" and stat.ssrc in consumers:
                        seen[stat.ssrc] = stat.packetsSent
            return seen

        deadline = asyncio.get_running_loop().time() + 10
        seen: dict[int, int] = {}
        while len(seen) < 2 and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.2)
            seen = await remote_outbound()
        assert len(seen) == 2, "no SR reached the subscriber for each stream"
        for ssrc, packets_sent in seen.items():
            assert 0 < packets_sent <= consumers[ssrc].packets
        # And the publisher got receiver reports from the SFU for its streams.
        reported = set()
        for sender in pub.pc.getSenders():
            for stat in (await sender.getStats()).values():
                if stat.type == "remote-inbound-rtp":
                    reported.add(sender.track.kind)
                    assert stat.packetsLost == 0
        assert reported == {"audio", "video"}
    finally:
        await sub.close()
        await pub.close()


async def test_camera_and_screen_together_then_unpublish(service: MediaService) -> None:
    pub = Publisher(service, "cs", "alice")
    pub.add(MovingVideo())
    screen = pub.add(MovingVideo(width=480, height=270))
    pub.add(Tone())
    await pub.pc.setLocalDescription(await pub.pc.createOffer())
    answer = await service.publish("cs", "alice", pub.pc.localDescription.sdp, {screen.mid: "screen"})
    await pub.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    tracks = {t.source: t for t in service.tracks("cs")}
    assert set(tracks) == {"camera", "screen", "mic"}
    sub = Subscriber(service, "cs", "bob")
    try:
        await sub.subscribe("all")
        await wait_for(
            lambda: all(sub.frames_by_track.get(tracks[s].id, 0) >= 15 for s in ("camera", "screen", "mic")),
            20,
            "both videos and the audio decoded",
        )
        assert {c["source"] for c in service.consumers("cs", "bob")} == {"camera", "screen", "mic"}

        await service.unpublish("cs", "alice")
        assert service.tracks("cs") == []
        stats = service.stats()
        assert stats["producers"] == 0 and stats["consumers"] == 0 and stats["transports"] == 1
        # The subscriber is told by a new offer; its m-lines go inactive.
        _, who, offer, _ = service.test_offers[-1]
        assert who == "bob" and "a=inactive" in offer and "a=sendonly" not in offer
        await sub.apply_offer(offer)
    finally:
        await sub.close()
        await pub.close()


async def test_a_subscriber_that_moves_keeps_its_media(service: MediaService) -> None:
    """The subscriber's network changes: ICE checks arrive from a new address,
    aioice (controlling) nominates the new pair, and the compiled fan-out must
    send there from then on, not to the address the client left."""
    import aioice.ice
    from aioice import Candidate

    pub = await _publish_av(service, "mv", "alice")
    sub = Subscriber(service, "mv", "bob")
    moved_transport = None
    try:
        await sub.subscribe("all")
        await wait_for(lambda: sub.frames["video"] >= 10, 15, "frames before the move")
        link = service._peers[("mv", "bob")].recv.link
        assert link is not None
        client_ice = sub.pc.getTransceivers()[0].receiver.transport.transport._connection
        server_ice = hooks.pc_dtls_transport(service._peers[("mv", "bob")].recv.pc).transport._connection
        before = server_ice._nominated[1]

        # The client now checks from a new socket, as after a network change.
        loop = asyncio.get_running_loop()
        moved_transport, moved = await loop.create_datagram_endpoint(
            lambda: aioice.ice.StunProtocol(client_ice), local_addr=("127.0.0.1", 0)
        )
        moved_addr = moved_transport.get_extra_info("sockname")
        moved.local_candidate = Candidate(
            foundation="9", component=1, transport="udp", priority=1, type="host", host="127.0.0.1", port=moved_addr[1]
        )
        client_ice._protocols.append(moved)
        pair = aioice.ice.CandidatePair(moved, before.local_candidate)
        server_addr = (before.local_candidate.host, before.local_candidate.port)
        await moved.request(
            client_ice.build_request(pair, nominate=False), server_addr, integrity_key=server_ice.local_password.encode()
        )
        await wait_for(lambda: server_ice._nominated[1] is not before, 5, "a new pair nominated")
        assert server_ice._nominated[1].remote_addr == moved_addr
        # The link moved with it (same Link object, new destination)...
        assert service._peers[("mv", "bob")].recv.link is link
        assert bytes(link.c.addr[4:8]) == bytes([127, 0, 0, 1])
        assert int.from_bytes(bytes(link.c.addr[2:4]), "big") == moved_addr[1]
        # ...and media arriving on the new socket still decodes.
        frames = sub.frames["video"]
        await wait_for(lambda: sub.frames["video"] >= frames + 15, 10, "frames after the move")
    finally:
        if moved_transport is not None:
            moved_transport.close()
        await sub.close()
        await pub.close()
