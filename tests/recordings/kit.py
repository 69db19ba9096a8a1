"""Publishers with a sync mark, and readers of recorded files.

The mark: at every whole `MARK_EVERY_S` of the wall clock the video shows a
white frame and the audio a loud 1 kHz burst; the rest is dark and silent.
Both tracks make their frames in real time, so in a correctly recorded file
the white frame and the burst sit at the same media time.
"""
from __future__ import annotations

import asyncio
import fractions
import math
import time
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCRtpSender, RTCSessionDescription, VideoStreamTrack
from aiortc.mediastreams import MediaStreamError
from av import AudioFrame, VideoFrame
from av.video.frame import PictureType

from tests.helpers import EventClient
from tests.media.media_testkit import config

MARK_EVERY_S = 2.0
MARK_LENGTH_S = 0.04


def _marked(wall: float) -> bool:
    return wall % MARK_EVERY_S < MARK_LENGTH_S


class MarkedVideo(VideoStreamTrack):
    """Dark moving frames; white while the wall clock is on a mark."""

    def __init__(self, width: int = 320, height: int = 240) -> None:
        super().__init__()
        self.width, self.height = width, height
        self._n = 0
        self._was_marked = False

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        self._n += 1
        marked = _marked(time.time())
        # One white frame per mark, the first one made on it.
        white = marked and not self._was_marked
        self._was_marked = marked
        image = np.full((self.height, self.width, 3), 240 if white else 16, np.uint8)
        if not white:
            image[:, (self._n * 4) % self.width] = 60  # a moving line keeps the encoder honest
        frame = VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts, frame.time_base = pts, time_base
        frame.pict_type = PictureType.NONE
        return frame


class MarkedTone(MediaStreamTrack):
    """20 ms frames, silent except a 1 kHz burst on each mark, made in real time."""

    kind = "audio"
    SAMPLES = 960

    def __init__(self) -> None:
        super().__init__()
        self._pts = 0
        self._start: float | None = None

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.time()
        else:
            self._pts += self.SAMPLES
            wait = self._start + self._pts / 48000 - time.time()
            if wait > 0:
                await asyncio.sleep(wait)
        # Each sample is loud when its own instant is on a mark.
        instants = time.time() + np.arange(self.SAMPLES) / 48000
        loud = (instants % MARK_EVERY_S) < MARK_LENGTH_S
        t = (np.arange(self.SAMPLES) + self._pts) / 48000
        data = np.where(loud, 0.8 * 32767 * np.sin(2 * math.pi * 1000 * t), 0).astype(np.int16)
        frame = AudioFrame.from_ndarray(data.reshape(1, -1), format="s16", layout="mono")
        frame.pts = self._pts
        frame.sample_rate = 48000
        frame.time_base = fractions.Fraction(1, 48000)
        return frame


async def publish(client: EventClient, *, video_codec: str = "vp8", audio: bool = True) -> RTCPeerConnection:
    """Publish a marked camera (and microphone) through the hub."""
    pc = RTCPeerConnection(config())
    video = pc.addTransceiver(MarkedVideo(), direction="sendonly")
    caps = RTCRtpSender.getCapabilities("video").codecs
    video.setCodecPreferences([c for c in caps if c.mimeType.lower() in (f"video/{video_codec}", "video/rtx")])
    if audio:
        pc.addTransceiver(MarkedTone(), direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    ack = await client.call("media:publish", {"sdp": pc.localDescription.sdp})
    assert ack["ok"], ack
    await pc.setRemoteDescription(RTCSessionDescription(sdp=ack["sdp"], type="answer"))
    return pc


@dataclass
class Playback:
    """What a player makes of a recorded file."""

    video_frames: int
    video_duration_s: float
    first_video_keyframe: bool
    audio_samples: int
    white_frames_s: list[float]  # pts of each white frame
    bursts_s: list[float]  # pts where each audio burst starts
    codecs: list[str]
    format: str


def play(path: Path) -> Playback:
    """Decode a whole file with PyAV (FFmpeg), as a player would."""
    with av.open(str(path)) as container:
        codecs = [s.codec_context.name for s in container.streams]
        fmt = container.format.name
    frames, first_pts, last_pts, whites, keyframe_first = 0, None, None, [], False
    with av.open(str(path)) as container:
        if container.streams.video:
            stream = container.streams.video[0]
            for packet in container.demux(stream):
                if packet.size == 0:
                    continue
                if frames == 0:
                    keyframe_first = packet.is_keyframe
                for frame in packet.decode():
                    seconds = float(frame.pts * frame.time_base)
                    first_pts = seconds if first_pts is None else first_pts
                    last_pts = seconds
                    frames += 1
                    luma = frame.to_ndarray(format="gray")
                    if luma.mean() > 150:
                        whites.append(seconds)
    samples, bursts = 0, []
    with av.open(str(path)) as container:
        if container.streams.audio:
            loud_before = False
            for frame in container.decode(audio=0):
                data = frame.to_ndarray()
                mono = np.abs(data.reshape(data.shape[0], -1)).max(axis=0) if data.ndim > 1 else np.abs(data)
                loud = np.nonzero(mono > 0.2)[0]
                if len(loud) and not loud_before:
                    bursts.append(float(frame.pts * frame.time_base) + loud[0] / frame.sample_rate)
                loud_before = bool(len(loud)) and loud[-1] > len(mono) - 48
                samples += frame.samples
    duration = 0.0 if first_pts is None else last_pts - first_pts + 1 / 30
    return Playback(frames, duration, keyframe_first, samples, whites, bursts, codecs, fmt)


def sync_errors(playback: Playback) -> list[float]:
    """For each white frame, the distance to the nearest burst (seconds)."""
    return [min((abs(b - w) for b in playback.bursts_s), default=99.0) for w in playback.white_frames_s]
