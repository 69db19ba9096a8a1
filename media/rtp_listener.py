"""An RtpListener is a transport's table of who an SSRC belongs to.

On a send transport (the client publishes) it maps each received SSRC to its
producer: by the SSRCs the offer named (`a=ssrc`), by RTX SSRC, and by MID
for offers without SSRCs, where the first packet's MID header extension
binds its SSRC.  On a receive transport it maps the SSRCs the SFU sends
with to their consumer, so the subscriber's RTCP (NACK, PLI, FIR, REMB,
receiver reports) reaches the right one.  As in mediasoup's RTC::RtpListener,
the transport holds one and nothing else touches its tables; unlike
mediasoup's there is no RID table, because Plenary takes no simulcast layers
(their SSRCs end up unknown and are ignored).

The listener is also the one writer of a producer's `ssrc`/`rtx_ssrc`: an
SSRC is decided when the producer is added, when the offer replaces the
track, or when it is learnt from the MID extension.

The per-packet lookups (`producer_for_ssrc`, `producer_for_rtx_ssrc`,
`consumer_for_ssrc`) are the dicts' own bound `get`, so a lookup costs what
the bare dict did."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from . import rtcp
from .rtp_parse import find_extension

if TYPE_CHECKING:
    from .consumer import Consumer
    from .producer import Producer

# SSRCs that matched nothing are remembered so their packets are not parsed
# again; past this many the memory starts over (a client cycling SSRCs).
MAX_UNKNOWN_SSRCS = 64


class RtpListener:
    def __init__(self) -> None:
        self._by_ssrc: dict[int, Producer] = {}
        self._by_rtx_ssrc: dict[int, Producer] = {}
        self._by_mid: dict[str, Producer] = {}
        self._consumers: dict[int, Consumer] = {}
        self._unknown: set[int] = set()
        # The publisher's id for the MID header extension (urn:ietf:params:rtp-hdrext:sdes:mid).
        self.mid_extension_id: int | None = None
        # Hot-path lookups: bound methods of dicts that are never replaced.
        self.producer_for_ssrc: Callable[[int], Producer | None] = self._by_ssrc.get
        self.producer_for_rtx_ssrc: Callable[[int], Producer | None] = self._by_rtx_ssrc.get
        self.consumer_for_ssrc: Callable[[int], Consumer | None] = self._consumers.get

    # -- producers (send role) ------------------------------------------------
    def add_producer(self, producer: Producer, *, ssrc: int | None, rtx_ssrc: int | None) -> None:
        """Route `producer`'s SSRCs (None: learn it from the MID extension)
        and its MID to it."""
        self._by_mid[producer.mid] = producer
        self.set_producer_ssrcs(producer, ssrc=ssrc, rtx_ssrc=rtx_ssrc)

    def set_producer_ssrcs(self, producer: Producer, *, ssrc: int | None, rtx_ssrc: int | None) -> None:
        """The producer's SSRCs are now these (a track replaced upstream);
        the old ones no longer reach it."""
        self._unbind(self._by_ssrc, producer.ssrc, producer)
        self._unbind(self._by_rtx_ssrc, producer.rtx_ssrc, producer)
        producer.ssrc, producer.rtx_ssrc = ssrc, rtx_ssrc
        if ssrc is not None:
            self._by_ssrc[ssrc] = producer
            self._unknown.discard(ssrc)
        if rtx_ssrc is not None:
            self._by_rtx_ssrc[rtx_ssrc] = producer
            self._unknown.discard(rtx_ssrc)

    def remove_producer(self, producer: Producer) -> None:
        """Forget every SSRC and the MID that lead to `producer`."""
        if self._by_mid.get(producer.mid) is producer:
            del self._by_mid[producer.mid]
        for table in (self._by_ssrc, self._by_rtx_ssrc):
            for ssrc in [s for s, p in table.items() if p is producer]:
                del table[ssrc]

    def producer_for_mid(self, mid: str) -> Producer | None:
        return self._by_mid.get(mid)

    def set_mid_extension(self, extension_id: int | None) -> None:
        """The publisher's MID extension id from the applied offer; an offer
        that names none keeps the one already known."""
        if extension_id is not None:
            self.mid_extension_id = extension_id

    def learn(self, ssrc: int, packet: bytes) -> Producer | None:
        """A packet on an SSRC no table knows (offer without a=ssrc lines):
        bind the SSRC by the packet's MID extension and payload type.
        Returns the producer when `packet` is its media and should be
        received; an RTX SSRC is bound but its first packet dropped (it
        repairs a loss nobody asked about)."""
        if ssrc in self._unknown or self.mid_extension_id is None:
            return None
        value = find_extension(packet, self.mid_extension_id)
        producer = self._by_mid.get(value.decode("ascii", "replace")) if value else None
        if producer is None:
            return None  # perhaps its m-line is not negotiated yet: try again later
        pt = packet[1] & 0x7F
        if pt == producer.payload_type and producer.ssrc is None:
            producer.ssrc = ssrc
            self._by_ssrc[ssrc] = producer
            return producer
        if pt == producer.rtx_payload_type and producer.rtx_ssrc is None:
            producer.rtx_ssrc = ssrc
            self._by_rtx_ssrc[ssrc] = producer
            return None
        if len(self._unknown) > MAX_UNKNOWN_SSRCS:
            self._unknown.clear()
        self._unknown.add(ssrc)
        return None

    # -- consumers (recv role) --------------------------------------------------
    def add_consumer(self, consumer: Consumer) -> None:
        """Route the subscriber's RTCP about `consumer`'s SSRC and RTX SSRC to it."""
        self._consumers[consumer.ssrc] = consumer
        self._consumers[consumer.rtx_ssrc] = consumer

    def remove_consumer(self, consumer: Consumer) -> None:
        """Forget `consumer`'s SSRCs, unless a consumer on a recycled
        transceiver already carries them on."""
        for ssrc in (consumer.ssrc, consumer.rtx_ssrc):
            self._unbind(self._consumers, ssrc, consumer)

    # -- both --------------------------------------------------------------------
    def route_rtcp(self, packets: list[rtcp.AnyRtcpPacket], now: float) -> None:
        """Hand each RTCP packet to whom its SSRC names: a sender report to
        the producer it describes; NACK, PLI/FIR, REMB and reception reports
        to the consumer they are about.  A client transport holds only one
        side (producers or consumers), a pipe may hold both; packets naming
        nobody here are ignored."""
        for packet in packets:
            if isinstance(packet, rtcp.RtcpRtpfbPacket):
                if packet.fmt == rtcp.RTCP_RTPFB_NACK:
                    consumer = self.consumer_for_ssrc(packet.media_ssrc)
                    if consumer is not None:
                        consumer.on_nack(packet.lost)
            elif isinstance(packet, rtcp.RtcpPsfbPacket):
                if packet.fmt == rtcp.RTCP_PSFB_PLI:
                    consumer = self.consumer_for_ssrc(packet.media_ssrc)
                    if consumer is not None:
                        consumer.on_keyframe_request()
                elif packet.fmt == rtcp.RTCP_PSFB_FIR:
                    for ssrc in rtcp.fir_ssrcs(packet):
                        consumer = self.consumer_for_ssrc(ssrc)
                        if consumer is not None:
                            consumer.on_keyframe_request()
                elif packet.fmt == rtcp.RTCP_PSFB_APP:
                    try:
                        bitrate, ssrcs = rtcp.unpack_remb_fci(packet.fci)
                    except ValueError:
                        continue
                    for ssrc in ssrcs:
                        consumer = self.consumer_for_ssrc(ssrc)
                        if consumer is not None:
                            consumer.on_remb(bitrate, now)
            elif isinstance(packet, (rtcp.RtcpRrPacket, rtcp.RtcpSrPacket)):
                if isinstance(packet, rtcp.RtcpSrPacket):
                    producer = self.producer_for_ssrc(packet.ssrc)
                    if producer is not None:
                        info = packet.sender_info
                        producer.on_sender_report(info.ntp_timestamp, info.rtp_timestamp)
                for report in packet.reports:
                    consumer = self.consumer_for_ssrc(report.ssrc)
                    # A report on the RTX SSRC is about retransmissions only.
                    if consumer is not None and report.ssrc == consumer.ssrc:
                        consumer.on_receiver_report(report.fraction_lost, now)

    def clear(self) -> None:
        for table in (self._by_ssrc, self._by_rtx_ssrc, self._by_mid, self._consumers):
            table.clear()  # cleared, not replaced: the bound lookups stay valid
        self._unknown.clear()

    def stats(self) -> dict[str, int]:
        return {
            "ssrcs": len(self._by_ssrc),
            "rtx_ssrcs": len(self._by_rtx_ssrc),
            "mids": len(self._by_mid),
            "consumer_ssrcs": len(self._consumers),
            "unknown_ssrcs": len(self._unknown),
        }

    @staticmethod
    def _unbind(table: dict, key: object, owner: object) -> None:
        if key is not None and table.get(key) is owner:
            del table[key]
