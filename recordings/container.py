"""One recorded file: encoded frames muxed into WebM or Matroska with PyAV.

Nothing here is decoded or encoded: the publisher's VP8/H.264/Opus frames go
into the container as they are. Every method blocks (file I/O, FFmpeg), so
the recorder calls them in its executor, one call at a time per file.

The muxer writes a cluster at least every second and flushes each packet
to the operating system, so a process that dies mid-recording leaves a file
that plays up to its last second or so; `close()` adds the cues and the
duration that make it seekable.
"""
from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

MS = Fraction(1, 1000)  # Matroska's timestamps are milliseconds
OPUS_RATE = 48000
# At most this much media sits in the muxer's cluster, unwritten, at any time.
CLUSTER_MS = "1000"


class WriteError(Exception):
    """The file could not be written (disk full, I/O error): what is on disk stays."""


@dataclass(frozen=True)
class TrackSpec:
    kind: str  # audio | video
    codec: str  # vp8 | vp9 | h264 | opus
    width: int = 0
    height: int = 0
    channels: int = 2
    extradata: bytes | None = None


@dataclass(frozen=True)
class Sample:
    track: int  # index in the file's TrackSpec list
    pts_ms: int
    data: bytes
    keyframe: bool


def extension_for(tracks: list[TrackSpec]) -> str:
    """WebM carries VP8/VP9 and Opus; H.264 needs Matroska."""
    return "mkv" if any(t.codec == "h264" for t in tracks) else "webm"


def opus_head(channels: int) -> bytes:
    # RFC 7845 5.1: what WebM's CodecPrivate must hold for Opus.
    return b"OpusHead" + struct.pack("<BBHIhB", 1, channels, 312, OPUS_RATE, 0, 0)


class MediaFile:
    def __init__(self, path: Path, tracks: list[TrackSpec]) -> None:
        self.path = path
        self.tracks = tracks
        try:
            self._container = av.open(
                str(path), "w", format="webm" if path.suffix == ".webm" else "matroska",
                container_options={"cluster_time_limit": CLUSTER_MS, "flush_packets": "1"},
            )
            self._streams = [self._add_stream(t) for t in tracks]
        except (OSError, av.FFmpegError) as exc:
            raise WriteError(str(exc)) from exc
        self._last_pts = [-1] * len(tracks)
        self.first_pts: int | None = None
        self.last_pts = 0
        self.closed = False

    def _add_stream(self, spec: TrackSpec) -> av.stream.Stream:
        if spec.kind == "video":
            stream = self._container.add_stream(spec.codec, rate=30)
            stream.width = spec.width or 640
            stream.height = spec.height or 360
            if spec.extradata:
                stream.codec_context.extradata = spec.extradata
        else:
            stream = self._container.add_stream("opus", rate=OPUS_RATE)
            stream.codec_context.extradata = opus_head(spec.channels)
        stream.time_base = MS
        return stream

    def write(self, samples: list[Sample]) -> None:
        try:
            self._write(samples)
        except (OSError, av.FFmpegError) as exc:
            raise WriteError(str(exc)) from exc

    def _write(self, samples: list[Sample]) -> None:
        for sample in samples:
            stream = self._streams[sample.track]
            # Matroska wants each track's timestamps to grow.
            pts = max(sample.pts_ms, self._last_pts[sample.track] + 1)
            self._last_pts[sample.track] = pts
            packet = av.Packet(sample.data)
            packet.stream = stream
            packet.time_base = MS
            packet.pts = packet.dts = pts
            packet.is_keyframe = sample.keyframe
            self._container.mux(packet)
            if self.first_pts is None:
                self.first_pts = pts
            self.last_pts = max(self.last_pts, pts)

    @property
    def duration_s(self) -> float:
        return 0.0 if self.first_pts is None else (self.last_pts - self.first_pts) / 1000

    def size(self) -> int:
        try:
            return os.path.getsize(self.path)
        except OSError:
            return 0

    def close(self) -> None:
        """Write the trailer (cues, duration). Safe to call twice; after a
        write error the trailer may fail too, which leaves the file as it was."""
        if self.closed:
            return
        self.closed = True
        try:
            self._container.close()
        except (OSError, av.FFmpegError) as exc:
            raise WriteError(str(exc)) from exc


def vp8_size(frame: bytes) -> tuple[int, int] | None:
    """Width and height from a VP8 keyframe's header (RFC 6386 9.1)."""
    if len(frame) < 10 or frame[0] & 1 or frame[3:6] != b"\x9d\x01\x2a":
        return None
    width, height = struct.unpack_from("<HH", frame, 6)
    return width & 0x3FFF, height & 0x3FFF


def h264_parameter_sets(frame: bytes) -> bytes | None:
    """The SPS and PPS of an Annex B keyframe, as Annex B extradata
    (FFmpeg's Matroska muxer turns it into the avcC record)."""
    units = [u for u in frame.split(b"\x00\x00\x00\x01") if u]
    sets = [u for u in units if u[0] & 0x1F in (7, 8)]
    if not any(u[0] & 0x1F == 7 for u in sets):
        return None
    return b"".join(b"\x00\x00\x00\x01" + u for u in sets)


def h264_size(sps_annexb: bytes) -> tuple[int, int] | None:
    """Width and height, read by FFmpeg's own parser from the parameter sets."""
    try:
        context = av.CodecContext.create("h264", "r")
        context.extradata = sps_annexb
        context.open()
        if context.width and context.height:
            return context.width, context.height
    except av.FFmpegError:
        return None
    return None
