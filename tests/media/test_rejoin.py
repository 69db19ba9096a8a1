"""A reload never loses the picture (issue 10, item 1).

A subscriber disconnects and at once reconnects with the same token and a
NEW peer connection, as a browser reload or a Wi-Fi hiccup does, fifteen
times in a row.  Every round its answer must be accepted and it must decode
real VP8 from a real aiortc publisher.  Before media peers were keyed by
connection, the old connection's teardown raced the new one's negotiation on
one per-participant peer and 5–10 of 15 rounds got no video."""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from aiortc import RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from tests.helpers import EventClient, wait_until
from tests.media.media_testkit import MovingVideo, config

ROUNDS = 15
FRAMES_PER_ROUND = 5


@dataclass
class Viewer:
    """One page load: a Socket.IO connection and its own receiving peer connection."""

    client: EventClient
    pc: RTCPeerConnection = field(default_factory=lambda: RTCPeerConnection(config()))
    video_frames: int = 0
    readers: list[asyncio.Task] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.pc.on("track", lambda track: self.readers.append(asyncio.ensure_future(self._read(track))))

    async def _read(self, track) -> None:
        try:
            while True:
                await track.recv()
                if track.kind == "video":
                    self.video_frames += 1
        except (MediaStreamError, asyncio.CancelledError):
            pass

    async def subscribe_and_answer(self) -> dict:
        """Subscribe to everything and answer the offer; returns the answer's ack."""
        ack = await self.client.call("media:subscribe", {"tracks": "all"})
        assert ack == {"ok": True}, ack
        offer = await self.client.wait_for("media:offer")
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer["sdp"], type="offer"))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        return await self.client.call("media:answer", {"sdp": self.pc.localDescription.sdp})

    async def close(self) -> None:
        """What a reload does: the page's socket and peer connection go at once."""
        for task in self.readers:
            task.cancel()
        await asyncio.gather(self.client.close(), self.pc.close(), *self.readers, return_exceptions=True)


async def _publish_vp8(client: EventClient) -> RTCPeerConnection:
    pc = RTCPeerConnection(config())
    transceiver = pc.addTransceiver(MovingVideo(), direction="sendonly")
    caps = RTCRtpSender.getCapabilities("video").codecs
    transceiver.setCodecPreferences([c for c in caps if c.mimeType.lower() in ("video/vp8", "video/rtx")])
    await pc.setLocalDescription(await pc.createOffer())
    ack = await client.call("media:publish", {"sdp": pc.localDescription.sdp})
    assert ack["ok"], ack
    await pc.setRemoteDescription(RTCSessionDescription(sdp=ack["sdp"], type="answer"))
    return pc


async def test_immediate_rejoin_gets_video_every_round(sqlite_hub, clients):
    mid = await sqlite_hub.meeting()
    chair = await sqlite_hub.participant(mid, "主任", "chair")
    station = await sqlite_hub.participant(mid, "联络站", "deputy")
    pub = await sqlite_hub.connect(chair["token"])
    clients.append(pub)
    publisher = await _publish_vp8(pub)
    media = sqlite_hub.hub.media
    viewer: Viewer | None = None
    outcomes: list[str] = []
    started = time.monotonic()
    try:
        for round_no in range(ROUNDS):
            if viewer is not None:
                # Disconnect and reconnect at once: no waiting for the hub to
                # notice the old connection is gone.
                await viewer.close()
            client = await sqlite_hub.connect(station["token"])
            clients.append(client)
            viewer = Viewer(client)
            # The new connection starts with nothing of the old one's.
            fresh = (await client.call("state:sync"))["media"]
            assert fresh == {"available": True, "publishing": False, "consumers": 0}, (round_no, fresh)
            ack = await viewer.subscribe_and_answer()
            if not ack.get("ok"):
                outcomes.append(f"round {round_no}: answer refused {ack.get('error')}")
                continue
            try:
                await wait_until(lambda: viewer.video_frames >= FRAMES_PER_ROUND, timeout=10)
            except TimeoutError:
                outcomes.append(f"round {round_no}: {viewer.video_frames} video frames decoded")
                continue
            # The new connection was offered on its own socket, once: no offer
            # meant for another connection of the same participant reached it.
            offers = len(client.received["media:offer"])
            assert (await client.call("state:sync"))["media"]["consumers"] == 1
            outcomes.append("ok" if offers == 1 else f"round {round_no}: {offers} offers")
        failed = [o for o in outcomes if o != "ok"]
        print(f"\nimmediate rejoin: {ROUNDS - len(failed)}/{ROUNDS} rounds with video "
              f"in {time.monotonic() - started:.1f} s")
        assert not failed, failed
    finally:
        if viewer is not None:
            await viewer.close()
        await publisher.close()
    # Every old connection's peer was torn down; only the publisher's is left
    # once the publisher goes too.
    await pub.close()
    await wait_until(lambda: media.stats()["transports"] == 0, timeout=15)
