"""Service-level behaviour: refusals, renegotiation, teardown, floor control,
active speaker and taps — all with real aiortc peers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import threading

import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription

from media.service import MediaError, MediaService
from tests.media.media_testkit import MovingVideo, Publisher, Subscriber, Tone, config, wait_for


async def test_refusals(service: MediaService) -> None:
    with pytest.raises(MediaError) as err:
        await service.publish("m", "a", "this is not sdp")
    assert err.value.code == "invalid"
    with pytest.raises(MediaError) as err:
        await service.publish("m", "a", "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\nm=video garbage\r\n")
    assert err.value.code == "invalid"

    pc = RTCPeerConnection(config())  # an offer with a data channel only: no media
    try:
        pc.createDataChannel("x")
        await pc.setLocalDescription(await pc.createOffer())
        with pytest.raises(MediaError) as err:
            await service.publish("m", "a", pc.localDescription.sdp)
        assert err.value.code == "invalid"
    finally:
        await pc.close()

    with pytest.raises(MediaError) as err:
        await service.subscribe("m", "a", ["nope"])
    assert err.value.code == "not_found"
    with pytest.raises(MediaError) as err:  # garbage is invalid whatever the state
        await service.answer("m", "a", "v=0\r\n")
    assert err.value.code == "invalid"
    tx, rx = RTCPeerConnection(config()), RTCPeerConnection(config())
    try:  # a real answer, but no offer of the hub's is waiting for it
        tx.addTransceiver(Tone(), direction="sendonly")
        await tx.setLocalDescription(await tx.createOffer())
        await rx.setRemoteDescription(tx.localDescription)
        await rx.setLocalDescription(await rx.createAnswer())
        with pytest.raises(MediaError) as err:
            await service.answer("m", "a", rx.localDescription.sdp)
        assert err.value.code == "state"
    finally:
        await tx.close()
        await rx.close()
    stats = service.stats()
    assert stats["transports"] == 0 and stats["participants"] == 0 and stats["tasks"] == 0


async def test_sources_and_renegotiation(service: MediaService) -> None:
    pub = Publisher(service, "r", "alice")
    pub.add(Tone())
    await pub.publish()
    assert [(t.kind, t.source) for t in service.tracks("r")] == [("audio", "mic")]

    sub = Subscriber(service, "r", "bob")
    try:
        await sub.subscribe("all")
        await wait_for(lambda: sub.frames["audio"] >= 10, 10, "audio")

        # The publisher adds a screen share: renegotiation adds a producer and
        # the "all" subscriber gets a server-initiated offer.
        t = pub.add(MovingVideo())
        await pub.pc.setLocalDescription(await pub.pc.createOffer())
        mid = t.mid
        answer = await service.publish("r", "alice", pub.pc.localDescription.sdp, {mid: "screen"})
        await pub.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        assert sorted((t.kind, t.source) for t in service.tracks("r")) == [("audio", "mic"), ("video", "screen")]
        await wait_for(lambda: any(o[1] == "bob" for o in service.test_offers), 5, "server offer")
        _, _, offer, _ = service.test_offers[-1]
        await sub.apply_offer(offer)
        await wait_for(lambda: sub.frames["video"] >= 15, 15, "screen frames")

        # The publisher stops its screen share: the producer goes away.
        t.direction = "inactive"
        await pub.pc.setLocalDescription(await pub.pc.createOffer())
        answer = await service.publish("r", "alice", pub.pc.localDescription.sdp)
        await pub.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        assert [(t.kind, t.source) for t in service.tracks("r")] == [("audio", "mic")]
        assert service.stats()["consumers"] == 1
        _, _, offer, _ = service.test_offers[-1]
        await sub.apply_offer(offer)
        t.direction = "sendonly"
        await pub.pc.setLocalDescription(await pub.pc.createOffer())
        answer = await service.publish("r", "alice", pub.pc.localDescription.sdp, {t.mid: "screen"})
        await pub.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        await sub.apply_offer(service.test_offers[-1][2])
        await wait_for(lambda: service.stats()["consumers"] == 2, 5, "screen consumer again")

        # Explicit subscription to the audio only: the video consumer goes away.
        audio_id = next(t.id for t in service.tracks("r") if t.kind == "audio")
        await sub.apply_offer(await service.subscribe("r", "bob", [audio_id]))
        assert [c["track_id"] for c in service.consumers("r", "bob")] == [audio_id]
        assert service.stats()["consumers"] == 1
    finally:
        await sub.close()
        await pub.close()


async def test_connections_of_one_participant_are_independent(service: MediaService) -> None:
    """A participant on two connections (a reload overlapping its old page)
    has two peers: offers go to the connection they were made for, and one
    connection's leave leaves the other receiving."""
    pub = Publisher(service, "k", "alice")
    pub.add(MovingVideo())
    await pub.publish()
    old = Subscriber(service, "k", "bob", connection="sid-old")
    new = Subscriber(service, "k", "bob", connection="sid-new")
    carol = Publisher(service, "k", "carol")
    carol.add(Tone())
    try:
        await old.subscribe("all")
        await new.subscribe("all")
        await wait_for(lambda: old.frames["video"] >= 5 and new.frames["video"] >= 5, 15, "video on both")
        assert service.stats()["peers"] == 3 and service.stats()["participants"] == 2
        assert service.stats()["transports"] == 3  # one send, two receive

        # A second publisher: each of bob's connections gets its own offer.
        await carol.publish()
        await wait_for(lambda: {o[3] for o in service.test_offers} >= {"sid-old", "sid-new"}, 5, "two offers")
        offers = {o[3]: o[2] for o in service.test_offers}
        assert offers["sid-old"] != offers["sid-new"]
        assert all(o[1] == "bob" for o in service.test_offers)
        await new.apply_offer(offers["sid-new"])
        await old.apply_offer(offers["sid-old"])
        await wait_for(lambda: new.frames["audio"] >= 10, 10, "carol's audio on the new connection")

        # A connection is not someone else's to tear down or use.
        await service.leave("k", "alice", connection="sid-new")
        with pytest.raises(MediaError) as err:
            await service.subscribe("k", "alice", "all", connection="sid-new")
        assert err.value.code == "state"
        assert len(service.consumers("k", "bob", connection="sid-new")) == 2

        # The old connection leaves; the new one keeps receiving.
        await service.leave("k", "bob", connection="sid-old")
        assert service.consumers("k", "bob", connection="sid-old") == []
        assert len(service.consumers("k", "bob", connection="sid-new")) == 2
        assert service.stats()["peers"] == 3  # alice, carol and the new connection
        seen = new.frames["video"]
        await wait_for(lambda: new.frames["video"] >= seen + 10, 10, "video after the old connection left")
    finally:
        await old.close()
        await new.close()
        await pub.close()
        await carol.close()


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _media_threads() -> list[str]:
    # The loop's default executor ("asyncio_N") is a pool that outlives
    # participants (aioice resolves addresses in it); every other thread
    # (aiortc's per-track decoder and encoder threads) must end.
    return sorted(t.name for t in threading.enumerate() if not t.name.startswith("asyncio_"))


async def test_teardown_leaves_nothing(service: MediaService) -> None:
    fds_before, threads_before = _open_fds(), _media_threads()
    pub = Publisher(service, "t", "alice")
    pub.add(MovingVideo())
    pub.add(Tone())
    await pub.publish()
    sub = Subscriber(service, "t", "bob")
    pub2 = Publisher(service, "t", "carol")
    pub2.add(Tone())
    try:
        await sub.subscribe("all")
        await pub2.publish()
        await wait_for(lambda: sub.frames["video"] >= 5, 15, "frames")
        stats = service.stats()
        assert stats["transports"] == 3 and stats["producers"] == 3 and stats["tasks"] == 1

        # Orderly leave.
        await service.leave("t", "alice")
        stats = service.stats()
        assert stats["producers"] == 1 and stats["transports"] == 2
        assert stats["consumers"] <= 1

        # Abrupt: the subscriber's peer connection closes without a word.
        await sub.pc.close()
        await wait_for(lambda: service.stats()["participants"] == 1, 10, "subscriber cleanup")
        # And the last publisher too.
        await pub2.pc.close()
        await wait_for(lambda: service.stats()["participants"] == 0, 10, "publisher cleanup")
        await wait_for(lambda: service.stats()["tasks"] == 0, 5, "tasks gone")
        stats = service.stats()
        assert stats == {**stats, "routers": 0, "transports": 0, "producers": 0, "consumers": 0, "tasks": 0}
        # Sockets (the SFU's ICE sockets and the fan-out's own descriptors,
        # and the test clients') and decoder threads are gone too.
        await pub.close()
        await wait_for(lambda: _open_fds() == fds_before, 5, "descriptors closed")
        await wait_for(lambda: _media_threads() == threads_before, 5, "threads ended")
    finally:
        await sub.close()
        await pub.close()
        await pub2.close()


async def test_audio_allowlist_forwards_only_allowed(service: MediaService) -> None:
    pubs = []
    for pid in ("A", "B"):
        p = Publisher(service, "f", pid)
        p.add(Tone())
        await p.publish()
        pubs.append(p)
    sub = Subscriber(service, "f", "listener")
    try:
        await sub.subscribe("all")
        router = service.router("f")
        await wait_for(lambda: all(c.packets > 20 for c in router.consumers.values()), 10, "audio flowing")
        router.set_audio_allowlist({"A"})
        assert router.audio_allowlist == {"A"}
        await asyncio.sleep(0.2)

        async def received_by_producer() -> dict[str, int]:
            ssrc_owner = {}
            for c in router.consumers.values():
                ssrc_owner[c.ssrc] = c.producer.participant_id
            counts = {"A": 0, "B": 0}
            for receiver in sub.pc.getReceivers():
                report = await receiver.getStats()
                for stat in report.values():
                    if stat.type == "inbound-rtp" and stat.ssrc in ssrc_owner:
                        counts[ssrc_owner[stat.ssrc]] += stat.packetsReceived
            return counts

        before = await received_by_producer()
        # Wait until A has clearly gone on (an event, not a fixed window); B
        # must not have moved meanwhile.
        deadline = asyncio.get_running_loop().time() + 10
        after = before
        while after["A"] - before["A"] <= 20 and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
            after = await received_by_producer()
        assert after["A"] - before["A"] > 20
        assert after["B"] == before["B"]

        # Lifting the floor control resumes B as one continuous stream.
        consumer_b = next(c for c in router.consumers.values() if c.producer.participant_id == "B")
        last_seq = consumer_b.last_seq
        router.set_audio_allowlist(None)
        await wait_for(lambda: consumer_b.last_seq != last_seq, 5, "B resumes")
        assert consumer_b.sync_seq == (last_seq + 1) & 0xFFFF
    finally:
        await sub.close()
        for p in pubs:
            await p.close()


async def test_active_speaker_with_hysteresis() -> None:
    events: list[tuple[str, str | None]] = []

    async def on_speaker(meeting: str, pid: str | None) -> None:
        events.append((meeting, pid))

    service = MediaService(ice_servers=[], allow_loopback=True, on_active_speaker=on_speaker)
    loud, quiet = Tone(amplitude=0.6), Tone(amplitude=0.0)
    pa, pb = Publisher(service, "s", "A"), Publisher(service, "s", "B")
    pa.add(loud)
    pb.add(quiet)
    try:
        await pa.publish()
        await pb.publish()
        await wait_for(lambda: ("s", "A") in events, 10, "A speaks")
        loud.amplitude, quiet.amplitude = 0.0, 0.6
        await wait_for(lambda: events[-1] == ("s", "B"), 10, "B speaks")
        assert len(events) <= 3  # A, maybe None, B: no flicker
    finally:
        await pa.close()
        await pb.close()
        await service.close()


async def test_tap_sees_published_packets(service: MediaService) -> None:
    pub = Publisher(service, "tap", "alice")
    pub.add(Tone())
    await pub.publish()
    try:
        producer = next(iter(service.router("tap").producers.values()))
        seen: list[int] = []
        def broken(p, data):
            raise RuntimeError("recorder bug")

        producer.add_tap(broken)  # removed on its first failure, forwarding goes on
        remove = producer.add_tap(lambda p, data: seen.append(len(data)))
        await wait_for(lambda: len(seen) >= 10, 10, "tapped packets")
        remove()
        n = len(seen)
        # Once ten more packets went through the producer, a live tap would have seen them.
        received = service.stats()["packets_received"]
        await wait_for(lambda: service.stats()["packets_received"] >= received + 10, 10, "more packets")
        assert len(seen) == n
    finally:
        await pub.close()


async def test_subscribe_all_before_anyone_publishes(service: MediaService) -> None:
    """The usual join order: subscribe to "all" first, media arrives later via
    a server-initiated offer."""
    sub = Subscriber(service, "early", "bob")
    pub = Publisher(service, "early", "alice")
    pub.add(MovingVideo())
    pub.add(Tone())
    try:
        # Nothing to receive yet: no offer (Chromium refuses one without m= lines).
        assert await sub.subscribe("all") is None
        assert service.consumers("early", "bob") == []
        await pub.publish()
        await wait_for(lambda: any(o[1] == "bob" for o in service.test_offers), 5, "server offer")
        await sub.apply_offer(service.test_offers[-1][2])
        await wait_for(lambda: sub.frames["video"] >= 10 and sub.frames["audio"] >= 10, 15, "media")
        # Own tracks are not sent back to the publisher.
        assert await service.subscribe("early", "alice", "all") is None
        assert service.consumers("early", "alice") == []
    finally:
        await sub.close()
        await pub.close()


async def test_floor_allowlist_outlives_the_router(service: MediaService) -> None:
    service.set_audio_allowlist("fl", {"A"})  # before anyone joined
    assert await service.subscribe("fl", "p", "all") is None
    assert service.router("fl").audio_allowlist == {"A"}
    await service.leave("fl", "p")
    assert service.router("fl") is None
    assert await service.subscribe("fl", "p", "all") is None
    router = service.router("fl")
    assert router.audio_allowlist == {"A"}
    router.set_audio_allowlist(None)
    await service.leave("fl", "p")
    await service.subscribe("fl", "p", "all")
    assert service.router("fl").audio_allowlist is None


async def test_ice_servers_are_checked_and_used() -> None:
    from media.transport import make_configuration

    with pytest.raises(ValueError):
        MediaService(ice_servers=[{"username": "x"}])
    with pytest.raises(ValueError):
        MediaService(ice_servers=[{"urls": "http://nope"}])
    servers = [{"urls": ["turn:turn.example.org:3478"], "username": "u", "credential": "c"}, {"urls": "stun:s.example.org"}]
    service = MediaService(ice_servers=servers)
    configuration = make_configuration(service.ice_servers)
    assert [s.urls for s in configuration.iceServers] == [["turn:turn.example.org:3478"], "stun:s.example.org"]
    assert configuration.iceServers[0].username == "u" and configuration.iceServers[0].credential == "c"
    assert make_configuration(None).iceServers == []  # none by default
    await service.close()


async def test_malformed_packets_do_not_break_the_publisher(service: MediaService) -> None:
    """Junk on the wire, through the path real packets take (the socket
    callback): datagrams that are not valid SRTP, and validly encrypted RTP
    with broken headers. Each is dropped; the publisher's audio flows on."""
    pub = Publisher(service, "bad", "alice")
    pub.add(Tone())
    await pub.publish()
    try:
        producer = next(iter(service.router("bad").producers.values()))
        transport = service._peers[("bad", "alice")].send
        await wait_for(lambda: producer.packets > 5, 10, "audio")
        client_dtls = pub.pc.getTransceivers()[0].sender.transport
        ice = client_dtls.transport._connection  # the publisher's own ICE connection
        received = producer.packets
        # Not SRTP at all (fails authentication), and an RTCP-looking one.
        for junk in (b"\x80\x6f" + bytes(40), b"\x80\xc8" + bytes(40), b"\x90" + bytes(3)):
            await ice.send(junk)
        # Encrypted by the publisher's real SRTP session, on SSRCs of its own
        # (junk on the producer's SSRC would also move SRTP's replay window
        # under the real stream): an extension element longer than its block
        # with a MID the server has to look up, padding longer than the
        # packet, a header with nothing after it.
        for n, junk in enumerate((b"\xbe\xde\x00\x01\x1f\x01\x02\x03", b"", b"\x00\xff")):
            b0 = 0x90 if junk.startswith(b"\xbe\xde") else 0xA0 if junk else 0x80
            header = bytes([b0, 0x6F]) + n.to_bytes(2, "big") + bytes(4) + (0x1234_5670 + n).to_bytes(4, "big")
            await ice.send(client_dtls._tx_srtp.protect(header + junk))
        await wait_for(lambda: producer.packets > received + 20, 5, "audio still flowing")
        # The junk was dropped where it should be, not by an exception handler,
        # and none of it went aiortc's slow way.
        assert transport.malformed == 0 and transport.slow_path_packets == 0
        assert producer.packets > received + 20
    finally:
        await pub.close()


async def test_silent_participant_is_dropped_on_consent_failure(service: MediaService, monkeypatch) -> None:
    """A client that vanishes without a DTLS close (network gone, process
    killed) is found by ICE consent checks; nothing of it may remain."""
    import aioice.ice

    # Real consent checks, shortened from 5 s x 6 to keep the test fast.
    monkeypatch.setattr(aioice.ice, "CONSENT_INTERVAL", 0.3)
    monkeypatch.setattr(aioice.ice, "CONSENT_FAILURES", 3)
    pub = Publisher(service, "gone", "alice")
    pub.add(MovingVideo())
    await pub.publish()
    sub = Subscriber(service, "gone", "bob")
    try:
        await sub.subscribe("all")
        await wait_for(lambda: sub.frames["video"] >= 5, 15, "frames")
        assert service.stats()["transports"] == 2
        # The subscriber's network disappears: its ICE sockets close, no DTLS alert.
        await sub.pc.getTransceivers()[0].receiver.transport.transport.stop()
        await wait_for(lambda: service.stats()["participants"] == 1, 15, "silent subscriber dropped")
        stats = service.stats()
        assert stats["transports"] == 1 and stats["consumers"] == 0 and stats["producers"] == 1
        await pub.pc.getTransceivers()[0].receiver.transport.transport.stop()
        await wait_for(lambda: service.stats()["participants"] == 0, 15, "silent publisher dropped")
        await wait_for(lambda: service.stats()["tasks"] == 0, 5, "no tasks left")
        assert service.stats()["transports"] == 0 and service.stats()["routers"] == 0
    finally:
        await sub.close()
        await pub.close()


async def test_offer_without_ssrc_lines_is_routed_by_mid(service: MediaService) -> None:
    """Some clients announce no a=ssrc: the SFU binds SSRCs by the MID
    header extension of the first packets."""
    pub = Publisher(service, "nossrc", "alice")
    pub.add(MovingVideo())
    pub.add(Tone())
    await pub.pc.setLocalDescription(await pub.pc.createOffer())
    offer = "\r\n".join(
        line for line in pub.pc.localDescription.sdp.split("\r\n") if not line.startswith(("a=ssrc:", "a=ssrc-group:"))
    )
    answer = await service.publish("nossrc", "alice", offer)
    await pub.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    sub = Subscriber(service, "nossrc", "bob")
    try:
        await sub.subscribe("all")
        await wait_for(lambda: sub.frames["video"] >= 10 and sub.frames["audio"] >= 10, 15, "media via MID")
        assert all(p.ssrc is not None for p in service.router("nossrc").producers.values())
    finally:
        await sub.close()
        await pub.close()
