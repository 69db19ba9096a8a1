"""Placeholder track for the receive transport's sendonly transceivers.

aiortc needs a track on each sender to negotiate the m-line (codecs, SSRCs,
msid).  Media never flows through it: the SFU writes packets below the
sender.  recv() parks until the track stops, so the sender's RTP loop idles
instead of polling (it sleeps 20 ms in a loop when it has no track)."""

from __future__ import annotations

import asyncio

from aiortc.mediastreams import MediaStreamError, MediaStreamTrack


class ForwardingTrack(MediaStreamTrack):
    def __init__(self, kind: str, track_id: str) -> None:
        super().__init__()
        self.kind = kind
        # The msid track id the subscriber sees: the producer id.
        self._id = track_id
        self._ended: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def recv(self) -> None:  # type: ignore[override]
        await asyncio.shield(self._ended)
        raise MediaStreamError

    def stop(self) -> None:
        if not self._ended.done():
            self._ended.set_result(None)
        super().stop()
