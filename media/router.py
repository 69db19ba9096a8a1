"""A Router is one meeting's forwarding plane: its producers, their
consumers, floor control, active-speaker detection, and the periodic RTCP
work (keyframe retries, NACK retries, SR/RR/REMB) done by one tick task."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from . import rtcp
from .consumer import Consumer
from .downlink import DownlinkMonitor
from .producer import Producer
from .speaker import ActiveSpeakerDetector

logger = logging.getLogger(__name__)

TICK = 0.1  # s: NACK retries and keyframe retries need this granularity
REPORT_EVERY = 10  # ticks between SR/RR/REMB (1 s, RFC 3550 ballpark)
SPEAKER_EVERY = 2  # ticks between speaker decisions
REMB_MIN, REMB_MAX = 150_000, 3_000_000
REMB_DOWN, REMB_UP, REMB_UP_INTERVAL = 0.85, 1.25, 10.0
REMB_MAX_AGE = 5.0

_COUNTERS = (
    "packets_received", "packets_forwarded", "retransmissions", "nacks_received",
    "nacks_sent", "plis_received", "plis_sent", "keyframes",
)

SpeakerCallback = Callable[[str | None], Awaitable[None]]


class Router:
    def __init__(
        self,
        meeting_id: str,
        on_active_speaker: SpeakerCallback | None = None,
        floor_memory: dict[str, set[str]] | None = None,
    ) -> None:
        self.meeting_id = meeting_id
        self.producers: dict[str, Producer] = {}
        self.consumers: dict[str, Consumer] = {}
        # Allowlists outlive routers (a meeting whose media emptied and
        # refilled must not forget its floor control): the service shares
        # one dict between the routers it creates.
        self._floor_memory = floor_memory if floor_memory is not None else {}
        remembered = self._floor_memory.get(meeting_id)
        self._audio_allowlist: set[str] | None = None if remembered is None else set(remembered)
        self._on_active_speaker = on_active_speaker
        self._speaker = ActiveSpeakerDetector()
        self.active_speaker: str | None = None
        self._task: asyncio.Task[None] | None = None
        self._ticks = 0
        self.closed = False
        # Knob for benchmarks/tests: a REMB change makes aiortc's encoders
        # restart (and emit a keyframe), so a steady-rate run can turn it off.
        self.remb_enabled = True
        # Weak links: video paused for subscribers whose downlink cannot
        # carry it (media/downlink.py); `downlinks.enabled = False` turns it off.
        self.downlinks = DownlinkMonitor()
        # Counters of closed producers/consumers, so stats stay cumulative.
        self._retired: dict[str, int] = dict.fromkeys(_COUNTERS, 0)

    # -- producers / consumers ---------------------------------------------
    def add_producer(self, producer: Producer) -> None:
        producer.forwarding = self._allowed(producer)
        self.producers[producer.id] = producer
        self._ensure_task()

    def close_producer(self, producer_id: str) -> list[Consumer]:
        """Remove a producer and close its consumers; returns them so the
        caller can renegotiate the subscribers concerned."""
        producer = self.producers.pop(producer_id, None)
        if producer is None:
            return []
        closed = producer.consumers
        for consumer in closed:
            self.close_consumer(consumer.id)
        self._retire(self._producer_counters(producer))
        producer.close()
        self._speaker.forget(producer.participant_id)
        return closed

    # The router is the one place that links a consumer to its producer and
    # unlinks it (mediasoup's Router::OnTransportNewConsumer /
    # OnTransportConsumerClosed): a consumer joins or leaves a producer's
    # consumers only through these three.  While linked, it moves itself
    # between the producer's compiled table and its Python list as it
    # becomes steady or not (Consumer._steady_changed -> Producer.regroup).
    def add_consumer(self, consumer: Consumer) -> None:
        self.consumers[consumer.id] = consumer
        consumer.producer.attach_consumer(consumer)

    def close_consumer(self, consumer_id: str) -> None:
        consumer = self.consumers.pop(consumer_id, None)
        if consumer is not None:
            self._retire(self._consumer_counters(consumer))
            consumer.close()
            consumer.producer.detach_consumer(consumer)

    def switch_consumer(self, consumer: Consumer, producer: Producer) -> None:
        """Feed an existing consumer from another producer of the same kind
        and codec; the subscriber sees the same SSRC continue."""
        if producer.kind != consumer.kind or producer.mime_type != consumer.producer.mime_type:
            raise ValueError("can only switch between producers of the same kind and codec")
        old = consumer.producer
        consumer.set_producer(producer)
        old.detach_consumer(consumer)
        producer.attach_consumer(consumer)
        consumer.resync()

    # -- floor control ---------------------------------------------------------
    def set_audio_allowlist(self, participant_ids: set[str] | None) -> None:
        """Only audio producers of these participants reach consumers
        (None = everyone).  Consumers that regain audio resync so their
        stream continues without a sequence gap."""
        self._audio_allowlist = None if participant_ids is None else set(participant_ids)
        if self._audio_allowlist is None:
            self._floor_memory.pop(self.meeting_id, None)
        else:
            self._floor_memory[self.meeting_id] = set(self._audio_allowlist)
        for producer in self.producers.values():
            allowed = self._allowed(producer)
            if allowed and not producer.forwarding:
                for consumer in producer.consumers:
                    consumer.resync()
            producer.forwarding = allowed

    @property
    def audio_allowlist(self) -> set[str] | None:
        return None if self._audio_allowlist is None else set(self._audio_allowlist)

    def _allowed(self, producer: Producer) -> bool:
        return (
            producer.kind != "audio"
            or self._audio_allowlist is None
            or producer.participant_id in self._audio_allowlist
        )

    # -- periodic work -----------------------------------------------------------
    def _ensure_task(self) -> None:
        if self._task is None and not self.closed:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"router-{self.meeting_id}")

    @property
    def task_count(self) -> int:
        return 0 if self._task is None or self._task.done() else 1

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(TICK)
            self._ticks += 1
            try:
                self.tick()
                if self._ticks % SPEAKER_EVERY == 0:
                    await self._detect_speaker()
            except Exception:  # never let one bad packet/stat kill the meeting
                logger.exception("router %s tick failed", self.meeting_id)

    def tick(self) -> None:
        now_ms = int(time.monotonic() * 1000)
        now = time.monotonic()
        report = self._ticks % REPORT_EVERY == 0
        for producer in self.producers.values():
            producer.retry_nacks(now_ms)
            if producer.waiting_keyframe:
                # Retried until it arrives; throttled inside to 1/s.
                producer.request_keyframe()
            if report:
                self._report_upstream(producer, now)
        if report:
            for consumer in self.consumers.values():
                if consumer.rtcp_out is not None and consumer.active:
                    sr = consumer.sender_report(now)
                    if sr is not None:
                        consumer.rtcp_out(sr)
            self.downlinks.update(self.producers.values(), self.consumers.values(), now)

    def _report_upstream(self, producer: Producer, now: float) -> None:
        if producer.rtcp_out is None:
            return
        info = producer.receiver_info()
        if info is not None:
            producer.rtcp_out(rtcp.receiver_report(producer.rtcp_ssrc, [info]))
        if self.remb_enabled and producer.kind == "video" and producer.ssrc is not None:
            bitrate = self._remb_target(producer, now)
            if bitrate is not None:
                producer.rtcp_out(rtcp.remb(producer.rtcp_ssrc, bitrate, [producer.ssrc]))

    @staticmethod
    def _remb_target(producer: Producer, now: float) -> int | None:
        """What the publisher should send: its slowest subscriber's estimate,
        clamped, with hysteresis (a subscriber whose video is suspended for
        a weak downlink does not hold everyone else down).  Down moves are followed at once
        (congestion); up moves only when large and at most every
        REMB_UP_INTERVAL, because every bitrate change restarts aiortc's
        encoder, i.e. costs a keyframe.  No estimate yet: say nothing and let
        the publisher's own controller decide."""
        estimates = [
            c.remb_bps
            for c in producer.consumers
            if c.remb_bps is not None and now - c.remb_mono < REMB_MAX_AGE and c.suspended is None
        ]
        last = producer.remb_bps
        if not estimates:
            return last
        target = max(REMB_MIN, min(REMB_MAX, min(estimates)))
        if last is None or target < last * REMB_DOWN:
            producer.remb_bps, producer.remb_changed = target, now
        elif target > last * REMB_UP and now - producer.remb_changed >= REMB_UP_INTERVAL:
            producer.remb_bps, producer.remb_changed = target, now
        return producer.remb_bps

    async def _detect_speaker(self) -> None:
        levels: dict[str, int] = {}
        for producer in self.producers.values():
            if producer.kind != "audio":
                continue
            if producer.level_count and producer.forwarding:
                level = producer.level_sum // producer.level_count
                prev = levels.get(producer.participant_id)
                levels[producer.participant_id] = level if prev is None else min(prev, level)
            producer.level_sum = producer.level_count = 0
        speaker = self._speaker.update(levels)
        if speaker != self.active_speaker:
            self.active_speaker = speaker
            if self._on_active_speaker is not None:
                try:
                    await self._on_active_speaker(speaker)
                except Exception:
                    logger.exception("active speaker callback failed")

    # -- teardown / stats ------------------------------------------------------
    async def close(self) -> None:
        self.closed = True
        for producer_id in list(self.producers):
            self.close_producer(producer_id)
        for consumer_id in list(self.consumers):
            self.close_consumer(consumer_id)
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    @staticmethod
    def _producer_counters(p: Producer) -> dict[str, int]:
        return {"packets_received": p.packets, "nacks_sent": p.nacks_sent, "plis_sent": p.plis_sent, "keyframes": p.keyframes}

    @staticmethod
    def _consumer_counters(c: Consumer) -> dict[str, int]:
        return {
            "packets_forwarded": c.packets,
            "retransmissions": c.retransmissions,
            "nacks_received": c.nacks_received,
            "plis_received": c.plis_received,
        }

    def _retire(self, counters: dict[str, int]) -> None:
        for key, value in counters.items():
            self._retired[key] += value

    @property
    def video_suspended(self) -> int:
        """Video consumers not forwarded now because their downlink is weak."""
        return sum(1 for c in self.consumers.values() if c.suspended is not None)

    def stats(self) -> dict:
        """Counts of live objects plus cumulative counters (including closed
        producers/consumers) for tests and the benchmark harness."""
        totals = dict(self._retired)
        for p in self.producers.values():
            for key, value in self._producer_counters(p).items():
                totals[key] += value
        for c in self.consumers.values():
            for key, value in self._consumer_counters(c).items():
                totals[key] += value
        return {
            "producers": len(self.producers),
            "consumers": len(self.consumers),
            "tasks": self.task_count,
            "video_suspended": self.video_suspended,
            **totals,
            "active_speaker": self.active_speaker,
            "audio_allowlist": None if self._audio_allowlist is None else sorted(self._audio_allowlist),
        }
