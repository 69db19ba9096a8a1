"""One participant's segment: their tracks from one publish until it changes.

A segment taps its producers, assembles their frames (recordings/rtp.py),
and holds them briefly before the file is opened: until the video has a
keyframe (the file starts on one) and each track's publisher has sent an
RTCP sender report, or `HOLD_S` has passed. The sender reports tie each
track's RTP clock to the publisher's one wall clock, which is what keeps
audio and video of one person in sync in the file (their RTP timestamps
start at unrelated random values). A track without a report by then is
placed by when its packets arrived.

Afterwards frames are stamped in milliseconds from the segment's start (its
first keyframe) and queued; the recorder's flush writes the queue to the
file in its executor. The queue is bounded (`MAX_PENDING_BYTES`): when the
disk falls that far behind, frames are dropped rather than held, and once
the writer has taken the backlog, audio resumes at once and video at its
next keyframe (asked for), so the file has a gap, never a broken frame, and
a stalled disk cannot take the hub's memory.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from media.producer import Producer
from recordings.container import Sample, TrackSpec, h264_parameter_sets, h264_size, vp8_size
from recordings.rtp import Frame, FrameAssembler

HOLD_S = 2.5
# Without any keyframe by then, the segment gives up waiting (audio only).
KEYFRAME_WAIT_S = 8.0
# About 3 minutes of a 1.2 Mbit/s camera and microphone waiting for the disk.
MAX_PENDING_BYTES = 32 * 1024 * 1024
NTP_EPOCH_OFFSET = 2208988800


def codec_of(producer: Producer) -> str:
    return producer.mime_type.split("/", 1)[1].lower()


def ntp_seconds(ntp: int) -> float:
    return (ntp >> 32) + (ntp & 0xFFFFFFFF) / 2**32


@dataclass
class TrackState:
    producer: Producer
    assembler: FrameAssembler
    held: list[Frame] = field(default_factory=list)
    index: int = -1  # in the file's tracks, once open
    resume_on_keyframe: bool = False  # video frames were dropped: wait for the next keyframe
    anchor_ts: int = 0  # extended RTP ts ...
    anchor_time: float = 0.0  # ... at this time on the segment's clock (monotonic seconds)


class Segment:
    def __init__(
        self, key: tuple[str, str], producers: list[Producer], *, max_pending_bytes: int = MAX_PENDING_BYTES
    ) -> None:
        self.key = key
        self.participant_id = key[0]
        self.producer_ids = frozenset(p.id for p in producers)
        self.tracks = [
            TrackState(p, FrameAssembler(p.kind, codec_of(p)))
            for p in sorted(producers, key=lambda p: p.kind != "video")  # video first
        ]
        self.created = time.monotonic()
        self.opened = False  # the file exists (its header is decided)
        self.specs: list[TrackSpec] = []
        self.zero = 0.0  # the segment's time 0, monotonic seconds
        self.zero_wall = 0.0  # the same instant on the server's wall clock
        self.pending: list[Sample] = []
        self.pending_bytes = 0
        self.max_pending_bytes = max_pending_bytes
        self.dropped = 0  # frames dropped because the writer fell behind, since the last take_dropped()
        self.closing = False
        self._untaps: list[Callable[[], None]] = []

    # -- producers -------------------------------------------------------------

    def attach(self) -> None:
        for track in self.tracks:
            self._untaps.append(track.producer.add_tap(self._tap_for(track)))
        self.request_keyframes()

    def detach(self) -> None:
        for untap in self._untaps:
            untap()
        self._untaps = []

    def request_keyframes(self, *, only_after_loss: bool = False) -> None:
        """Ask the publisher for a keyframe: at the start (the file begins
        with one), and after a loss (nothing is written until the next)."""
        for track in self.tracks:
            if track.producer.kind != "video":
                continue
            if not only_after_loss:
                track.producer.request_keyframe(force=True)
            elif (track.assembler.needs_keyframe and track.assembler.gaps) or track.resume_on_keyframe:
                track.producer.request_keyframe()  # at most one a second

    def _tap_for(self, track: TrackState) -> Callable[[Producer, bytes], None]:
        def tap(_producer: Producer, packet: bytes) -> None:
            self._take(track, track.assembler.push(packet, time.monotonic()))

        return tap

    def _take(self, track: TrackState, frames: list[Frame]) -> None:
        if not frames or self.closing:
            return
        if not self.opened:
            track.held.extend(frames)
            return
        self._stamp(track, frames)

    # -- opening ---------------------------------------------------------------

    def ready_to_open(self, now: float) -> bool:
        """True once the file's header and clock can be decided (see module doc)."""
        video = [t for t in self.tracks if t.producer.kind == "video"]
        if any(not any(f.keyframe for f in t.held) for t in video):
            if now - self.created < KEYFRAME_WAIT_S:
                return False
            return any(t.held for t in self.tracks if t.producer.kind == "audio")
        if not any(t.held for t in self.tracks):
            return False
        reported = all(t.producer.sr_ntp for t in self.tracks)
        return reported or now - self.created >= HOLD_S

    def open(self) -> list[TrackSpec]:
        """Decide the tracks and the clock; return the file's track specs."""
        usable = [t for t in self.tracks if t.held and (t.producer.kind == "audio" or any(f.keyframe for f in t.held))]
        for track in usable:
            if track.producer.kind == "video":
                first = next(i for i, f in enumerate(track.held) if f.keyframe)
                track.held = track.held[first:]
        self._set_clocks(usable)
        video = [t for t in usable if t.producer.kind == "video"]
        starts = [self._time(t, t.held[0].timestamp) for t in (video or usable)]
        self.zero = min(starts)
        self.zero_wall = time.time() - (time.monotonic() - self.zero)
        for track in usable:
            track.index = len(self.specs)
            self.specs.append(self._spec(track))
        self.opened = True
        for track in usable:
            held, track.held = track.held, []
            self._stamp(track, held)
        for track in self.tracks:
            if track.index < 0:
                track.held = []  # not in this file (no keyframe in time)
        return self.specs

    def _set_clocks(self, tracks: list[TrackState]) -> None:
        """Anchor each track's RTP clock on the monotonic clock (see module doc)."""
        reference = next((t for t in tracks if t.producer.sr_ntp), None)
        ntp_to_mono = 0.0
        if reference is not None:
            ntp_to_mono = reference.producer.sr_mono - ntp_seconds(reference.producer.sr_ntp)
        for track in tracks:
            producer, first = track.producer, track.held[0]
            if reference is not None and producer.sr_ntp:
                track.anchor_ts = self._extend_near(producer.sr_rtp, first.timestamp)
                track.anchor_time = ntp_seconds(producer.sr_ntp) + ntp_to_mono
            else:
                track.anchor_ts, track.anchor_time = first.timestamp, first.arrival

    @staticmethod
    def _extend_near(ts32: int, near: int) -> int:
        candidate = (near & ~0xFFFFFFFF) | ts32
        if candidate - near > 0x80000000:
            candidate -= 1 << 32
        elif near - candidate > 0x80000000:
            candidate += 1 << 32
        return candidate

    @staticmethod
    def _time(track: TrackState, ts: int) -> float:
        return track.anchor_time + (ts - track.anchor_ts) / track.producer.clock_rate

    def _spec(self, track: TrackState) -> TrackSpec:
        producer = track.producer
        codec = codec_of(producer)
        if producer.kind == "audio":
            return TrackSpec("audio", codec, channels=2)
        keyframe = next(f for f in track.held if f.keyframe)
        width, height, extradata = 0, 0, None
        if codec == "vp8":
            width, height = vp8_size(keyframe.data) or (0, 0)
        elif codec == "h264":
            extradata = h264_parameter_sets(keyframe.data)
            if extradata:
                width, height = h264_size(extradata) or (0, 0)
        return TrackSpec("video", codec, width=width, height=height, extradata=extradata)

    def _stamp(self, track: TrackState, frames: list[Frame]) -> None:
        if track.index < 0:
            return
        for frame in frames:
            pts = round((self._time(track, frame.timestamp) - self.zero) * 1000)
            if pts < 0:
                continue  # from before the first keyframe
            if self.pending_bytes >= self.max_pending_bytes:
                self.dropped += 1  # the disk is this far behind: a gap, not more memory
                track.resume_on_keyframe = track.producer.kind == "video"
                continue
            if track.resume_on_keyframe:
                if not frame.keyframe:
                    self.dropped += 1
                    continue
                track.resume_on_keyframe = False
            self.pending.append(Sample(track.index, pts, frame.data, frame.keyframe))
            self.pending_bytes += len(frame.data)

    def take_dropped(self) -> int:
        dropped, self.dropped = self.dropped, 0
        return dropped

    def take_pending(self) -> list[Sample]:
        samples, self.pending = self.pending, []
        self.pending_bytes = 0
        # Interleaved by time, as the muxer likes them.
        samples.sort(key=lambda s: s.pts_ms)
        return samples

    def finish(self) -> None:
        """Stop tapping; what the assemblers still hold completes or is dropped."""
        self.detach()
        for track in self.tracks:
            self._take(track, track.assembler.flush())
        self.closing = True

    def stats(self) -> dict:
        return {
            "frames": sum(t.assembler.frames_out for t in self.tracks),
            "dropped": sum(t.assembler.frames_dropped for t in self.tracks),
            "gaps": sum(t.assembler.gaps for t in self.tracks),
        }
