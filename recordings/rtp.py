"""From a producer's RTP packets to whole encoded frames, in order.

The recorder sees each packet as the publisher sent it (a producer tap): in
arrival order, with repairs (RTX answers to the SFU's NACKs) arriving late.
`FrameAssembler` puts packets back in sequence order, joins the packets of
one frame (same RTP timestamp; the marker bit ends a video frame), strips the
payload descriptors with aiortc's depayloaders, and hands out complete
frames only. A packet that never comes is a gap: the frame it belonged to is
dropped whole, and for video every frame after it until the next keyframe
(a frame that refers to a missing one would decode as garbage), so a loss
costs a moment of picture and never a corrupt file.
"""
from __future__ import annotations

from dataclasses import dataclass

from aiortc.codecs.h264 import h264_depayload
from aiortc.codecs.vpx import vp8_depayload

from media.rtp_parse import HEADER, h264_is_keyframe_start, header_length, payload_length, vp8_is_keyframe_start

# How long a hole in the sequence is waited for (the SFU's NACK gives up
# after a second; most repairs arrive within a round trip or two).
REORDER_WAIT_S = 0.5
# Before the first frame, a packet this much older than the first one seen
# still counts (the recording began amid reordered packets).
START_REORDER = 64
# A jump this big is a restart of the stream, not loss.
MAX_JUMP = 3000


@dataclass(frozen=True)
class Frame:
    data: bytes
    timestamp: int  # RTP timestamp, extended to 64 bits (no wrap)
    keyframe: bool
    arrival: float  # monotonic time its first packet arrived


@dataclass
class _Packet:
    seq: int  # extended
    timestamp: int  # 32-bit
    marker: bool
    keyframe_start: bool
    payload: bytes
    arrival: float


def _depayloader(codec: str):
    if codec == "vp8":
        return vp8_depayload
    if codec == "h264":
        return h264_depayload
    return None  # opus: the payload is the frame


class FrameAssembler:
    """One per recorded track. Not thread-safe: fed on the event loop."""

    def __init__(self, kind: str, codec: str) -> None:
        self.kind = kind
        self.codec = codec
        self._video = kind == "video"
        self._depayload = _depayloader(codec)
        self._keyframe_start = (
            vp8_is_keyframe_start if codec == "vp8" else h264_is_keyframe_start if codec == "h264" else None
        )
        self._buffer: dict[int, _Packet] = {}  # extended seq -> packet
        self._next: int | None = None  # extended seq of the next packet to take
        self._last_ext: int | None = None  # extended seq of the newest packet seen
        self._ts_cycles = 0
        self._last_ts: int | None = None
        self._frame: list[_Packet] = []
        # Video: nothing is handed out until a keyframe (at the start, after a gap).
        self.needs_keyframe = self._video
        self.frames_out = 0
        self.frames_dropped = 0
        self.gaps = 0

    def push(self, packet: bytes, now: float) -> list[Frame]:
        """Take one RTP packet; return the frames it completes (often none)."""
        hdr_len = header_length(packet)
        if not hdr_len:
            return []
        _b0, b1, seq, ts, _ssrc = HEADER.unpack_from(packet)
        ext = self._extend_seq(seq)
        if ext is None:
            return []
        if self._next is None:
            self._next = ext
        elif ext < self._next and not self.frames_out and self._next - ext < START_REORDER:
            # The stream's first packets came out of order: start again from this one.
            for held in self._frame:
                self._buffer[held.seq] = held
            self._frame = []
            self._next = ext
        if ext < self._next or ext in self._buffer:
            return []  # too late, or a second copy
        end = hdr_len + payload_length(packet, hdr_len)
        self._buffer[ext] = _Packet(
            ext, ts, bool(b1 & 0x80),
            bool(self._keyframe_start and self._keyframe_start(packet, hdr_len)),
            bytes(packet[hdr_len:end]), now,
        )
        return self._drain(now)

    def flush(self) -> list[Frame]:
        """At the end of a segment: hand out what is complete, drop the rest."""
        return self._drain(float("inf"))

    # -- internals ---------------------------------------------------------------

    def _extend_seq(self, seq: int) -> int | None:
        if self._last_ext is None:
            self._last_ext = seq
            return seq
        last = self._last_ext
        candidate = (last & ~0xFFFF) | seq
        if candidate < last - 0x8000:
            candidate += 0x10000
        elif candidate > last + 0x8000:
            candidate -= 0x10000
        if abs(candidate - last) > MAX_JUMP:
            # The publisher restarted its sequence (a replaced track): start over.
            self._buffer.clear()
            self._frame = []
            self._next = None
            self.needs_keyframe = self._video
            self._last_ext = seq
            return seq
        if candidate > last:
            self._last_ext = candidate
        return candidate

    def _extend_ts(self, ts: int) -> int:
        if self._last_ts is not None:
            if ts < self._last_ts and self._last_ts - ts > 0x80000000:
                self._ts_cycles += 1 << 32
            elif ts > self._last_ts and ts - self._last_ts > 0x80000000:
                return self._ts_cycles - (1 << 32) + ts  # a late frame from before a wrap
        self._last_ts = ts
        return self._ts_cycles + ts

    def _drain(self, now: float) -> list[Frame]:
        frames: list[Frame] = []
        while self._buffer:
            assert self._next is not None
            packet = self._buffer.pop(self._next, None)
            if packet is None:
                oldest = min(self._buffer)
                if now - self._buffer[oldest].arrival < REORDER_WAIT_S:
                    break  # the hole may still be repaired
                self._skip_to(oldest)
                continue
            self._next += 1
            if self._frame and packet.timestamp != self._frame[0].timestamp:
                # A new timestamp ends the previous frame (its marker was lost
                # with nothing missing in between only if the sender never set it).
                self._finish(frames)
            self._frame.append(packet)
            if not self._video or packet.marker:
                self._finish(frames)
        return frames

    def _skip_to(self, seq: int) -> None:
        """Give up on the hole before `seq`: the frame in progress is lost."""
        self.gaps += 1
        if self._frame:
            self.frames_dropped += 1
        self._frame = []
        self._next = seq
        if self._video:
            self.needs_keyframe = True
        # The packets after the hole that belong to the broken frame are useless too.
        first = self._buffer.get(seq)
        if first is not None and self._video and not first.keyframe_start:
            self._drop_frame_rest(first.timestamp)

    def _drop_frame_rest(self, timestamp: int) -> None:
        assert self._next is not None
        while (packet := self._buffer.get(self._next)) is not None and packet.timestamp == timestamp:
            del self._buffer[self._next]
            self._next += 1

    def _finish(self, frames: list[Frame]) -> None:
        packets, self._frame = self._frame, []
        keyframe = packets[0].keyframe_start if self._video else True
        if self._video and self.needs_keyframe:
            if not keyframe:
                self.frames_dropped += 1
                return
            self.needs_keyframe = False
        if self._depayload is not None:
            try:
                data = b"".join(self._depayload(p.payload) for p in packets)
            except (ValueError, IndexError):
                # A malformed payload from the publisher: drop it like a loss.
                self.frames_dropped += 1
                self.needs_keyframe = self._video
                return
        else:
            data = packets[0].payload
        if not data:
            return
        self.frames_out += 1
        frames.append(Frame(data, self._extend_ts(packets[0].timestamp), keyframe, packets[0].arrival))
