"""Weak links: stop forwarding video to a subscriber whose downlink cannot
carry it, keep its audio, resume video (from a keyframe) when it recovers.

One `Downlink` per subscriber receive transport (consumers that share
`Consumer.downlink`), a hysteresis state machine fed once a second by the
router's tick (`DownlinkMonitor.update`) with what the subscriber reports:

- loss: `fraction_lost` of the receiver reports that arrived since the last
  update, for the consumers that actually sent packets meanwhile (a stream
  with nothing sent reports 0 and says nothing about the link), the worst
  one.  Suspend when the median of the last `SAMPLES` is above
  `LOSS_SUSPEND` (one bad second is not enough).
- bandwidth: the subscriber's REMB estimate (a REMB naming several SSRCs is
  one estimate for the link; separate REMBs, as aiortc sends per stream,
  add up) against what the streams it names need: an audio stream as
  published, a video stream its rate up to `VIDEO_MIN_BPS`; short when
  under `SHORT` of that (a delay-based estimator dips below the rate it
  receives at every overuse it detects).  Above that floor the
  router's REMB already brings the publisher down to the slowest
  subscriber; below it video cannot usefully be sent, so it pauses (and
  that subscriber no longer holds the publisher down).  Suspend when the
  last `SAMPLES` estimates were all short.  A receiver's estimator starts
  low after silence, so estimates made within `ESTIMATE_GRACE` of video
  (re)starting are not counted.

Suspending pauses every video consumer of the transport through the
consumer's own pause (`Consumer.suspend`): it leaves the compiled fan-out
table like any paused consumer, so the per-packet path is unchanged.  Audio
consumers are never touched.  While suspended, the audio's receiver reports
still measure the link; `RESUME_AFTER` seconds after the first good report
with no bad one since (loss under `LOSS_GOOD`, no fresh estimate below the
need) video resumes:
`Consumer.unsuspend` restarts a segment, which holds the video until a
keyframe and asks the publisher for one, so the subscriber's decoder starts
clean.  Resuming is also the probe: if the link fails again within
`FLAP_WINDOW`, the next wait doubles (up to `RESUME_AFTER_MAX`), and falls
back to `RESUME_AFTER` once video has stayed up for `STABLE_AFTER`.

Nothing here runs per packet; the router owns one `DownlinkMonitor`."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from statistics import median
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .consumer import Consumer
    from .producer import Producer

LOSS_SUSPEND = 0.10  # median loss above this over SAMPLES reports: suspend
LOSS_GOOD = 0.05  # a report below this counts towards resuming
SAMPLES = 3  # updates (about 1 s each) a verdict needs
VIDEO_MIN_BPS = 150_000  # the least a video stream is sent at (the router's REMB_MIN)
ESTIMATE_MAX_AGE = 3.0  # s: an older REMB says nothing about the link now
ESTIMATE_GRACE = 3.0  # s after video (re)starts before its estimate counts
SHORT = 0.75  # an estimate under this share of the need is short (estimators dip)
RESUME_AFTER = 3.0  # s of good reports before video is tried again
RESUME_AFTER_MAX = 30.0
FLAP_WINDOW = 15.0  # s: suspended again this soon after resuming doubles the wait
STABLE_AFTER = 30.0  # s of video up: the wait falls back to RESUME_AFTER

LOSS = "loss"
BANDWIDTH = "bandwidth"


class Downlink:
    """One subscriber transport's video verdict."""

    def __init__(self, key: str, now: float) -> None:
        self.key = key
        self.reason: str | None = None  # None: video flows; else why it is suspended
        self.suspensions = 0
        self.resume_after = RESUME_AFTER
        self._loss: deque[float] = deque(maxlen=SAMPLES)
        self._short: deque[bool] = deque(maxlen=SAMPLES)
        self._good_since: float | None = None
        self._changed_at = now  # reports older than this describe another state
        self._resumed_at: float | None = None
        self._last_update = now
        self._sent: dict[str, int] = {}  # consumer id -> packets at the last update
        # what the last update saw, for stats and tests
        self.last_loss: float | None = None
        self.last_estimate: int | None = None
        self.last_need = 0

    @property
    def suspended(self) -> bool:
        return self.reason is not None

    def update(self, consumers: list[Consumer], rates: dict[str, int], now: float) -> None:
        since = max(self._last_update, self._changed_at)
        self._last_update = now
        sent, self._sent = self._sent, {c.id: c.packets for c in consumers}

        # Loss: fresh reports about streams that carried packets meanwhile.
        alive = False
        loss: float | None = None
        for c in consumers:
            if c.rr_mono <= since:
                continue
            alive = True
            if c.packets > sent.get(c.id, c.packets) and not c.paused:
                fraction = c.fraction_lost / 256
                loss = fraction if loss is None else max(loss, fraction)

        # Bandwidth: the fresh estimate against what the streams it names
        # need (aiortc's REMB names its video stream only, Chromium's may
        # name the audio too).
        estimates: set[tuple[float, int]] = set()
        need = 0
        for c in consumers:
            if (
                c.remb_bps is not None
                and now - c.remb_mono < ESTIMATE_MAX_AGE
                and c.remb_mono > self._changed_at + ESTIMATE_GRACE
            ):
                estimates.add((c.remb_mono, c.remb_bps))
                rate = rates.get(c.producer.id, 0)
                need += rate if c.kind == "audio" else min(rate, VIDEO_MIN_BPS)
        estimate = sum(bps for _, bps in estimates) if estimates else None
        short = estimate is not None and estimate < need * SHORT
        self.last_loss, self.last_estimate, self.last_need = loss, estimate, need

        video = [c for c in consumers if c.kind == "video"]
        if self.reason is None:
            if self._resumed_at is not None and now - self._resumed_at >= STABLE_AFTER:
                self.resume_after = RESUME_AFTER
            if loss is not None:
                self._loss.append(loss)
            if estimate is not None:
                self._short.append(short)
            if not video:
                return
            if len(self._loss) == SAMPLES and median(self._loss) > LOSS_SUSPEND:
                self._suspend(video, LOSS, now)
            elif len(self._short) == SAMPLES and all(self._short):
                self._suspend(video, BANDWIDTH, now)
            return

        # Suspended: video that joined the transport meanwhile waits too.
        for c in video:
            if c.suspended is None:
                c.suspend(self.reason)
        if (loss is not None and loss >= LOSS_GOOD) or short:
            self._good_since = None
            return
        # Reports come every 0.5-1.5 s, so a second without one is neither
        # good nor bad; the wait starts at the first good one.
        if alive and self._good_since is None:
            self._good_since = now
        if self._good_since is not None and now - self._good_since >= self.resume_after:
            self._resume(video, now)

    def _suspend(self, video: list[Consumer], reason: str, now: float) -> None:
        if self._resumed_at is not None and now - self._resumed_at < FLAP_WINDOW:
            self.resume_after = min(self.resume_after * 2, RESUME_AFTER_MAX)
        self.reason = reason
        self.suspensions += 1
        self._reset(now)
        for c in video:
            c.suspend(reason)

    def _resume(self, video: list[Consumer], now: float) -> None:
        self.reason = None
        self._resumed_at = now
        self._reset(now)
        for c in video:
            c.unsuspend()  # holds for a keyframe and asks the publisher for one

    def _reset(self, now: float) -> None:
        self._changed_at = now
        self._good_since = None
        self._loss.clear()
        self._short.clear()

    def release(self, consumers: Iterable[Consumer]) -> None:
        """The monitor stops watching (turned off): let the video go."""
        for c in consumers:
            if c.suspended is not None:
                c.unsuspend()
        self.reason = None

    def stats(self) -> dict:
        return {
            "video_suspended": self.suspended,
            "reason": self.reason,
            "suspensions": self.suspensions,
            "resume_after": self.resume_after,
            "loss": self.last_loss,
            "estimate_bps": self.last_estimate,
            "need_bps": self.last_need,
        }


class DownlinkMonitor:
    """A router's downlinks, keyed by `Consumer.downlink` (consumers without
    one, e.g. pipes to other services, are left alone), and the publishers'
    bitrates they are compared against."""

    def __init__(self) -> None:
        self.enabled = True
        self.links: dict[str, Downlink] = {}
        self._octets: dict[str, tuple[int, float]] = {}
        self.rates: dict[str, int] = {}  # producer id -> bit/s as received

    def update(self, producers: Iterable[Producer], consumers: Iterable[Consumer], now: float) -> None:
        rates: dict[str, int] = {}
        octets: dict[str, tuple[int, float]] = {}
        for p in producers:
            octets[p.id] = (p.octets, now)
            prev = self._octets.get(p.id)
            if prev is not None and now > prev[1]:
                rates[p.id] = int((p.octets - prev[0]) * 8 / (now - prev[1]))
        self._octets, self.rates = octets, rates

        groups: dict[str, list[Consumer]] = {}
        for c in consumers:
            if c.downlink is not None and not c.closed:
                groups.setdefault(c.downlink, []).append(c)
        if not self.enabled:
            for key, link in self.links.items():
                link.release(groups.get(key, []))
            self.links.clear()
            return
        for key in [k for k in self.links if k not in groups]:
            del self.links[key]
        for key, group in groups.items():
            link = self.links.get(key)
            if link is None:
                link = self.links[key] = Downlink(key, now)
            link.update(group, rates, now)

    def stats(self) -> dict[str, dict]:
        return {key: link.stats() for key, link in self.links.items()}
