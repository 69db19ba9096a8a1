"""Pipes between MediaService instances (media/pipe.py): several services in
one test process, joined over 127.0.0.1 exactly as separate processes or
machines would be, with real aiortc publishers and subscribers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable

import pytest

from media import aiortc_hooks
from media.pipe_wire import APP_KEEPALIVE, PipedProducer, PipeInfo, app_packet, parse_app, unpack_ssrcs
from media.service import MediaService
from tests.media.media_testkit import MovingVideo, Publisher, Subscriber, Tone, wait_for

M = "meeting"


class Services:
    """Makes MediaService instances and closes them; records what the
    signalling layer would be told."""

    def __init__(self) -> None:
        self.made: list[MediaService] = []
        self.tracks_changed: dict[str, list[str]] = {}
        self.pipes_closed: dict[str, list[tuple[str, str, str]]] = {}
        # (service name, participant id) -> subscriber that takes server offers
        self.subscribers: dict[tuple[str, str], Subscriber] = {}
        self._offers: set[asyncio.Task[None]] = set()

    def new(self, name: str, **options) -> MediaService:
        changed = self.tracks_changed.setdefault(name, [])
        closed = self.pipes_closed.setdefault(name, [])

        async def on_tracks_changed(meeting_id: str) -> None:
            changed.append(meeting_id)

        async def on_pipe_closed(meeting_id: str, remote_key: str, reason: str) -> None:
            closed.append((meeting_id, remote_key, reason))

        async def on_offer(meeting_id: str, participant_id: str, connection_id: str, sdp: str) -> None:
            sub = self.subscribers.get((name, participant_id))
            if sub is not None:  # delivered as the signalling layer would, later
                task = asyncio.get_running_loop().create_task(sub.apply_offer(sdp))
                self._offers.add(task)
                task.add_done_callback(self._offers.discard)

        service = MediaService(
            ice_servers=[],
            allow_loopback=True,
            on_tracks_changed=on_tracks_changed,
            on_pipe_closed=on_pipe_closed,
            on_offer=on_offer,
            **options,
        )
        self.made.append(service)
        return service


@pytest.fixture
async def services() -> AsyncIterator[Services]:
    made = Services()
    yield made
    for service in made.made:
        await service.close()
    aiortc_hooks.disable_loopback_candidates()


def _wire(data):
    """What crosses Redis: JSON."""
    return json.loads(json.dumps(data.to_dict()))


async def join(a: MediaService, a_key: str, b: MediaService, b_key: str, meeting: str = M) -> None:
    """What the signalling layer does to pipe two services for a meeting."""
    info_a = await a.open_pipe(meeting, b_key)
    info_b = await b.open_pipe(meeting, a_key)
    await a.connect_pipe(meeting, b_key, _wire(info_b))
    await b.connect_pipe(meeting, a_key, _wire(info_a))


async def pipe_tracks(src: MediaService, src_key: str, dst: MediaService, dst_key: str, meeting: str = M) -> None:
    for track in src.tracks(meeting):
        params = src.pipe_producer_out(meeting, dst_key, track.id)
        await dst.pipe_producer_in(meeting, src_key, _wire(params))


async def publish_av(service: MediaService, pid: str = "alice") -> Publisher:
    pub = Publisher(service, M, pid)
    pub.add(MovingVideo())
    pub.add(Tone())
    await pub.publish()
    return pub


def decoding(subs: list[Subscriber], video: int = 30, audio: int = 40) -> Callable[[], bool]:
    return lambda: all(s.frames["video"] >= video and s.frames["audio"] >= audio for s in subs)


async def test_two_services_forward_video_and_audio_over_a_pipe(services: Services) -> None:
    a, b = services.new("A"), services.new("B")
    pub = await publish_av(a)
    sub = Subscriber(b, M, "bob")
    try:
        await join(a, "A", b, "B")
        await pipe_tracks(a, "A", b, "B")
        # B lists the piped tracks exactly as A does: same ids, participant, kind, source.
        assert sorted(b.tracks(M), key=lambda t: t.id) == sorted(a.tracks(M), key=lambda t: t.id)
        assert services.tracks_changed["B"]
        await sub.subscribe("all")
        await wait_for(decoding([sub]), 30, "video and audio decoded on B")
        assert set(sub.frames_by_track) == {t.id for t in a.tracks(M)}
        stats_a, stats_b = a.stats(), b.stats()
        assert stats_a["pipes"] == stats_b["pipes"] == 1
        assert stats_a["pipe_consumers"] == 2 and stats_b["pipe_producers"] == 2
        assert a.pipe_consumer_counts(M) == {t.id: 1 for t in a.tracks(M)}
        (pipe_b,) = b.pipes(M)
        assert pipe_b["srtp"] and pipe_b["packets_in"] > 0 and pipe_b["malformed"] == 0
        assert pipe_b["unknown_ssrc"] == 0 or pipe_b["packets_in"] > 10 * pipe_b["unknown_ssrc"]
        # With SRTP, steady pipe consumers are sent by the compiled fan-out.
        router_a = a.router(M)
        assert router_a is not None
        assert all(c.steady for c in router_a.consumers.values())
    finally:
        await sub.close()
        await pub.close()


async def test_a_producer_is_piped_once_per_remote_service_not_per_subscriber(services: Services) -> None:
    a, b, c = services.new("A"), services.new("B"), services.new("C")
    pub = await publish_av(a)
    subs = [Subscriber(b, M, "bob"), Subscriber(b, M, "bea"), Subscriber(c, M, "carl")]
    try:
        await join(a, "A", b, "B")
        await join(a, "A", c, "C")
        # A naive signalling layer asks once per subscriber: still one pipe
        # consumer per producer and remote service.
        for sub in subs:
            dst, key = (b, "B") if sub.service is b else (c, "C")
            await pipe_tracks(a, "A", dst, key)
            await sub.subscribe("all")
        await wait_for(decoding(subs), 40, "every subscriber on B and C decodes")
        ids = {t.id for t in a.tracks(M)}
        assert a.pipe_consumer_counts(M) == dict.fromkeys(ids, 2)  # B and C, not 3 subscribers
        router_a = a.router(M)
        assert router_a is not None
        assert all(len(p.consumers) == 2 for p in router_a.producers.values())
        assert a.stats()["pipes"] == 2 and a.stats()["pipe_consumers"] == 4
        assert b.stats()["pipe_producers"] == 2 and c.stats()["pipe_producers"] == 2
        # B fans out to its own two subscribers from its pipe producers.
        router_b = b.router(M)
        assert router_b is not None
        assert all(len(p.consumers) == 2 for p in router_b.producers.values())
    finally:
        for sub in subs:
            await sub.close()
        await pub.close()


async def test_late_subscriber_on_the_far_side_gets_a_keyframe_through_the_pipe(services: Services) -> None:
    a, b = services.new("A"), services.new("B")
    pub = Publisher(a, M, "alice")
    pub.add(MovingVideo())
    await pub.publish()
    early, late = Subscriber(b, M, "early"), Subscriber(b, M, "late")
    try:
        await join(a, "A", b, "B")
        await pipe_tracks(a, "A", b, "B")
        for service in (a, b):
            router = service.router(M)
            assert router is not None
            # A REMB change restarts aiortc's encoder, which would send a
            # keyframe by itself and hide a keyframe request that got lost.
            router.remb_enabled = False
        await early.subscribe("all")
        await wait_for(lambda: early.frames["video"] >= 10, 20, "early subscriber frames")
        # Let the stream run well past its keyframe (~3 s at 30 fps).
        await wait_for(lambda: early.frames["video"] >= 100, 20, "3 s of video")
        router_a = a.router(M)
        assert router_a is not None
        (pipe_consumer,) = router_a.consumers.values()
        (source,) = router_a.producers.values()
        plis_before, sent_before = pipe_consumer.plis_received, source.plis_sent
        await late.subscribe("all")
        await wait_for(lambda: late.connected_at is not None, 15, "late subscriber connected")
        await wait_for(lambda: "video" in late.first_frame, 5, "late subscriber's first frame")
        assert late.connected_at is not None
        delay = late.first_frame["video"] - late.connected_at
        assert delay < 2.5, f"first frame {delay:.2f}s after connection"
        # The keyframe request crossed the pipe and reached the publisher.
        assert pipe_consumer.plis_received > plis_before
        assert source.plis_sent > sent_before
    finally:
        await late.close()
        await early.close()
        await pub.close()


async def test_nacks_from_the_far_side_are_answered_from_the_source_cache(services: Services) -> None:
    a, b = services.new("A"), services.new("B")
    pub = Publisher(a, M, "alice")
    pub.add(MovingVideo())
    await pub.publish()
    sub = Subscriber(b, M, "bob")
    try:
        await join(a, "A", b, "B")
        await pipe_tracks(a, "A", b, "B")
        await sub.subscribe("all")
        await wait_for(lambda: sub.frames["video"] >= 5, 20, "frames")
        router_a, router_b = a.router(M), b.router(M)
        assert router_a is not None and router_b is not None
        (pipe_consumer,) = router_a.consumers.values()
        (pipe_producer,) = router_b.producers.values()
        # 5% loss on the pipe (dropped as if lost on the wire, after A counted them sent).
        pipe_consumer.drop_hook = lambda seq: seq % 20 == 7
        await wait_for(lambda: pipe_consumer.dropped >= 3, 10, "drops on the pipe")
        before = sub.frames["video"]
        started = asyncio.get_running_loop().time()
        await wait_for(lambda: sub.frames["video"] - before >= 60, 20, "frames despite loss on the pipe")
        elapsed = asyncio.get_running_loop().time() - started
        assert pipe_producer.nacks_sent > 0  # B saw the gaps and asked A
        assert pipe_consumer.nacks_received > 0 and pipe_consumer.retransmissions > 0  # A answered from its cache
        assert (sub.frames["video"] - before) / elapsed > 10
        (stats_b,) = b.pipes(M)
        assert stats_b["malformed"] == 0
    finally:
        await sub.close()
        await pub.close()


@pytest.mark.parametrize("dead", ["source", "destination"])
async def test_a_silent_far_end_is_declared_dead_and_everything_is_released(services: Services, dead: str) -> None:
    timing = {"pipe_keepalive_interval": 0.25, "pipe_dead_after": 1.5}
    a, b = services.new("A", **timing), services.new("B", **timing)
    pub = await publish_av(a)
    sub = Subscriber(b, M, "bob")
    try:
        await wait_for(lambda: a.stats()["tasks"] >= 1, 5, "A's router task")
        baseline_a = a.stats()
        await join(a, "A", b, "B")
        await pipe_tracks(a, "A", b, "B")
        await sub.subscribe("all")
        await wait_for(decoding([sub], 10, 10), 30, "decoding through the pipe")
        baseline_b = b.stats()
        pipe_a, pipe_b = a._pipes[(M, "B")], b._pipes[(M, "A")]
        assert a.stats()["tasks"] == baseline_a["tasks"] + 1  # the pipe's watchdog
        changed_before = len(services.tracks_changed["B"])
        # One end stops dead, as a crashed process or machine would: no goodbye.
        (pipe_a if dead == "source" else pipe_b).abort()
        survivor, pipe, name = (b, pipe_b, "B") if dead == "source" else (a, pipe_a, "A")
        await wait_for(lambda: survivor.stats()["pipes"] == 0, 10, "the surviving end tears the pipe down")
        assert services.pipes_closed[name] == [(M, "A" if name == "B" else "B", "timeout")]
        assert pipe.closed and pipe.task_count == 0 and pipe.link is None
        assert pipe._sock.fileno() == -1  # the socket is released
        if survivor is b:
            # Piped tracks vanish and the subscriber's consumers close, as
            # when a publisher leaves; the signalling layer hears of it.
            assert b.tracks(M) == []
            assert len(services.tracks_changed["B"]) > changed_before
            await wait_for(lambda: b.stats()["consumers"] == 0, 5, "B's consumers closed")
            stats = b.stats()
            assert stats["pipe_producers"] == 0
            assert stats["tasks"] <= baseline_b["tasks"] - 1
        else:
            # A detaches its pipe consumers; its publisher keeps publishing.
            stats = a.stats()
            assert stats["pipe_consumers"] == 0 and stats["consumers"] == 0
            assert stats["producers"] == 2
            await wait_for(lambda: a.stats()["tasks"] == baseline_a["tasks"], 5, "A's tasks back to before the pipe")
            router_a = a.router(M)
            assert router_a is not None and all(not p.consumers for p in router_a.producers.values())
    finally:
        await sub.close()
        await pub.close()


async def test_closing_one_end_says_goodbye_and_the_other_follows_at_once(services: Services) -> None:
    a, b = services.new("A"), services.new("B")  # default 5 s liveness: the goodbye must be what ends it
    pub = await publish_av(a)
    try:
        await join(a, "A", b, "B")
        await pipe_tracks(a, "A", b, "B")
        assert len(b.tracks(M)) == 2
        await a.close_pipe(M, "B")
        assert a.stats()["pipes"] == 0
        await wait_for(lambda: b.stats()["pipes"] == 0, 2, "B follows the goodbye")
        assert services.pipes_closed["B"] == [(M, "A", "goodbye")]
        assert b.tracks(M) == [] and b.router(M) is None  # nothing left to keep B's router
    finally:
        await pub.close()


@pytest.mark.parametrize("srtp", [True, False])
async def test_srtp_or_plain_rtp_is_a_setting(services: Services, srtp: bool) -> None:
    a, b = services.new("A", pipe_srtp=srtp), services.new("B", pipe_srtp=srtp)
    pub = Publisher(a, M, "alice")
    pub.add(MovingVideo())
    await pub.publish()
    sub = Subscriber(b, M, "bob")
    try:
        info = await a.open_pipe(M, "B")
        assert (info.srtp_key is not None) is srtp
        await join(a, "A", b, "B")
        await pipe_tracks(a, "A", b, "B")
        await sub.subscribe("all")
        await wait_for(lambda: sub.frames["video"] >= 30, 30, "video through the pipe")
        (stats_a,) = a.pipes(M)
        assert stats_a["srtp"] is srtp
        if not srtp:
            # Plain RTP has no SRTP session for the compiled fan-out: Python sends.
            assert stats_a["packets_out_python"] > 0
    finally:
        await sub.close()
        await pub.close()


async def test_both_ends_must_agree_on_srtp(services: Services) -> None:
    from media.service import MediaError

    a, b = services.new("A", pipe_srtp=True), services.new("B", pipe_srtp=False)
    info_a = await a.open_pipe(M, "B")
    info_b = await b.open_pipe(M, "A")
    with pytest.raises(MediaError) as err:
        await a.connect_pipe(M, "B", _wire(info_b))
    assert err.value.code == "invalid"
    with pytest.raises(MediaError):
        await b.connect_pipe(M, "A", _wire(info_a))
    await a.close_pipe(M, "B")
    await b.close_pipe(M, "A")
    assert a.stats()["pipes"] == b.stats()["pipes"] == 0


async def test_the_destination_floor_mutes_piped_audio_and_stops_it_crossing(services: Services) -> None:
    a, b = services.new("A"), services.new("B")
    pub = await publish_av(a, "alice")
    sub = Subscriber(b, M, "bob")
    try:
        await join(a, "A", b, "B")
        await pipe_tracks(a, "A", b, "B")
        await sub.subscribe("all")
        await wait_for(decoding([sub], 10, 20), 30, "decoding through the pipe")
        router_a, router_b = a.router(M), b.router(M)
        assert router_a is not None and router_b is not None
        audio_out = next(c for c in router_a.consumers.values() if c.kind == "audio")
        audio_in = next(p for p in router_b.producers.values() if p.kind == "audio")
        audio_sub = next(c for c in router_b.consumers.values() if c.kind == "audio")

        b.set_audio_allowlist(M, {"carol"})  # alice does not have the floor on B
        assert not audio_in.forwarding  # B applies its allowlist to pipe producers as to local ones
        await wait_for(lambda: audio_out.paused, 3, "A stops sending muted audio over the pipe")
        crossed, forwarded = audio_in.packets, audio_sub.packets
        video = sub.frames["video"]
        await wait_for(lambda: sub.frames["video"] >= video + 20, 10, "video goes on")
        assert audio_in.packets - crossed <= 2  # in flight when A paused
        assert audio_sub.packets == forwarded

        audio = sub.frames["audio"]
        b.set_audio_allowlist(M, None)
        await wait_for(lambda: not audio_out.paused, 3, "A resumes the audio")
        await wait_for(lambda: sub.frames["audio"] >= audio + 25, 10, "audio decodes again on B")
    finally:
        await sub.close()
        await pub.close()


def test_pipe_parameters_and_keepalives_are_plain_data() -> None:
    info = PipeInfo.from_dict({"host": "10.0.0.5", "port": 40000, "srtp_key": None, "srtp_profile": None})
    assert PipeInfo.from_dict(json.loads(json.dumps(info.to_dict()))) == info
    with pytest.raises(ValueError):
        PipeInfo.from_dict({"host": "10.0.0.5", "port": 0})
    with pytest.raises(ValueError):
        PipeInfo.from_dict({"host": "h", "port": 1, "srtp_key": "x", "srtp_profile": "AEAD_AES_256_GCM"})
    piped = PipedProducer(
        producer_id="p1", participant_id="alice", kind="video", source="camera", mime_type="video/VP8",
        clock_rate=90000, payload_type=97, ssrc=1234, nack=True,
    )
    assert PipedProducer.from_dict(json.loads(json.dumps(piped.to_dict()))) == piped
    with pytest.raises(ValueError):
        PipedProducer.from_dict({**piped.to_dict(), "ssrc": 0})
    packet = app_packet(APP_KEEPALIVE, 99, bytes.fromhex("0000000100000002"))
    assert len(packet) == 20 and packet[1] == 204
    parsed = parse_app(packet)
    assert parsed is not None and parsed[0] == APP_KEEPALIVE and unpack_ssrcs(parsed[1]) == {1, 2}


async def test_local_tracks_leave_out_what_came_through_a_pipe(services: Services) -> None:
    a, b = services.new("A"), services.new("B")
    pub_a = await publish_av(a, "alice")
    pub_b = Publisher(b, M, "bert")
    pub_b.add(MovingVideo())
    await pub_b.publish()
    try:
        await join(a, "A", b, "B")
        # Both directions share the one pipe of this router pair.
        await pipe_tracks(a, "A", b, "B")
        for track in b.tracks(M, local_only=True):
            await a.pipe_producer_in(M, "B", _wire(b.pipe_producer_out(M, "A", track.id)))
        assert a.stats()["pipes"] == b.stats()["pipes"] == 1
        assert {t.participant_id for t in b.tracks(M)} == {"alice", "bert"}
        assert {t.participant_id for t in b.tracks(M, local_only=True)} == {"bert"}
        assert {t.participant_id for t in a.tracks(M, local_only=True)} == {"alice"}
        from media.service import MediaError

        piped_in = next(t for t in b.tracks(M) if t.participant_id == "alice")
        with pytest.raises(MediaError):
            b.pipe_producer_out(M, "A", piped_in.id)  # back where it came from: refused
    finally:
        await pub_b.close()
        await pub_a.close()


async def test_a_publisher_leaving_the_source_removes_its_tracks_on_the_far_side(services: Services) -> None:
    a, b = services.new("A"), services.new("B")
    pub = await publish_av(a, "alice")
    sub = Subscriber(b, M, "bob")
    try:
        await join(a, "A", b, "B")
        await pipe_tracks(a, "A", b, "B")
        await sub.subscribe("all")
        await wait_for(decoding([sub], 5, 5), 30, "decoding through the pipe")
        changed = len(services.tracks_changed["B"])
        await a.unpublish(M, "alice")
        assert a.stats()["pipe_consumers"] == 0
        # The RTCP BYE for the pipe consumers' SSRCs closes B's pipe producers
        # without waiting for the signalling layer.
        await wait_for(lambda: b.tracks(M) == [], 5, "piped tracks gone on B")
        assert len(services.tracks_changed["B"]) > changed
        await wait_for(lambda: b.stats()["consumers"] == 0, 5, "B's consumers closed")
        assert b.stats()["pipes"] == 1  # the pipe itself stays for what comes next
    finally:
        await sub.close()
        await pub.close()


@pytest.mark.parametrize("srtp", [True, False])
async def test_a_nack_crosses_the_pipe_and_is_answered_from_the_source_cache(srtp: bool) -> None:
    """The NACK path alone, without aiortc: a packet the pipe consumer
    counts as sent but the wire loses is NACKed by the far pipe producer
    and resent from the source producer's cache, with the pipe's numbering."""
    from media.consumer import Consumer
    from media.pipe import PipeTransport
    from media.producer import Producer
    from tests.media.test_rtp_units import VP8_DELTA, VP8_KEY, rtp

    def producer(pid: str) -> Producer:
        return Producer(
            id=pid, participant_id="alice", kind="video", source="camera", mid=f"pipe:{pid}",
            mime_type="video/VP8", clock_rate=90000, payload_type=96, codec_parameters={},
            rtx_payload_type=None, nack=True, ext_remap=bytes(range(16)),
        )

    a = PipeTransport(meeting_id=M, remote_key="B", srtp=srtp)
    b = PipeTransport(meeting_id=M, remote_key="A", srtp=srtp)
    try:
        await a.connect(b.info)
        await b.connect(a.info)
        source, far = producer("src"), producer("src")
        source.ssrc = 1111
        out = Consumer(id="c", producer=source, participant_id="pipe:B", mid="pipe:src", ssrc=2222, rtx_ssrc=2223)
        out.configure(96, None, True)
        source.attach_consumer(out)
        a.add_consumer(out)
        b.add_producer(far, ssrc=2222)
        lost: list[int] = []

        def drop_once(seq: int) -> bool:
            if out.sync_seq is not None and seq == (out.sync_seq + 3) & 0xFFFF and not lost:
                lost.append(seq)
                return True
            return False

        out.drop_hook = drop_once
        for i in range(8):
            source.receive(rtp(100 + i, 1000 * i, VP8_KEY if i == 0 else VP8_DELTA, ssrc=1111), i)
        await wait_for(lambda: far.packets == 8, 5, "every packet, one of them resent")
        assert lost and far.nacks_sent >= 1
        assert out.nacks_received >= 1 and out.retransmissions == 1
        assert far.cached(lost[0]) is not None  # the hole is filled, in the pipe's numbering
    finally:
        a.close()
        b.close()


async def test_a_subscriber_to_all_is_offered_tracks_as_they_are_piped_in(services: Services) -> None:
    a, b = services.new("A"), services.new("B")
    sub = Subscriber(b, M, "bob")
    services.subscribers[("B", "bob")] = sub
    pub = None
    try:
        assert await sub.subscribe("all") is None  # nothing on B yet
        await join(a, "A", b, "B")
        pub = await publish_av(a)
        await pipe_tracks(a, "A", b, "B")  # B's router offers them to "all" subscribers
        await wait_for(decoding([sub], 20, 20), 30, "decoding tracks that arrived through the pipe")
    finally:
        await sub.close()
        if pub is not None:
            await pub.close()


async def test_with_srtp_only_authenticated_packets_keep_a_pipe_alive() -> None:
    from media.pipe import PipeTransport
    from tests.media.test_rtp_units import VP8_DELTA, rtp

    a = PipeTransport(meeting_id=M, remote_key="B", srtp=True, keepalive_interval=60, dead_after=60)
    b = PipeTransport(meeting_id=M, remote_key="A", srtp=True, keepalive_interval=60, dead_after=60)
    try:
        await a.connect(b.info)
        await b.connect(a.info)
        await wait_for(lambda: a.keepalives_in == 1, 5, "b's first keepalive")
        heard = a.last_heard
        b._sock.send(rtp(1, 0, VP8_DELTA))  # right address, no SRTP
        b._sock.send(bytes([0x80, 201, 0, 1, 0, 0, 0, 1]))  # a bare RR, no SRTCP
        await wait_for(lambda: a.rejected == 2, 5, "forged packets rejected")
        assert a.last_heard == heard and a.packets_in == 0 and a.rtcp_in == 1
    finally:
        a.close()
        b.close()
