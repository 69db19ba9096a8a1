"""Real aiortc peers for media tests: a publisher with synthetic moving
video and a tone, and a subscriber that decodes what it receives."""

from __future__ import annotations

import asyncio
import fractions
import math
import time
from collections.abc import Callable

import numpy as np
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
    VideoStreamTrack,
)
from aiortc.mediastreams import MediaStreamError
from av import AudioFrame, VideoFrame
from av.video.frame import PictureType

from media.service import MediaService


class MovingVideo(VideoStreamTrack):
    """A moving gradient.  pict_type is reset on every frame: frames marked
    I would make libvpx encode keyframes only and hide keyframe bugs."""

    def __init__(self, width: int = 320, height: int = 240) -> None:
        super().__init__()
        x = np.linspace(0, 255, width, dtype=np.uint8)
        y = np.linspace(0, 255, height, dtype=np.uint8)
        self._base = np.dstack([np.tile(x, (height, 1)), np.tile(y[:, None], (1, width)), np.full((height, width), 128, np.uint8)])
        self._n = 0

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        self._n += 1
        frame = VideoFrame.from_ndarray(np.roll(self._base, self._n * 4, axis=1), format="rgb24")
        frame.pts = pts
        frame.time_base = time_base
        frame.pict_type = PictureType.NONE
        return frame


class Tone(MediaStreamTrack):
    """20 ms frames of a sine tone (amplitude 0 = silence)."""

    kind = "audio"

    def __init__(self, amplitude: float = 0.5, freq: float = 440.0) -> None:
        super().__init__()
        self.amplitude = amplitude
        self._freq = freq
        self._samples = 960
        self._pts = 0
        self._start: float | None = None

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.time()
        else:
            wait = self._start + (self._pts + self._samples) / 48000 - time.time()
            if wait > 0:
                await asyncio.sleep(wait)
            self._pts += self._samples
        t = (np.arange(self._samples) + self._pts) / 48000
        data = (self.amplitude * 32767 * np.sin(2 * math.pi * self._freq * t)).astype(np.int16)
        frame = AudioFrame.from_ndarray(data.reshape(1, -1), format="s16", layout="mono")
        frame.pts = self._pts
        frame.sample_rate = 48000
        frame.time_base = fractions.Fraction(1, 48000)
        return frame


def config() -> RTCConfiguration:
    return RTCConfiguration(iceServers=[])


class Publisher:
    def __init__(self, service: MediaService, meeting: str, pid: str, connection: str | None = None) -> None:
        self.service, self.meeting, self.pid, self.connection = service, meeting, pid, connection
        self.pc = RTCPeerConnection(config())
        self.tracks: list[MediaStreamTrack] = []

    def add(self, track: MediaStreamTrack, codec: str | None = None):
        t = self.pc.addTransceiver(track, direction="sendonly")
        if codec is not None:
            caps = RTCRtpSender.getCapabilities(track.kind).codecs
            t.setCodecPreferences([c for c in caps if c.mimeType.lower() in (f"video/{codec.lower()}", "video/rtx")])
        self.tracks.append(track)
        return t

    async def publish(self, sources: dict[str, str] | None = None) -> str:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        answer = await self.service.publish(
            self.meeting, self.pid, self.pc.localDescription.sdp, sources, connection=self.connection
        )
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        return answer

    async def close(self) -> None:
        await self.pc.close()


class Subscriber:
    def __init__(self, service: MediaService, meeting: str, pid: str, connection: str | None = None) -> None:
        self.service, self.meeting, self.pid, self.connection = service, meeting, pid, connection
        self.pc = RTCPeerConnection(config())
        self.frames: dict[str, int] = {"audio": 0, "video": 0}
        self.frames_by_track: dict[str, int] = {}  # msid track id = producer id
        self.first_frame: dict[str, float] = {}
        self.connected_at: float | None = None
        self._readers: list[asyncio.Task[None]] = []
        self.pc.on("track", self._on_track)
        self.pc.on("connectionstatechange", self._on_state)

    def _on_state(self) -> None:
        if self.pc.connectionState == "connected" and self.connected_at is None:
            self.connected_at = time.monotonic()

    def _on_track(self, track: MediaStreamTrack) -> None:
        self._readers.append(asyncio.get_running_loop().create_task(self._read(track)))

    async def _read(self, track: MediaStreamTrack) -> None:
        try:
            while True:
                await track.recv()
                self.frames[track.kind] += 1
                self.frames_by_track[track.id] = self.frames_by_track.get(track.id, 0) + 1
                self.first_frame.setdefault(track.kind, time.monotonic())
        except (MediaStreamError, asyncio.CancelledError):
            pass

    async def apply_offer(self, offer: str) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        await self.service.answer(self.meeting, self.pid, self.pc.localDescription.sdp, connection=self.connection)

    async def subscribe(self, tracks) -> str | None:
        offer = await self.service.subscribe(self.meeting, self.pid, tracks, connection=self.connection)
        if offer is not None:  # None: nothing to receive yet, on_offer brings it
            await self.apply_offer(offer)
        return offer

    async def close(self) -> None:
        for task in self._readers:
            task.cancel()
        await asyncio.gather(*self._readers, return_exceptions=True)
        await self.pc.close()


async def wait_for(cond: Callable[[], bool], timeout: float, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.05)
