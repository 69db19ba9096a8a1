"""A PipeTransport carries one meeting's media between two MediaService
instances (processes or machines): mediasoup's PipeTransport, with liveness.

One UDP socket per router pair (per meeting per pair of services), reused
for every producer piped across it, in both directions.  For the routers a
pipe is a transport like any other: on the sending side it carries ordinary
Consumers ("pipe consumers", one per producer and remote service, however
many subscribers wait there), on the receiving side it feeds ordinary
Producers ("pipe producers", same id, participant, kind and source as the
original) demultiplexed by SSRC through an RtpListener.  RTCP crosses the
other way through the same listener: PLI/FIR and NACK from the destination
reach the pipe consumer, which asks the source producer for a keyframe or
answers from its packet cache; sender reports go forward for lip sync.

What is on the wire: RTP as the pipe consumer rewrites it (its own SSRC and
sequence space, the producer's payload type, the SFU's canonical header
extension ids), RTCP, and RTCP APP packets named PLNP for keepalive (every
`keepalive_interval`, carrying the SSRCs this end's floor mutes) and
goodbye.  SRTP/SRTCP (AES_CM_128_HMAC_SHA1_80) when both ends were given
keys, each end sending with its own key; plain RTP otherwise.

Liveness: an end that hears no valid packet (media, RTCP or keepalive; with
SRTP, only authenticated ones count) for `dead_after` seconds, or a goodbye,
declares the pipe dead and tells its owner (`on_closed`), which closes the
pipe producers and detaches the pipe consumers.  mediasoup's pipe never
notices a dead peer; a cascade across machines must.

The socket is read with loop.add_reader, in batches (a video frame arrives
as a burst; one loop round per datagram costs more than the packet), and
written synchronously (a full send buffer drops the packet; NACK repairs)."""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import struct
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pylibsrtp
from aiortc.rtp import RtcpByePacket

from . import aiortc_hooks as hooks
from . import rtcp
from .fastpath import Link
from .pipe_wire import (
    APP_GOODBYE,
    APP_KEEPALIVE,
    SRTP_PROFILE,
    PipeInfo,
    app_packet,
    new_srtp_key,
    pack_ssrcs,
    parse_app,
    srtp_session,
    unpack_ssrcs,
)
from .transport import TransportBase

if TYPE_CHECKING:
    from .consumer import Consumer
    from .producer import Producer

logger = logging.getLogger(__name__)

_SSRC = struct.Struct("!I")

KEEPALIVE_INTERVAL = 1.0  # s between keepalives
DEAD_AFTER = 5.0  # s of silence after which the far end is dead
CONNECT_TIMEOUT = 30.0  # s an opened pipe may wait for connect()
READ_BATCH = 16  # datagrams read per wake-up: a pipe carries many streams
MAX_DATAGRAM = 65535

# on_closed(pipe, reason): "timeout" | "goodbye" | "unconnected"
ClosedCallback = Callable[["PipeTransport", str], None]
ProducerGoneCallback = Callable[["PipeTransport", "Producer"], None]


class PipeTransport(TransportBase):
    def __init__(
        self,
        *,
        meeting_id: str,
        remote_key: str,
        bind_host: str = "127.0.0.1",
        announced_host: str | None = None,
        ports: tuple[int, int] = (0, 0),
        srtp: bool = True,
        keepalive_interval: float = KEEPALIVE_INTERVAL,
        dead_after: float = DEAD_AFTER,
        connect_timeout: float = CONNECT_TIMEOUT,
        on_closed: ClosedCallback | None = None,
        on_producer_gone: ProducerGoneCallback | None = None,
    ) -> None:
        self.meeting_id = meeting_id
        self.remote_key = remote_key
        self.keepalive_interval = keepalive_interval
        self.dead_after = dead_after
        self.connect_timeout = connect_timeout
        self._on_closed = on_closed
        self._on_producer_gone = on_producer_gone
        self._sock = self._bind(bind_host, ports)
        host, port = self._sock.getsockname()[:2]
        self._srtp_key = new_srtp_key() if srtp else None
        self.info = PipeInfo(
            host=announced_host or host,
            port=port,
            srtp_key=self._srtp_key,
            srtp_profile=SRTP_PROFILE if srtp else None,
        )
        self.remote: PipeInfo | None = None
        self.rtcp_ssrc = random.getrandbits(32) or 1
        self._tx: pylibsrtp.Session | None = None
        self._rx: pylibsrtp.Session | None = None
        self._protect: Callable[[bytes | bytearray], bytes | None] | None = None
        self.link: Link | None = None
        self.send_rtp: Callable[[bytes | bytearray], None] | None = None
        self.send_rtcp: Callable[[bytes], None] | None = None
        super().__init__()
        self._producer_for_ssrc = self._listener.producer_for_ssrc
        self.consumers: dict[str, Consumer] = {}  # producer id -> pipe consumer (out)
        self.producers: dict[str, Producer] = {}  # producer id -> pipe producer (in)
        self._paused_by_far_end: set[int] = set()
        self.opened = time.monotonic()
        self.last_heard = 0.0
        self.closed = False
        self._reading = False
        # counters
        self.packets_in = 0
        self.packets_out_python = 0  # RTP sent from Python (plain RTP, unsteady, NACK answers)
        self.rtcp_in = 0
        self.rtcp_out = 0
        self.keepalives_in = 0
        self.malformed = 0
        self.rejected = 0  # refused by SRTP
        self.unknown_ssrc = 0
        self.refused = 0  # ICMP port unreachable: the far socket is gone (liveness decides)
        self._task = asyncio.get_running_loop().create_task(
            self._watch(), name=f"pipe-{meeting_id}-{remote_key}"
        )

    @staticmethod
    def _bind(host: str, ports: tuple[int, int]) -> socket.socket:
        """A non-blocking UDP socket on `host`, on the first free port of
        `ports` (inclusive; (0, 0): any port the kernel picks)."""
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        low, high = ports
        last: OSError | None = None
        for port in range(low, high + 1) if low else [0]:
            sock = socket.socket(family, socket.SOCK_DGRAM)
            try:
                sock.bind((host, port))
            except OSError as exc:
                sock.close()
                last = exc
                continue
            sock.setblocking(False)
            return sock
        raise OSError(f"no free pipe port in {low}-{high} on {host}") from last

    # -- lifecycle ----------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self.send_rtcp is not None

    @property
    def srtp(self) -> bool:
        return self._srtp_key is not None

    async def connect(self, remote: PipeInfo) -> None:
        """Send to and hear only from the far end's address from now on.
        Both ends must agree on SRTP: a key on one side only is refused."""
        if self.closed:
            raise ValueError("pipe is closed")
        if self.connected:
            if remote != self.remote:
                raise ValueError("pipe is already connected elsewhere")
            return
        if (remote.srtp_key is None) != (self._srtp_key is None):
            raise ValueError("one end of the pipe uses SRTP and the other does not")
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(remote.host, remote.port, family=self._sock.family, type=socket.SOCK_DGRAM)
        if not infos:
            raise ValueError(f"cannot resolve {remote.host}")
        address = infos[0][4]
        if self.closed:
            raise ValueError("pipe is closed")
        if self.connected:  # a concurrent connect() won the race
            if remote != self.remote:
                raise ValueError("pipe is already connected elsewhere")
            return
        if self._srtp_key is not None and remote.srtp_key is not None:
            self._tx = srtp_session(self._srtp_key, outbound=True)
            self._rx = srtp_session(remote.srtp_key, outbound=False)
        # connect(2): the kernel drops datagrams from anyone else, as
        # mediasoup's pipe does in user space.
        self._sock.connect(address)
        self.remote = remote
        send = self._sock.send
        tx = self._tx
        if tx is not None:
            protect = hooks.protect_fn(tx)
            protect_rtcp = tx.protect_rtcp
            try:
                # Steady pipe consumers are sent by the compiled fan-out,
                # which SRTP-protects; plain RTP always goes through Python.
                self.link = Link(tx, self._sock, address)
            except (OSError, ValueError):
                logger.warning("no compiled fan-out for pipe %s", self.remote_key, exc_info=True)

            def send_rtp(data: bytes | bytearray) -> None:
                packet = protect(data)
                if packet is not None:
                    self.packets_out_python += 1
                    try:
                        send(packet)
                    except OSError:
                        pass

            def send_rtcp(data: bytes) -> None:
                self.rtcp_out += 1
                try:
                    send(protect_rtcp(data))
                except (OSError, pylibsrtp.Error, ValueError):
                    pass

        else:

            def send_rtp(data: bytes | bytearray) -> None:
                self.packets_out_python += 1
                try:
                    send(data)
                except OSError:
                    pass

            def send_rtcp(data: bytes) -> None:
                self.rtcp_out += 1
                try:
                    send(data)
                except OSError:
                    pass

        self.send_rtp, self.send_rtcp = send_rtp, send_rtcp
        self.last_heard = time.monotonic()  # the far end gets dead_after from now
        loop.add_reader(self._sock.fileno(), self._on_readable)
        self._reading = True
        for consumer in self.consumers.values():
            consumer.set_sender(send_rtp, send_rtcp, self.rtcp_ssrc, self.link)
        for producer in self.producers.values():
            producer.rtcp_out, producer.rtcp_ssrc = send_rtcp, self.rtcp_ssrc
        self._keepalive()

    def close(self, *, goodbye: bool = True) -> None:
        """Release socket, task and SRTP sessions.  The owner has already
        closed the pipe's producers and consumers (they belong to its router)."""
        if self.closed:
            return
        if goodbye and self.send_rtcp is not None:
            self.send_rtcp(app_packet(APP_GOODBYE, self.rtcp_ssrc))
        self.closed = True
        for consumer in self.consumers.values():
            consumer.set_sender(None, None, 0, None)
        for producer in self.producers.values():
            producer.rtcp_out = None
        self.consumers.clear()
        self.producers.clear()
        self._listener.clear()
        self.send_rtp = self.send_rtcp = None
        if self.link is not None:
            self.link.close()
            self.link = None
        if self._reading:
            asyncio.get_running_loop().remove_reader(self._sock.fileno())
            self._reading = False
        self._sock.close()
        self._tx = self._rx = None
        task = self._task
        if task is not None and task is not asyncio.current_task():
            task.cancel()
        self._task = None

    def abort(self) -> None:
        """Stop dead, as a crashed process would: no goodbye, nothing more
        sent or read; the far end must find out by itself (tests)."""
        self.close(goodbye=False)

    @property
    def task_count(self) -> int:
        return 0 if self._task is None or self._task.done() else 1

    # -- what is piped ---------------------------------------------------------
    def add_consumer(self, consumer: Consumer) -> None:
        """Send `consumer` (a pipe consumer of a local producer) over the pipe."""
        self.consumers[consumer.producer.id] = consumer
        super().add_consumer(consumer)
        if self.connected:
            consumer.set_sender(self.send_rtp, self.send_rtcp, self.rtcp_ssrc, self.link)

    def remove_consumer(self, consumer: Consumer) -> None:
        """Stop sending `consumer`; an RTCP BYE tells the far end its pipe
        producer is gone (the signalling layer says so too: UDP may lose it)."""
        if self.consumers.get(consumer.producer.id) is consumer:
            del self.consumers[consumer.producer.id]
        super().remove_consumer(consumer)
        self._paused_by_far_end.discard(consumer.ssrc)
        if self.send_rtcp is not None:
            self.send_rtcp(bytes(RtcpByePacket(sources=[consumer.ssrc])))

    def add_producer(self, producer: Producer, *, ssrc: int | None, rtx_ssrc: int | None = None) -> None:
        """Feed `producer` (a pipe producer) with what arrives on `ssrc`."""
        self.producers[producer.id] = producer
        super().add_producer(producer, ssrc=ssrc, rtx_ssrc=rtx_ssrc)
        if self.connected:
            producer.rtcp_out, producer.rtcp_ssrc = self.send_rtcp, self.rtcp_ssrc

    def remove_producer(self, producer: Producer) -> None:
        if self.producers.get(producer.id) is producer:
            del self.producers[producer.id]
        super().remove_producer(producer)
        producer.rtcp_out = None

    def ssrc_in_use(self, ssrc: int) -> bool:
        return (
            self._listener.producer_for_ssrc(ssrc) is not None
            or self._listener.consumer_for_ssrc(ssrc) is not None
            or ssrc == self.rtcp_ssrc
        )

    # -- receiving -------------------------------------------------------------
    def _on_readable(self) -> None:
        sock = self._sock
        for _ in range(READ_BATCH):
            if self.closed:
                return
            try:
                data = sock.recv(MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionRefusedError:
                # ICMP port unreachable for something we sent: the far
                # socket is closed now, but a restart may be on its way.
                self.refused += 1
                continue
            except OSError:
                return
            try:
                self._datagram(data)
            except Exception:  # a reader callback must never raise
                self.malformed += 1
                logger.debug("bad datagram on pipe %s", self.remote_key, exc_info=True)

    def _datagram(self, data: bytes) -> None:
        if len(data) < 8 or not 127 < data[0] < 192:
            self.malformed += 1
            return
        is_rtcp = 192 <= data[1] <= 208  # RFC 5761 demultiplexing
        rx = self._rx
        if rx is not None:
            try:
                data = rx.unprotect_rtcp(data) if is_rtcp else rx.unprotect(data)
            except (pylibsrtp.Error, ValueError):
                # Replayed (a NACK answered twice), forged or not ours: not a
                # sign of life either.
                self.rejected += 1
                return
        now = time.monotonic()
        self.last_heard = now
        if not is_rtcp:
            if len(data) < 12:
                return
            producer = self._producer_for_ssrc(_SSRC.unpack_from(data, 8)[0])
            if producer is None:
                self.unknown_ssrc += 1  # piped before the far end announced it, or just unpiped
                return
            self.packets_in += 1
            producer.receive(data, int(now * 1000))
            return
        self.rtcp_in += 1
        app = parse_app(data)
        if app is not None:
            self._on_app(*app)
            return
        packets = rtcp.parse(data)
        for packet in packets:
            if isinstance(packet, RtcpByePacket):
                for ssrc in packet.sources:
                    producer = self._producer_for_ssrc(ssrc)
                    if producer is not None and self._on_producer_gone is not None:
                        self._on_producer_gone(self, producer)
        self._listener.route_rtcp(packets, now)

    def _on_app(self, subtype: int, data: bytes) -> None:
        if subtype == APP_KEEPALIVE:
            self.keepalives_in += 1
            self._apply_far_floor(unpack_ssrcs(data))
        elif subtype == APP_GOODBYE:
            self._die("goodbye")

    def _apply_far_floor(self, muted: set[int]) -> None:
        """The far router's allowlist mutes these pipe streams: pause their
        pipe consumers (nothing crosses), resume the rest (a resume starts a
        new segment that continues the numbering)."""
        if muted == self._paused_by_far_end:
            return
        for consumer in self.consumers.values():
            if consumer.ssrc in muted:
                consumer.pause()
            elif consumer.ssrc in self._paused_by_far_end:
                consumer.resume()
        self._paused_by_far_end = {c.ssrc for c in self.consumers.values() if c.ssrc in muted}

    # -- liveness ----------------------------------------------------------------
    def _keepalive(self) -> None:
        """Send a keepalive now: also how a floor change reaches the far end
        without waiting for the next tick."""
        if self.send_rtcp is None:
            return
        # Pipe producers this end's router mutes (floor control): the far
        # end need not send them.
        muted = [p.ssrc for p in self.producers.values() if not p.forwarding and p.ssrc is not None]
        self.send_rtcp(app_packet(APP_KEEPALIVE, self.rtcp_ssrc, pack_ssrcs(muted)))

    def send_floor(self) -> None:
        self._keepalive()

    async def _watch(self) -> None:
        try:
            while not self.closed:
                await asyncio.sleep(self.keepalive_interval)
                now = time.monotonic()
                if not self.connected:
                    if now - self.opened > self.connect_timeout:
                        self._die("unconnected")
                        return
                    continue
                if now - self.last_heard > self.dead_after:
                    self._die("timeout")
                    return
                self._keepalive()
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("pipe %s watchdog failed", self.remote_key)
            self._die("error")

    def _die(self, reason: str) -> None:
        if self.closed:
            return
        logger.info("pipe %s/%s is dead: %s", self.meeting_id, self.remote_key, reason)
        if self._on_closed is not None:
            self._on_closed(self, reason)
        else:
            self.close(goodbye=False)

    def stats(self) -> dict[str, Any]:
        return {
            "remote_key": self.remote_key,
            "local": {"host": self.info.host, "port": self.info.port},
            "remote": None if self.remote is None else {"host": self.remote.host, "port": self.remote.port},
            "srtp": self.srtp,
            "connected": self.connected,
            "consumers": sorted(self.consumers),  # producer ids piped out
            "producers": sorted(self.producers),  # producer ids piped in
            "packets_in": self.packets_in,
            "packets_out_python": self.packets_out_python,
            "rtcp_in": self.rtcp_in,
            "rtcp_out": self.rtcp_out,
            "keepalives_in": self.keepalives_in,
            "malformed": self.malformed,
            "rejected": self.rejected,
            "unknown_ssrc": self.unknown_ssrc,
            "refused": self.refused,
            "link_errors": self.link.errors if self.link is not None else 0,
            "silent_for": None if not self.last_heard else round(time.monotonic() - self.last_heard, 3),
        }
