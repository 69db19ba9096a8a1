"""Media state of one client connection inside one meeting: its two
transports, its producers (by send-transport mid) and consumers (by
receive-transport mid).

Keyed by the connection, not the participant: a participant that reloads
has an old connection being torn down and a new one negotiating at the same
time, and the two must never share transports, offers or a lock."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Literal

from aiortc import RTCRtpTransceiver

from .consumer import Consumer
from .producer import Producer
from .transport import Transport

Want = set[str] | Literal["all"]


@dataclass(eq=False)
class Peer:
    meeting_id: str
    participant_id: str
    # The signalling connection (Socket.IO sid) this peer belongs to; server
    # offers go to it alone.
    connection_id: str
    send: Transport | None = None
    recv: Transport | None = None
    producers: dict[str, Producer] = field(default_factory=dict)  # send mid -> producer
    consumers: dict[str, Consumer] = field(default_factory=dict)  # recv mid -> consumer
    # Inactive receive transceivers kept for reuse, with the consumer that last
    # used each (so a recycled SSRC continues its sequence numbers).
    free: dict[str, tuple[RTCRtpTransceiver, Consumer | None]] = field(default_factory=dict)
    want: Want = field(default_factory=set)
    # A change happened while an offer was outstanding: offer again after the answer.
    dirty: bool = False
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    gone: bool = False

    def transports(self) -> list[Transport]:
        return [t for t in (self.send, self.recv) if t is not None]
