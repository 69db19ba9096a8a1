"""A Transport is one RTCPeerConnection of one participant: "send" (the
client publishes, we receive) or "recv" (we forward to the client).

aiortc still negotiates SDP, ICE and DTLS; below that, the transport takes
the decrypted packets away from aiortc's receivers/senders (via
aiortc_hooks) and gives the SFU a synchronous protect+sendto path."""

from __future__ import annotations

import logging
import struct
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection
from aiortc.rtcconfiguration import RTCBundlePolicy

from . import aiortc_hooks as hooks
from . import rtcp
from .fastpath import Link
from .rtp_listener import RtpListener

if TYPE_CHECKING:
    from .consumer import Consumer
    from .producer import Producer

logger = logging.getLogger(__name__)

_SSRC = struct.Struct("!I")


def make_configuration(ice_servers: list[dict] | None) -> RTCConfiguration:
    servers = [
        RTCIceServer(urls=s["urls"], username=s.get("username"), credential=s.get("credential"))
        for s in (ice_servers or [])
    ]
    # max-bundle: one ICE/DTLS transport per peer connection, so one SRTP
    # session and one socket carry all of a participant's streams.
    return RTCConfiguration(iceServers=servers, bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)


class TransportBase:
    """What every transport has, a client's peer connection or a pipe to
    another service: its RtpListener (who each SSRC belongs to), which only
    the transport touches, through these methods."""

    def __init__(self) -> None:
        self._listener = RtpListener()

    # -- who an SSRC belongs to (the RtpListener) ----------------------------------
    def add_producer(self, producer: Producer, *, ssrc: int | None, rtx_ssrc: int | None) -> None:
        """Receive `producer`'s packets on this (send) transport: by `ssrc`
        and `rtx_ssrc` if the offer named them, else by its MID."""
        self._listener.add_producer(producer, ssrc=ssrc, rtx_ssrc=rtx_ssrc)

    def set_producer_ssrcs(self, producer: Producer, *, ssrc: int | None, rtx_ssrc: int | None) -> None:
        """A renegotiation replaced the producer's track: new SSRCs."""
        self._listener.set_producer_ssrcs(producer, ssrc=ssrc, rtx_ssrc=rtx_ssrc)

    def remove_producer(self, producer: Producer) -> None:
        self._listener.remove_producer(producer)

    def set_mid_extension(self, extension_id: int | None) -> None:
        """The publisher's id for the MID header extension (None: unchanged)."""
        self._listener.set_mid_extension(extension_id)

    def add_consumer(self, consumer: Consumer) -> None:
        """Route the subscriber's RTCP about `consumer` to it (recv transport)."""
        self._listener.add_consumer(consumer)

    def remove_consumer(self, consumer: Consumer) -> None:
        self._listener.remove_consumer(consumer)

    def listener_stats(self) -> dict[str, int]:
        return self._listener.stats()


class Transport(TransportBase):
    def __init__(
        self,
        *,
        role: Literal["send", "recv"],
        participant_id: str,
        ice_servers: list[dict] | None,
        on_connected: Callable[[Transport], None],
        on_gone: Callable[[Transport], None],
        public_address: tuple[str, str | None] | None = None,
    ) -> None:
        self.role = role
        self.participant_id = participant_id
        self.pc = RTCPeerConnection(make_configuration(ice_servers))
        if public_address is not None:
            # Behind a 1:1 NAT: announce (public, private or None) in the SDP.
            hooks.announce_public_address(self.pc, *public_address)
        self.closed = False
        self.send_rtp: Callable[[bytes], None] | None = None
        self.send_rtcp: Callable[[bytes], None] | None = None
        # recv role: where the compiled fan-out sends this subscriber's packets
        self.link: Link | None = None
        self.rtcp_ssrc = 0
        self._hooked: list[object] = []  # DTLS transports already taken over
        self._on_connected = on_connected
        self._on_gone = on_gone
        # Who each SSRC belongs to: producers (send role), consumers (recv
        # role).  Only this transport touches it, through TransportBase.
        super().__init__()
        self._producer_for_ssrc = self._listener.producer_for_ssrc
        self._producer_for_rtx_ssrc = self._listener.producer_for_rtx_ssrc
        self._consumer_for_ssrc = self._listener.consumer_for_ssrc
        self.malformed = 0
        self.slow_path_packets = 0  # RTP that came the aiortc way (should stay 0)
        self.pc.on("connectionstatechange", self._on_state)

    @property
    def connected(self) -> bool:
        return self.send_rtcp is not None

    def hook(self) -> None:
        """Take over packet handling on every DTLS transport of the pc.
        Call after each set*Description: aiortc may create transports then."""
        for t in self.pc.getTransceivers():
            dtls = t.receiver.transport
            if any(dtls is seen for seen in self._hooked):
                continue
            self._hooked.append(dtls)
            rtp_in = self.rtp_in if self.role == "send" else self._rtp_ignored
            # Fast path: packets handled in the socket callback.  The
            # aiortc-level hooks stay as a backstop for anything queued.
            hooks.install_fast_receive(dtls, rtp_in, self.rtcp_in)
            hooks.install_rtp_handler(dtls, self._on_rtp_publisher if self.role == "send" else self._on_rtp_ignored)
            hooks.install_rtcp_handler(dtls, self._on_rtcp)
        for t in self.pc.getTransceivers():
            self.rtcp_ssrc = hooks.sender_ssrcs(t.sender)[0]
            break

    def _on_state(self) -> None:
        state = self.pc.connectionState
        if state == "connected" and not self.connected:
            dtls = hooks.pc_dtls_transport(self.pc)
            if dtls is not None:
                # ICE is done, so its sockets exist now.
                hooks.install_batched_reads(dtls)
                if self.role == "recv":
                    hooks.watch_nomination(dtls, lambda: self._route_changed(dtls))
            senders = hooks.make_sender(dtls) if dtls is not None else None
            if senders is not None:
                self.send_rtp, self.send_rtcp = senders
                if self.role == "recv":
                    self.link = self._make_link(dtls)
                self._on_connected(self)
        elif state in ("failed", "closed"):
            self.send_rtp = self.send_rtcp = None
            self._close_link()
            if not self.closed:
                self._on_gone(self)

    @staticmethod
    def _make_link(dtls: object) -> Link | None:
        route = hooks.outbound_route(dtls)  # type: ignore[arg-type]
        if route is None:
            return None
        try:
            return Link(*route)
        except (OSError, ValueError):
            # Consumers then forward through send_rtp (Python): slower, same packets.
            logger.warning("no compiled fan-out for this transport", exc_info=True)
            return None

    def _route_changed(self, dtls: object) -> None:
        """The nominated ICE pair changed (the client's network did): the
        compiled fan-out must follow it, as send_rtp/send_rtcp do by
        themselves.  Consumers are told only if the link came or went.
        Runs inside aioice's check handling: it must not raise."""
        if self.closed or self.send_rtp is None:
            return
        try:
            self._follow_route(dtls)
        except Exception:
            logger.exception("following the new ICE pair of %s failed", self.participant_id)

    def _follow_route(self, dtls: object) -> None:
        route = hooks.outbound_route(dtls)  # type: ignore[arg-type]
        if route is not None and self.link is not None:
            try:
                self.link.retarget(route[1], route[2])
                return
            except (OSError, ValueError):
                logger.warning("cannot move the fan-out to the new ICE pair", exc_info=True)
        self._close_link()
        self.link = self._make_link(dtls)
        self._on_connected(self)

    def _close_link(self) -> None:
        if self.link is not None:
            self.link.close()
            self.link = None

    # -- publisher side: the hot entry point -------------------------------------
    async def _on_rtp_publisher(self, data: bytes, arrival_time_ms: int) -> None:
        # aiortc's wall-clock arrival time is not the SFU's monotonic one.
        self.slow_path_packets += 1
        self.rtp_in(data, hooks.monotonic_ms())

    def rtp_in(self, data: bytes, arrival_time_ms: int) -> None:
        """One decrypted RTP packet from the publisher (never raises)."""
        if len(data) < 12:
            return
        ssrc = _SSRC.unpack_from(data, 8)[0]
        try:
            producer = self._producer_for_ssrc(ssrc)
            if producer is not None:
                producer.receive(data, arrival_time_ms)
                return
            producer = self._producer_for_rtx_ssrc(ssrc)
            if producer is not None:
                producer.receive_rtx(data, arrival_time_ms)
                return
            producer = self._listener.learn(ssrc, data)
            if producer is not None:
                producer.receive(data, arrival_time_ms)
        except Exception:
            # Runs inside the socket callback (or aiortc's receive loop, which
            # an exception would close): a malformed packet is only counted.
            self.malformed += 1

    async def _on_rtp_ignored(self, data: bytes, arrival_time_ms: int) -> None:
        return None  # subscribers do not send media on the receive transport

    def _rtp_ignored(self, data: bytes, arrival_time_ms: int) -> None:
        return None

    # -- RTCP from either side ------------------------------------------------------
    async def _on_rtcp(self, data: bytes) -> None:
        self.rtcp_in(data)

    def rtcp_in(self, data: bytes) -> None:
        """One decrypted RTCP compound packet (never raises)."""
        try:
            self._handle_rtcp(data)
        except Exception:  # runs inside the socket callback: contain everything
            self.malformed += 1
            logger.debug("bad RTCP from %s", self.participant_id, exc_info=True)

    def _handle_rtcp(self, data: bytes) -> None:
        # The listener routes by SSRC: a send transport knows only producers
        # (sender reports), a receive transport only consumers (feedback).
        self._listener.route_rtcp(rtcp.parse(data), time.monotonic())

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.send_rtp = self.send_rtcp = None
        self._close_link()
        self._listener.clear()
        try:
            await self.pc.close()
        except Exception:  # a half-broken pc must still count as closed
            logger.exception("closing peer connection failed")
