"""Every use of aiortc/aioice private names lives here, and nowhere else.

aiortc offers no public way to get at encoded RTP packets or to send raw
ones (aiortc issue 449), so the SFU reaches below its receivers and senders.
These names are private and move between releases: aiortc is pinned in
pyproject.toml and tests/media/test_aiortc_hooks.py fails loudly if any of
them disappears.  If you upgrade aiortc, fix this module first.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import socket
import time

import aioice.ice
import pylibsrtp
from aiortc import RTCPeerConnection, RTCRtpSender, RTCRtpTransceiver
from aiortc import sdp as aiortc_sdp
from aiortc.rtcdtlstransport import RTCDtlsTransport
from aiortc.rtcrtpparameters import RTCRtpCodecParameters, RTCRtpHeaderExtensionParameters

RtpHandler = Callable[[bytes, int], Awaitable[None]]
RtcpHandler = Callable[[bytes], Awaitable[None]]
SendFn = Callable[[bytes], None]

# Names this module depends on, checked by the hook test.
REQUIRED_DTLS_ATTRS = ("_handle_rtp_data", "_handle_rtcp_data", "_tx_srtp", "_rx_srtp", "_send_rtp", "_transport")
REQUIRED_ICE_CONNECTION_ATTRS = ("_nominated", "data_received", "_protocols")
REQUIRED_STUN_PROTOCOL_ATTRS = ("receiver", "local_candidate", "transport", "datagram_received", "error_received")
REQUIRED_SENDER_ATTRS = ("_ssrc", "_rtx_ssrc", "_stream_id", "_send_rtcp")
REQUIRED_TRANSCEIVER_ATTRS = ("_codecs", "_headerExtensions")
REQUIRED_SRTP_SESSION_ATTRS = ("_srtp", "_cdata", "_buffer")
REQUIRED_DATAGRAM_TRANSPORT_ATTRS = ("_sock", "max_size")  # asyncio's selector datagram transport


# --- loopback candidates -------------------------------------------------

_original_get_host_addresses = aioice.ice.get_host_addresses


def _get_host_addresses_with_loopback(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    addresses = _original_get_host_addresses(use_ipv4, use_ipv6)
    if use_ipv4 and "127.0.0.1" not in addresses:
        addresses.append("127.0.0.1")
    return addresses


def enable_loopback_candidates() -> None:
    """Make aioice gather 127.0.0.1 host candidates (it leaves them out).

    Process-wide and idempotent: needed when the SFU and its peers only share
    the loopback interface (tests, single-host demos)."""
    aioice.ice.get_host_addresses = _get_host_addresses_with_loopback


def disable_loopback_candidates() -> None:
    aioice.ice.get_host_addresses = _original_get_host_addresses


def loopback_candidates_enabled() -> bool:
    return aioice.ice.get_host_addresses is _get_host_addresses_with_loopback


# --- 1:1 NAT: announcing a public address -----------------------------------

REQUIRED_ICE_GATHERER_ATTRS = ("_connection",)


def parse_public_address(value: str) -> tuple[str, str | None]:
    """`PUBLIC` or `PUBLIC/PRIVATE` (coturn's external-ip form), both IPv4:
    (public, private or None).  ValueError for anything else."""
    import ipaddress

    public, slash, private = value.strip().partition("/")
    addresses = [public] + ([private] if slash else [])
    for address in addresses:
        if not isinstance(ipaddress.ip_address(address.strip()), ipaddress.IPv4Address):
            raise ValueError(f"not an IPv4 address: {address!r}")
    return public.strip(), (private.strip() if slash else None)


def announce_public_address(pc: RTCPeerConnection, public: str, private: str | None = None) -> None:
    """Make the pc announce `public` as the address of its IPv4 host
    candidates (every one, or only the one bound to `private`): a server
    behind a 1:1 NAT, whose interfaces only have the private address
    (Janus's nat_1_1_mapping, mediasoup's announcedIp).

    Only what the SDP says changes: the sockets stay bound where aioice
    bound them, keep their ports (a 1:1 NAT keeps ports), and ICE checks
    and media are sent from and received on them as before.  Relay,
    server-reflexive and IPv6 candidates are left alone.  Call before the
    pc's first setLocalDescription (where aiortc gathers); idempotent."""
    original = pc.setLocalDescription
    if getattr(original, "plenary_announced", None) == (public, private):
        return
    original = getattr(original, "plenary_original", original)

    async def setLocalDescription(sessionDescription: Any = None) -> None:
        # The ICE gatherers exist by now (transceivers are added, or made by
        # setRemoteDescription, before this), and gathering happens inside.
        for t in pc.getTransceivers():
            _announce_on(t.receiver.transport.transport.iceGatherer._connection, public, private)
        await original(sessionDescription)

    setLocalDescription.plenary_announced = (public, private)  # type: ignore[attr-defined]
    setLocalDescription.plenary_original = original  # type: ignore[attr-defined]
    pc.setLocalDescription = setLocalDescription  # type: ignore[method-assign]


def _announce_on(connection: aioice.ice.Connection, public: str, private: str | None) -> None:
    gather = connection.gather_candidates
    if getattr(gather, "plenary_announced", False):
        return

    async def gather_candidates() -> None:
        await gather()
        for candidate in connection.local_candidates:  # aioice's own objects, in a new list
            if candidate.type != "host" or ":" in candidate.host:
                continue
            if private is None or candidate.host == private:
                # aioice's pairs read the address only for logs: they send
                # on the candidate's socket.
                candidate.host = public

    gather_candidates.plenary_announced = True  # type: ignore[attr-defined]
    connection.gather_candidates = gather_candidates  # type: ignore[method-assign]


# --- DTLS transport: where decrypted packets arrive ------------------------

def install_rtp_handler(dtls: RTCDtlsTransport, handler: RtpHandler) -> None:
    """Route every decrypted RTP packet of this transport to `handler`
    (data, arrival_time_ms) instead of aiortc's receivers, so nothing is
    parsed into RtpPacket objects, jitter-buffered or decoded."""
    dtls._handle_rtp_data = handler  # type: ignore[method-assign]


def install_rtcp_handler(dtls: RTCDtlsTransport, handler: RtcpHandler) -> None:
    """Route every decrypted RTCP compound packet to `handler` instead of
    aiortc's senders/receivers (which would answer NACK/PLI from an empty
    history and set a keyframe flag on an encoder that does not exist)."""
    dtls._handle_rtcp_data = handler  # type: ignore[method-assign]


ProtectFn = Callable[[bytes | bytearray], "bytes | None"]


def fast_protect(session: pylibsrtp.Session) -> ProtectFn | None:
    """SRTP-protect straight from a bytearray into the session's own buffer.

    pylibsrtp's `protect` wants `bytes` (one more copy), allocates a length
    cell per call and checks its input: ~1 µs of the ~3 µs a protect costs.
    This calls libsrtp the same way with none of that.  The result is
    copied out as `bytes` (as cheap as a memoryview slice, immutable, and
    not tracked by the garbage collector, whose full passes would otherwise
    come round more often and stall the loop).  None if pylibsrtp's
    internals moved: callers then use `session.protect`."""
    try:
        from pylibsrtp._binding import ffi, lib

        srtp = session._srtp[0]
        cdata = session._cdata
        buffer = session._buffer
        limit = len(buffer) - pylibsrtp.SRTP_MAX_TRAILER_LEN
        srtp_protect = lib.srtp_protect
    except (ImportError, AttributeError, TypeError):
        return None
    len_p = ffi.new("int *")

    def protect(data: bytes | bytearray, _keep: object = session) -> bytes | None:
        n = len(data)
        if n > limit:
            return None
        buffer[0:n] = data
        len_p[0] = n
        if srtp_protect(srtp, cdata, len_p):
            return None
        return buffer[0 : len_p[0]]

    return protect


def monotonic_ms() -> int:
    return int(time.monotonic() * 1000)


def install_fast_receive(
    dtls: RTCDtlsTransport, on_rtp: Callable[[bytes, int], None], on_rtcp: Callable[[bytes], None]
) -> None:
    """Decrypt and handle SRTP/SRTCP right in aioice's datagram callback.

    aiortc queues every datagram (asyncio.Queue), wakes the DTLS task in a
    later loop iteration and only then decrypts: on these machines that hop
    costs more than everything the SFU does per packet.  DTLS and anything
    before the SRTP keys exist still take aiortc's path.  `on_rtp(data,
    arrival_ms)` / `on_rtcp(data)` must not raise (they run inside asyncio's
    datagram callback) and arrival_ms is time.monotonic() in ms."""
    connection = dtls._transport._connection
    original = connection.data_received
    if getattr(original, "plenary_fast", False):
        return

    def data_received(data: bytes, component: int) -> None:
        if len(data) > 1 and 127 < data[0] < 192:
            srtp = dtls._rx_srtp
            if srtp is not None:
                try:
                    if 192 <= data[1] <= 208:  # RTCP packet types (RFC 5761 demux)
                        on_rtcp(srtp.unprotect_rtcp(data))
                    else:
                        on_rtp(srtp.unprotect(data), int(time.monotonic() * 1000))
                except (pylibsrtp.Error, ValueError):
                    # Replayed or forged (Error), or over 1500 bytes
                    # (ValueError): drop, as aiortc does; anyone can send these.
                    pass
                return
        original(data, component)

    data_received.plenary_fast = True  # type: ignore[attr-defined]
    connection.data_received = data_received


# Datagrams read per socket wake-up: a video frame's burst, not more, so one
# publisher cannot hold the loop long (each packet may go out 110 times).
READ_BATCH = 8
# The largest UDP payload.  asyncio's datagram transport asks recvfrom for
# 256 KiB, and allocating that costs ~16 µs per datagram here (2 µs at 64 KiB).
MAX_DATAGRAM = 65535


def install_batched_reads(dtls: RTCDtlsTransport) -> None:
    """Read every datagram already queued on the transport's ICE sockets
    (up to READ_BATCH) in one wake-up, and hand RTP/RTCP to the connection
    without aioice's STUN parse.

    asyncio reads one datagram per readiness event and goes round its loop
    (epoll, timers, handles) before the next; a video frame arrives as a
    burst of packets, so the rounds cost more than the packets.  RTP/RTCP
    never look like STUN (RFC 7983: first byte 128-191), and for anything
    else aioice's own datagram_received runs as before.  asyncio's own read
    of the first datagram is cut to MAX_DATAGRAM too."""
    connection = dtls._transport._connection
    for protocol in connection._protocols:
        if _raw_socket(protocol) is None:
            continue  # a TURN relay: its client reads the server's socket
        if getattr(protocol.datagram_received, "plenary_batched", False):
            continue
        protocol.transport.max_size = MAX_DATAGRAM
        protocol.datagram_received = _batched(protocol)


def _batched(protocol: aioice.ice.StunProtocol) -> Callable[[bytes, tuple[Any, ...]], None]:
    stun_received = protocol.datagram_received
    receiver = protocol.receiver
    component = protocol.local_candidate.component

    def deliver(data: bytes, addr: tuple[Any, ...]) -> None:
        if len(data) > 1 and 127 < data[0] < 192:
            receiver.data_received(data, component)
        else:
            stun_received(data, addr)

    def datagram_received(data: bytes, addr: tuple[Any, ...]) -> None:
        deliver(data, addr)
        transport = protocol.transport
        sock = transport._sock
        for _ in range(READ_BATCH - 1):
            if transport.is_closing():
                return
            try:
                data, addr = sock.recvfrom(MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                protocol.error_received(exc)
                return
            deliver(data, addr)

    datagram_received.plenary_batched = True  # type: ignore[attr-defined]
    return datagram_received


def srtp_protect_address() -> int | None:
    """Address of the srtp_protect inside pylibsrtp's binding, for media/fanout.c
    (which must use the same libsrtp as the sessions aiortc made)."""
    try:
        from pylibsrtp._binding import ffi, lib

        return int(ffi.cast("uintptr_t", ffi.addressof(lib, "srtp_protect")))
    except (ImportError, AttributeError):
        return None


def srtp_context_address(session: pylibsrtp.Session) -> int | None:
    """Address of a pylibsrtp session's srtp_t (valid while `session` lives)."""
    try:
        from pylibsrtp._binding import ffi

        return int(ffi.cast("uintptr_t", session._srtp[0]))
    except (ImportError, AttributeError, TypeError):
        return None


def outbound_route(dtls: RTCDtlsTransport) -> tuple[pylibsrtp.Session, socket.socket, tuple[Any, ...]] | None:
    """(outbound SRTP session, socket, remote address) of a connected
    transport's nominated ICE pair, for the compiled fan-out; None before
    that, or when the pair goes through a TURN relay (no socket of ours
    reaches the peer: the relay wraps every packet)."""
    srtp = dtls._tx_srtp
    if srtp is None or dtls.state != "connected":
        return None
    pair = dtls._transport._connection._nominated.get(1)
    if pair is None:
        return None
    sock = _raw_socket(pair.protocol)
    if sock is None:
        return None
    return srtp, sock, pair.remote_addr


class _NominationWatch(dict):  # type: ignore[type-arg]
    """aioice's `_nominated` (component -> pair), telling us when a pair
    replaces another: as the controlling agent, aioice nominates again when
    checks arrive from a new address (a client whose network changed)."""

    def __init__(self, pairs: dict[int, Any], on_change: Callable[[], None]) -> None:
        super().__init__(pairs)
        self.on_change = on_change

    def __setitem__(self, component: int, pair: Any) -> None:
        changed = self.get(component) is not pair
        super().__setitem__(component, pair)
        if changed:
            self.on_change()


def watch_nomination(dtls: RTCDtlsTransport, on_change: Callable[[], None]) -> None:
    """Call `on_change()` whenever the transport's nominated ICE pair changes
    (install before make_sender, which keeps a reference to the mapping)."""
    connection = dtls._transport._connection
    if isinstance(connection._nominated, _NominationWatch):
        connection._nominated.on_change = on_change
    else:
        connection._nominated = _NominationWatch(connection._nominated, on_change)


def _raw_socket(protocol: Any) -> socket.socket | None:
    """The socket under an ICE protocol's asyncio datagram transport
    (get_extra_info("socket") gives a wrapper without sendto); None for a
    TURN relay, whose transport is aioice's own."""
    return getattr(protocol.transport, "_sock", None)


def _sendto(pair: Any) -> Callable[[bytes, tuple[Any, ...]], Any]:
    sock = _raw_socket(pair.protocol)
    return sock.sendto if sock is not None else pair.protocol.transport.sendto


def make_sender(dtls: RTCDtlsTransport) -> tuple[SendFn, SendFn] | None:
    """Return synchronous (send_rtp, send_rtcp) functions for a connected
    transport: protect with its SRTP session, sendto on the nominated ICE pair.

    Skips aiortc's `_send_rtp` coroutine (and its await chain) on the hot
    path, and asyncio's transport.sendto too: that one only adds Python
    checks and a write buffer, and a media packet that finds the socket's
    send buffer full is better dropped (the subscriber NACKs it) than queued
    behind newer ones.  Returns None if the transport is not connected yet."""
    srtp = dtls._tx_srtp
    if srtp is None or dtls.state != "connected":
        return None
    nominated: dict[int, Any] = dtls._transport._connection._nominated
    protect_rtcp = srtp.protect_rtcp
    protect = protect_fn(srtp)
    # (pair, socket.sendto, remote address), refreshed when the pair changes.
    current: list[Any] = [None, None, None]

    def send_rtp(data: bytes | bytearray) -> None:
        # A packet SRTP refuses (too long, or an SRTP error) or the socket
        # refuses (buffer full, closed) is dropped for this one subscriber:
        # an exception here would unwind into the publisher's receive path.
        pair = nominated.get(1)
        if pair is not current[0]:
            if pair is None:
                return
            current[:] = [pair, _sendto(pair), pair.remote_addr]
        packet = protect(data)
        if packet is not None:
            try:
                current[1](packet, current[2])
            except OSError:
                pass

    def send_rtcp(data: bytes) -> None:
        pair = nominated.get(1)
        if pair is not None:
            try:
                pair.protocol.transport.sendto(protect_rtcp(data), pair.remote_addr)
            except (pylibsrtp.Error, ValueError):
                pass

    return send_rtp, send_rtcp


def protect_fn(session: pylibsrtp.Session) -> ProtectFn:
    """The fastest RTP protect for this session: fast_protect, or pylibsrtp's
    public protect when its internals moved."""
    fast = fast_protect(session)
    return fast if fast is not None else _checked_protect(session)


def _checked_protect(session: pylibsrtp.Session) -> ProtectFn:
    """pylibsrtp's public protect, for when its internals moved."""

    def protect(data: bytes | bytearray) -> bytes | None:
        try:
            return session.protect(bytes(data))
        except (pylibsrtp.Error, ValueError):
            return None

    return protect


# --- senders / transceivers -------------------------------------------------

def sender_ssrcs(sender: RTCRtpSender) -> tuple[int, int]:
    """The (media, rtx) SSRCs aiortc put in the SDP for this sender."""
    return sender._ssrc, sender._rtx_ssrc


def set_sender_stream_id(sender: RTCRtpSender, stream_id: str) -> None:
    """Set the msid stream id: browsers only lip-sync tracks of one stream,
    so all of a participant's forwarded tracks share their participant id."""
    sender._stream_id = stream_id


def silence_sender_rtcp(sender: RTCRtpSender) -> None:
    """Stop aiortc's own SR/SDES/BYE for this sender: it would report zero
    packet counts for an SSRC the SFU feeds directly; the SFU sends true SRs."""

    async def _drop(packets: list[Any]) -> None:
        return None

    sender._send_rtcp = _drop  # type: ignore[method-assign]


def transceiver_codecs(t: RTCRtpTransceiver) -> list[RTCRtpCodecParameters]:
    """Codecs negotiated for the transceiver (offer/answer result)."""
    return list(t._codecs)


def transceiver_header_extensions(t: RTCRtpTransceiver) -> list[RTCRtpHeaderExtensionParameters]:
    return list(t._headerExtensions)


def pc_dtls_transport(pc: RTCPeerConnection) -> RTCDtlsTransport | None:
    """The (bundled) DTLS transport of a peer connection: public via
    transceiver.receiver.transport; kept here so callers need not care."""
    for t in pc.getTransceivers():
        return t.receiver.transport
    return None


def parse_sdp(text: str) -> aiortc_sdp.SessionDescription:
    """aiortc's SDP parser (module is not part of its documented API)."""
    return aiortc_sdp.SessionDescription.parse(text)
