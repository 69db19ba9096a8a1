"""Weak links (issue 13, item 4, SFU side): loss on one subscriber's
downlink pauses its video, keeps its audio, leaves the others alone, and
video comes back from a keyframe once the link recovers.  Real aiortc peers;
the loss is made at the weak subscriber's socket (its ICE connection drops
incoming RTP), so the subscriber's own receiver reports tell the SFU."""

from __future__ import annotations

import random
from collections.abc import Callable

from media import aiortc_hooks as hooks
from media.consumer import Consumer
from media.downlink import BANDWIDTH, LOSS, Downlink
from media.service import MediaService
from tests.media.media_testkit import MovingVideo, Publisher, Subscriber, Tone, wait_for


class LossyDownlink:
    """Drops a share of the RTP datagrams reaching an aiortc peer (after its
    socket, before SRTP); RTCP, DTLS and STUN pass, as on a congested link
    that mostly loses the big media packets."""

    def __init__(self, sub: Subscriber, seed: int = 13) -> None:
        dtls = hooks.pc_dtls_transport(sub.pc)
        assert dtls is not None
        connection = dtls._transport._connection
        original: Callable[[bytes, int], None] = connection.data_received
        self.rate = 0.0
        self.dropped = 0
        rng = random.Random(seed)

        def data_received(data: bytes, component: int) -> None:
            if self.rate and len(data) > 1 and 127 < data[0] < 192 and not 192 <= data[1] <= 223:
                if rng.random() < self.rate:
                    self.dropped += 1
                    return
            original(data, component)

        connection.data_received = data_received


def _consumers(service: MediaService, meeting: str, pid: str) -> dict[str, Consumer]:
    return {c.kind: c for c in service.router(meeting).consumers.values() if c.participant_id == pid}


async def test_loss_pauses_video_keeps_audio_and_resumes_from_a_keyframe(service: MediaService) -> None:
    pub = Publisher(service, "weak", "speaker")
    pub.add(MovingVideo())
    pub.add(Tone())
    await pub.publish()
    weak = Subscriber(service, "weak", "station")
    fine = Subscriber(service, "weak", "office")
    try:
        for sub in (weak, fine):
            await sub.subscribe("all")
        await wait_for(
            lambda: all(s.frames["video"] >= 15 and s.frames["audio"] >= 25 for s in (weak, fine)), 15, "both decode"
        )
        router = service.router("weak")
        mine, theirs = _consumers(service, "weak", "station"), _consumers(service, "weak", "office")
        video, audio = mine["video"], mine["audio"]
        assert video.downlink == "station" and service.stats()["video_suspended"] == 0

        # 30% of the media towards the station is lost.
        lossy = LossyDownlink(weak)
        lossy.rate = 0.3
        await wait_for(lambda: video.suspended is not None, 12, "the station's video suspended")
        stats = video.stats()
        assert stats["video_suspended"] and stats["suspend_reason"] == LOSS
        assert router.downlinks.stats()["station"]["reason"] == LOSS
        assert audio.suspended is None and not audio.paused  # audio is never touched
        assert all(c.suspended is None for c in theirs.values())
        assert service.stats()["video_suspended"] == router.stats()["video_suspended"] == 1
        assert not video.steady  # out of the compiled fan-out, like any paused consumer

        # Still lossy: no video goes out, audio keeps decoding, the office is unaffected.
        sent, heard, seen = video.packets, weak.frames["audio"], fine.frames["video"]
        await wait_for(
            lambda: weak.frames["audio"] >= heard + 40 and fine.frames["video"] >= seen + 30,
            10,
            "station audio and office video go on",
        )
        assert video.packets == sent and video.suspended == LOSS
        assert lossy.dropped > 0

        # The link recovers: video resumes, and the first packet forwarded starts a keyframe.
        first: list[bool] = []
        forward = video.forward

        def watch(buf, marker, seq, ts, plen, keyframe, now_ms) -> None:  # type: ignore[no-untyped-def]
            before = video.packets
            forward(buf, marker, seq, ts, plen, keyframe, now_ms)
            if video.packets > before and not first:
                first.append(keyframe)

        video.forward = watch  # type: ignore[method-assign]
        lossy.rate = 0.0
        await wait_for(lambda: video.suspended is None, 15, "the station's video resumed")
        decoded = weak.frames["video"]
        # aiortc's jitter buffer may still hold a hole from the lossy seconds
        # before the pause, which it gives up on only after 256 more packets.
        await wait_for(lambda: weak.frames["video"] >= decoded + 15, 15, "the station decodes video again")
        assert first == [True]
        assert service.stats()["video_suspended"] == 0
        assert not video.stats()["video_suspended"] and video.packets > sent
        assert router.downlinks.stats()["station"]["suspensions"] == 1
    finally:
        for sub in (weak, fine):
            await sub.close()
        await pub.close()


# -- the state machine alone ----------------------------------------------------


class _Producer:
    def __init__(self, pid: str) -> None:
        self.id = pid


class _Consumer:
    """What Downlink reads of a Consumer, and the two calls it makes."""

    def __init__(self, kind: str) -> None:
        self.id = kind
        self.kind = kind
        self.producer = _Producer(f"p-{kind}")
        self.packets = 0
        self.paused = False
        self.suspended: str | None = None
        self.fraction_lost = 0
        self.rr_mono = 0.0
        self.remb_bps: int | None = None
        self.remb_mono = 0.0
        self.resumes = 0

    def suspend(self, reason: str) -> None:
        self.suspended, self.paused = reason, True

    def unsuspend(self) -> None:
        if self.suspended is not None:
            self.suspended, self.paused = None, False
            self.resumes += 1


def _run(link: Downlink, consumers: list[_Consumer], t: float, *, loss: float = 0.0, remb: int | None = None) -> None:
    """One second: packets flow (not to paused consumers), each reports."""
    for c in consumers:
        if not c.paused:
            c.packets += 50
        c.fraction_lost = int(loss * 256) if not c.paused else 0
        c.rr_mono = t - 0.1
        if remb is not None and c.kind == "video" and not c.paused:
            c.remb_bps, c.remb_mono = remb, t - 0.1
    link.update(consumers, {"p-audio": 40_000, "p-video": 800_000}, t)  # type: ignore[arg-type]


def test_one_bad_second_is_not_enough_and_backoff_doubles_on_flapping() -> None:
    video, audio = _Consumer("video"), _Consumer("audio")
    both = [video, audio]
    link = Downlink("x", 0.0)
    t = 0.0
    for loss in (0.0, 0.5, 0.0, 0.0, 0.5, 0.0):  # isolated bad seconds
        t += 1
        _run(link, both, t, loss=loss)
    assert video.suspended is None
    for _ in range(3):
        t += 1
        _run(link, both, t, loss=0.2)
    assert video.suspended == LOSS and audio.suspended is None and not audio.paused
    # Good reports for less than RESUME_AFTER: still suspended; a bad one restarts the wait.
    for loss in (0.0, 0.0, 0.3, 0.0, 0.0, 0.0):
        t += 1
        _run(link, both, t, loss=loss)
    assert video.suspended == LOSS
    t += 1
    _run(link, both, t)
    assert video.suspended is None and video.resumes == 1
    # Bad again right after resuming: the next wait is twice as long.
    for _ in range(3):
        t += 1
        _run(link, both, t, loss=0.2)
    assert video.suspended == LOSS and link.resume_after == 6.0
    for _ in range(6):
        t += 1
        _run(link, both, t)
    assert video.suspended == LOSS
    t += 1
    _run(link, both, t)
    assert video.suspended is None and video.resumes == 2


def test_an_estimate_below_what_video_needs_suspends_it() -> None:
    video, audio = _Consumer("video"), _Consumer("audio")
    link = Downlink("x", 0.0)
    t = 0.0
    for _ in range(6):  # 500 kbit/s: the publisher is brought down to it, video goes on
        t += 1
        _run(link, [video, audio], t, remb=500_000)
    assert video.suspended is None and link.stats()["estimate_bps"] == 500_000
    for _ in range(3):  # under 3/4 of the 150 kbit/s floor (the REMB names the video only)
        t += 1
        _run(link, [video, audio], t, remb=100_000)
    assert video.suspended == BANDWIDTH and audio.suspended is None
    assert link.stats()["need_bps"] == 150_000 and link.stats()["estimate_bps"] == 100_000
    t += 1
    _run(link, [video, audio], t, remb=100_000)  # no video, no fresh estimate: nothing to hold it back
    assert link.stats()["estimate_bps"] is None and video.suspended == BANDWIDTH
