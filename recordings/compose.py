"""The composed file of a meeting: the floor holder large, the others small, audio mixed.

`compose(job, progress)` is a plain, blocking function. It runs in a worker
process of its own (`python -m recordings.compose`, started by
recordings/exports.py at a lowered priority), never on the hub's event loop
or its threads: decoding and encoding a meeting is seconds of CPU per minute.

It reads the recorder's per-participant segments (WebM VP8 + Opus, MKV
H.264 + Opus) and writes one MP4 (H.264 `ultrafast` + AAC mono, 960x540 at
15 fps by default): cheap to make and plays everywhere. Everything streams:
a file is opened when the meeting's clock reaches its `offset_s` and closed
when it is used up, and at any moment only the latest decoded frame of each
open file and under a video frame's worth of audio are held, so memory does
not grow with the meeting's length.

Layout: the floor holder's camera fills the left three quarters (letterboxed
to its aspect), up to `small_tiles` others stack down the right-hand column,
those with a picture at that moment first; a tile with no picture is black.
Frames are placed and composited as YUV 4:2:0 planes with numpy (no RGB
round trip). Audio: every file's Opus is decoded, turned into mono 48 kHz
float, placed by its timestamps (a gap in a file stays silent) and summed,
with clipping.

Worker protocol: the job as JSON on stdin; on stdout one JSON object per
line: `{"progress": 0..1}` (at most every `PROGRESS_EVERY_S`), then
`{"done": true, "duration_s", "bytes"}` or `{"error": "..."}` (exit 1).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

RATE = 48000
AAC_FRAME = 1024
# A timestamp this close to where the previous audio frame ended is the same
# stream running on (millisecond timestamps, resampler rounding), not a gap.
AUDIO_SNAP_S = 0.02
# A file whose duration is unknown (its writer died) shows its last frame
# this long after it, then its tile goes black.
HOLD_S = 0.5
PROGRESS_EVERY_S = 0.25
BLACK_Y, BLACK_UV = 16, 128  # video range black


@dataclass(frozen=True)
class MediaInput:
    """One recorded file; `offset_s` is where its time 0 lies on the meeting's clock."""

    name: str
    participant_id: str
    offset_s: float
    duration_s: float | None = None
    screen: bool = False  # a screen share: a tile of its own, never the floor's

    @classmethod
    def from_dict(cls, d: dict) -> "MediaInput":
        return cls(str(d["name"]), str(d["participant_id"]), float(d["offset_s"]),
                   None if d.get("duration_s") is None else float(d["duration_s"]), bool(d.get("screen", False)))


@dataclass(frozen=True)
class ComposeJob:
    directory: Path
    files: list[MediaInput]
    # Who holds the floor from each offset on (None: nobody; the last holder stays).
    floor: list[tuple[float, str | None]]
    duration_s: float
    output: Path
    width: int = 960
    height: int = 540
    fps: int = 15
    small_tiles: int = 4
    preset: str = "ultrafast"

    def to_dict(self) -> dict:
        return {
            "directory": str(self.directory),
            "files": [vars(f) for f in self.files],
            "floor": [[t, p] for t, p in self.floor],
            "duration_s": self.duration_s, "output": str(self.output),
            "width": self.width, "height": self.height, "fps": self.fps,
            "small_tiles": self.small_tiles, "preset": self.preset,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "ComposeJob":
        return cls(
            directory=Path(d["directory"]), files=[MediaInput.from_dict(f) for f in d["files"]],
            floor=[(float(t), p) for t, p in d.get("floor", [])], duration_s=float(d["duration_s"]),
            output=Path(d["output"]), width=int(d.get("width", 960)), height=int(d.get("height", 540)),
            fps=int(d.get("fps", 15)), small_tiles=int(d.get("small_tiles", 4)), preset=str(d.get("preset", "ultrafast")),
        )


@dataclass(frozen=True)
class ComposeResult:
    duration_s: float
    bytes: int


def _even(x: float) -> int:
    return max(2, int(x) // 2 * 2)


@dataclass(frozen=True)
class Rect:
    x: int
    y: int
    w: int
    h: int

    def fit(self, width: int, height: int) -> "Rect":
        """The largest even-sized rect of the source's aspect, centred in this one."""
        scale = min(self.w / width, self.h / height)
        w, h = min(self.w, _even(width * scale)), min(self.h, _even(height * scale))
        return Rect(self.x + _even((self.w - w) / 2) if self.w > w else self.x,
                    self.y + _even((self.h - h) / 2) if self.h > h else self.y, w, h)


def layout(width: int, height: int, small_tiles: int) -> tuple[Rect, list[Rect]]:
    """The big tile (left three quarters) and the small ones (right column)."""
    if small_tiles <= 0:
        return Rect(0, 0, width, height), []
    big_w = _even(width * 3 / 4)
    small_w = width - big_w
    step = height / small_tiles
    smalls = []
    for i in range(small_tiles):
        top, bottom = _even(i * step), _even((i + 1) * step) if i < small_tiles - 1 else height
        smalls.append(Rect(big_w, top, small_w, bottom - top))
    return Rect(0, 0, big_w, height), smalls


def _plane(plane) -> np.ndarray:
    data = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
    return data[:, :plane.width]


def _open_input(path: Path, kind: str):
    """The container and its first stream of `kind`, or (None, None)."""
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError):
        return None, None
    streams = container.streams.video if kind == "video" else container.streams.audio
    if not streams:
        container.close()
        return None, None
    return container, streams[0]


def _decoded(container, stream) -> Iterator:
    """Frames of one stream; a packet that does not decode is skipped, a
    file that ends early (its writer died) simply ends."""
    try:
        for packet in container.demux(stream):
            try:
                yield from packet.decode()
            except av.InvalidDataError:
                continue
    except (av.FFmpegError, OSError):
        return


class VideoTrack:
    """One file's video, decoded in step with the meeting's clock."""

    def __init__(self, path: Path, media: MediaInput) -> None:
        self.path, self.media = path, media
        self.end = None if media.duration_s is None else media.offset_s + media.duration_s
        self._container = None
        self._frames: Iterator | None = None
        self._current = None  # (time on the meeting's clock, frame)
        self._next = None
        self.finished = False
        self._cache: tuple[object, Rect, list[np.ndarray]] | None = None

    def _pull(self):
        assert self._frames is not None
        for frame in self._frames:
            if frame.pts is None:
                continue
            return self.media.offset_s + float(frame.pts * frame.time_base), frame
        self.close()
        return None

    def frame_at(self, t: float):
        """The latest frame at or before `t`, or None (not started, ended, no video)."""
        if self.finished or t < self.media.offset_s:
            return None
        if self.end is not None and t > self.end + 1 / 30:
            self.close()
            return None
        if self._frames is None:
            self._container, stream = _open_input(self.path, "video")
            if self._container is None:
                self.finished = True
                return None
            stream.codec_context.thread_count = 1  # one thread: the CPU per hour is what counts
            self._frames = _decoded(self._container, stream)
            self._next = self._pull()
        while self._next is not None and self._next[0] <= t + 1e-6:
            self._current, self._next = self._next, (self._pull() if not self.finished else None)
        if self._current is None:
            return None
        if self.finished and self.end is None and t > self._current[0] + HOLD_S:
            self._current = None
            return None
        return self._current[1]

    def planes(self, frame, rect: Rect) -> list[np.ndarray]:
        """The frame scaled into `rect`'s fitted size as Y, U, V (cached while the frame stays)."""
        if self._cache is not None and self._cache[0] is frame and self._cache[1] == rect:
            return self._cache[2]
        fitted = rect.fit(frame.width, frame.height)
        small = frame.reformat(width=fitted.w, height=fitted.h, format="yuv420p",
                               interpolation="FAST_BILINEAR" if fitted.w < frame.width else "BILINEAR")
        planes = [_plane(p).copy() for p in small.planes]
        self._cache = (frame, rect, planes)
        return planes

    def close(self) -> None:
        self.finished = True
        self._frames = None
        self._current = self._next = None
        self._cache = None
        if self._container is not None:
            self._container.close()
            self._container = None


class AudioTrack:
    """One file's audio as mono float samples placed on the meeting's sample clock."""

    def __init__(self, path: Path, media: MediaInput) -> None:
        self.path, self.media = path, media
        self.start = round(media.offset_s * RATE)
        self._container = None
        self._frames: Iterator | None = None
        self._resampler: av.AudioResampler | None = None
        self.finished = False
        self._pending = np.zeros(0, np.float32)
        self._pending_at = self.start  # the meeting sample of _pending[0]

    def _open(self) -> None:
        self._container, stream = _open_input(self.path, "audio")
        if self._container is None:
            self.finished = True
            return
        self._frames = _decoded(self._container, stream)
        self._resampler = av.AudioResampler(format="flt", layout="mono", rate=RATE)

    def _decode_more(self) -> bool:
        assert self._frames is not None and self._resampler is not None
        for frame in self._frames:
            if frame.pts is None:
                continue
            at = self.start + round(float(frame.pts * frame.time_base) * RATE)
            chunks = [f.to_ndarray().reshape(-1) for f in self._resampler.resample(frame)]
            if not chunks:
                continue
            samples = np.concatenate(chunks) if len(chunks) > 1 else chunks[0]
            expected = self._pending_at + len(self._pending)
            if abs(at - expected) <= AUDIO_SNAP_S * RATE:
                at = expected
            if at > expected:  # a gap in the file: silence
                self._pending = np.concatenate([self._pending, np.zeros(at - expected, np.float32), samples])
            else:  # overlaps what we have: keep the earlier
                self._pending = np.concatenate([self._pending, samples[expected - at:]])
            return True
        self.close()
        return False

    def add_into(self, mix: np.ndarray, lo: int) -> None:
        """Add this file's samples for [lo, lo + len(mix)) to `mix`."""
        hi = lo + len(mix)
        if hi <= self.start or (self.finished and not len(self._pending)):
            return
        if self._frames is None and not self.finished:
            self._open()
        while not self.finished and self._pending_at + len(self._pending) < hi:
            if not self._decode_more():
                break
        a, b = max(lo, self._pending_at), min(hi, self._pending_at + len(self._pending))
        if b > a:
            mix[a - lo:b - lo] += self._pending[a - self._pending_at:b - self._pending_at]
        keep_from = max(0, hi - self._pending_at)
        self._pending = self._pending[keep_from:]
        self._pending_at += keep_from

    def close(self) -> None:
        self.finished = True
        self._frames = None
        self._resampler = None
        if self._container is not None:
            self._container.close()
            self._container = None


@dataclass
class Source:
    """A participant's camera (or screen share): their files, in order."""

    key: tuple[str, bool]
    tracks: list[VideoTrack] = field(default_factory=list)

    def frame_at(self, t: float):
        """Every file covering `t` is advanced; the latest one that has a picture wins."""
        chosen = None
        for track in self.tracks:
            if track.media.offset_s <= t and not track.finished:
                frame = track.frame_at(t)
                if frame is not None:
                    chosen = (track, frame)
        return chosen


class Floor:
    """Who is large at each moment: the floor holder, else the last one, else the first participant."""

    def __init__(self, changes: list[tuple[float, str | None]], with_video: set[str], first: str | None) -> None:
        # A holder with no camera file anywhere would be a black screen: keep the previous one.
        self.changes = sorted((t, p) for t, p in changes if p in with_video)
        self.first = first
        self._i = 0
        self.holder = first

    def at(self, t: float) -> str | None:
        while self._i < len(self.changes) and self.changes[self._i][0] <= t:
            self.holder = self.changes[self._i][1]
            self._i += 1
        return self.holder


class Canvas:
    """One output picture as contiguous YUV 4:2:0 planes."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.buffer = np.empty(width * height * 3 // 2, np.uint8)
        luma, chroma = width * height, width * height // 4
        self.y = self.buffer[:luma].reshape(height, width)
        self.u = self.buffer[luma:luma + chroma].reshape(height // 2, width // 2)
        self.v = self.buffer[luma + chroma:].reshape(height // 2, width // 2)

    def clear(self) -> None:
        self.y.fill(BLACK_Y)
        self.u.fill(BLACK_UV)
        self.v.fill(BLACK_UV)

    def paste(self, planes: list[np.ndarray], rect: Rect, fitted: Rect) -> None:
        y, u, v = planes
        self.y[fitted.y:fitted.y + fitted.h, fitted.x:fitted.x + fitted.w] = y
        cy, cx, ch, cw = fitted.y // 2, fitted.x // 2, fitted.h // 2, fitted.w // 2
        self.u[cy:cy + ch, cx:cx + cw] = u
        self.v[cy:cy + ch, cx:cx + cw] = v

    def frame(self, pts: int) -> av.VideoFrame:
        frame = av.VideoFrame.from_ndarray(self.buffer.reshape(self.height * 3 // 2, self.width), format="yuv420p")
        frame.pts = pts
        return frame


def compose(job: ComposeJob, progress: Callable[[float], None] = lambda _: None) -> ComposeResult:
    """Write the composed file of `job` (to a partial name, renamed when complete)."""
    if job.width % 4 or job.height % 4:
        raise ValueError("width and height must be multiples of 4")
    files = sorted(job.files, key=lambda f: (f.offset_s, f.name))
    sources: dict[tuple[str, bool], Source] = {}
    audio: list[AudioTrack] = []
    for media in files:
        path = job.directory / media.name
        if not path.is_file():
            continue  # written on a machine whose recordings folder is not shared with this one
        key = (media.participant_id, media.screen)
        sources.setdefault(key, Source(key)).tracks.append(VideoTrack(path, media))
        audio.append(AudioTrack(path, media))
    order = list(sources)  # by each source's first file: stable tile order
    cameras = {pid for pid, screen in order if not screen}
    floor = Floor(job.floor, cameras, next((pid for pid, screen in order if not screen), None))
    big, smalls = layout(job.width, job.height, job.small_tiles)

    job.output.parent.mkdir(parents=True, exist_ok=True)
    partial = job.output.with_name(job.output.name + ".partial")
    total = max(1, math.ceil(job.duration_s * job.fps))
    canvas = Canvas(job.width, job.height)
    pending_audio = np.zeros(0, np.float32)
    audio_pts = 0
    last_report = 0.0
    with av.open(str(partial), "w", format="mp4", options={"movflags": "+faststart"}) as out:
        video = out.add_stream("libx264", rate=job.fps)
        video.width, video.height, video.pix_fmt = job.width, job.height, "yuv420p"
        video.codec_context.time_base = Fraction(1, job.fps)
        # A keyframe every 4 s: seeking in a long record stays quick; one
        # encoder thread, since what we save is CPU, not wall time.
        video.options = {"preset": job.preset, "crf": "28", "g": str(job.fps * 4), "threads": "1"}
        sound = out.add_stream("aac", rate=RATE, layout="mono")
        sound.bit_rate = 64000

        def emit_audio(samples: np.ndarray) -> None:
            nonlocal audio_pts
            frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="fltp", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = RATE, audio_pts, Fraction(1, RATE)
            audio_pts += len(samples)
            out.mux(sound.encode(frame))

        for k in range(total):
            t = k / job.fps
            canvas.clear()
            holder = floor.at(t)
            shown = {key: source.frame_at(t) for key, source in sources.items()}
            big_key = (holder, False) if holder is not None else None
            if big_key in shown and shown[big_key] is not None:
                track, frame = shown[big_key]
                canvas.paste(track.planes(frame, big), big, big.fit(frame.width, frame.height))
            others = [key for key in order if key != big_key and shown[key] is not None]
            for rect, key in zip(smalls, others):
                track, frame = shown[key]
                canvas.paste(track.planes(frame, rect), rect, rect.fit(frame.width, frame.height))
            out.mux(video.encode(canvas.frame(k)))

            lo, hi = round(t * RATE), round((k + 1) / job.fps * RATE)
            mix = np.zeros(hi - lo, np.float32)
            for track in audio:
                track.add_into(mix, lo)
            np.clip(mix, -1.0, 1.0, out=mix)
            pending_audio = np.concatenate([pending_audio, mix])
            while len(pending_audio) >= AAC_FRAME:
                emit_audio(pending_audio[:AAC_FRAME])
                pending_audio = pending_audio[AAC_FRAME:]

            now = time.monotonic()
            if now - last_report >= PROGRESS_EVERY_S:
                last_report = now
                progress(k / total)
        if len(pending_audio):
            emit_audio(np.concatenate([pending_audio, np.zeros(AAC_FRAME - len(pending_audio), np.float32)]))
        out.mux(video.encode(None))
        out.mux(sound.encode(None))
    for track in audio:
        track.close()
    for source in sources.values():
        for vt in source.tracks:
            vt.close()
    os.replace(partial, job.output)
    progress(1.0)
    return ComposeResult(duration_s=total / job.fps, bytes=job.output.stat().st_size)


# -- the worker process ----------------------------------------------------------------


def _say(message: dict) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="compose a recording (the job as JSON on stdin)")
    parser.add_argument("--nice", type=int, default=10, help="lower this process's priority by this much")
    args = parser.parse_args(argv)
    if args.nice:
        os.nice(args.nice)  # a meeting in progress keeps the CPU
    try:
        job = ComposeJob.from_dict(json.loads(sys.stdin.read()))
        result = compose(job, lambda fraction: _say({"progress": round(fraction, 4)}))
    except Exception as exc:  # the hub records why; the traceback goes to stderr
        import traceback

        traceback.print_exc()
        _say({"error": f"{type(exc).__name__}: {exc}"[:400]})
        return 1
    _say({"done": True, "duration_s": result.duration_s, "bytes": result.bytes})
    return 0


if __name__ == "__main__":
    sys.exit(main())
