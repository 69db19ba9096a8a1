"""Fails loudly when aiortc/aioice private names used by media/aiortc_hooks.py move."""

from __future__ import annotations

import importlib.metadata
import inspect

import aioice.ice
from aiortc import RTCPeerConnection
from aiortc.rtcdtlstransport import RTCDtlsTransport

from media import aiortc_hooks as hooks
from tests.media.media_testkit import config


def test_aiortc_version_is_the_pinned_one() -> None:
    assert importlib.metadata.version("aiortc") == "1.16.0", "media/aiortc_hooks.py was written for aiortc 1.16.0"


async def test_private_names_exist() -> None:
    pc = RTCPeerConnection(config())
    try:
        t = pc.addTransceiver("video", direction="sendonly")
        dtls = t.receiver.transport
        assert isinstance(dtls, RTCDtlsTransport)
        for name in hooks.REQUIRED_DTLS_ATTRS:
            assert hasattr(dtls, name), f"RTCDtlsTransport.{name} moved"
        for name in hooks.REQUIRED_ICE_CONNECTION_ATTRS:
            assert hasattr(dtls.transport._connection, name), f"aioice Connection.{name} moved"
        for name in hooks.REQUIRED_SENDER_ATTRS:
            assert hasattr(t.sender, name), f"RTCRtpSender.{name} moved"
        for name in hooks.REQUIRED_ICE_GATHERER_ATTRS:
            assert hasattr(dtls.transport.iceGatherer, name), f"RTCIceGatherer.{name} moved"
        # announce_public_address wraps these per connection.
        assert inspect.iscoroutinefunction(dtls.transport._connection.gather_candidates)
        assert isinstance(dtls.transport._connection.local_candidates, list)
        for name in hooks.REQUIRED_TRANSCEIVER_ATTRS:
            assert hasattr(t, name), f"RTCRtpTransceiver.{name} moved"
        # The handlers we replace must keep their call shape.
        assert list(inspect.signature(RTCDtlsTransport._handle_rtp_data).parameters) == ["self", "data", "arrival_time_ms"]
        assert list(inspect.signature(RTCDtlsTransport._handle_rtcp_data).parameters) == ["self", "data"]
        # Instance overrides must win over the class methods.
        async def rtp(data: bytes, arrival_time_ms: int) -> None: ...
        async def rtcp(data: bytes) -> None: ...
        hooks.install_rtp_handler(dtls, rtp)
        hooks.install_rtcp_handler(dtls, rtcp)
        assert dtls._handle_rtp_data is rtp and dtls._handle_rtcp_data is rtcp
        ssrc, rtx = hooks.sender_ssrcs(t.sender)
        assert isinstance(ssrc, int) and isinstance(rtx, int)
        hooks.silence_sender_rtcp(t.sender)
        hooks.set_sender_stream_id(t.sender, "p1")
        await pc.setLocalDescription(await pc.createOffer())
        assert "msid:p1 " in pc.localDescription.sdp
        assert hooks.transceiver_codecs(t) and isinstance(hooks.transceiver_header_extensions(t), list)
        assert hooks.pc_dtls_transport(pc) is dtls
        assert hooks.make_sender(dtls) is None  # not connected
        assert hooks.outbound_route(dtls) is None
        connection = dtls.transport._connection
        hooks.install_fast_receive(dtls, lambda data, ms: None, lambda data: None)
        assert connection.data_received.plenary_fast
        # Non-SRTP datagrams (DTLS, before keys) still reach aiortc's queue.
        connection.data_received(b"\x16\xfe\xfd", 1)
        assert connection._queue.qsize() == 1
        assert hooks.parse_sdp(pc.localDescription.sdp).media
    finally:
        await pc.close()


def test_loopback_patch() -> None:
    assert callable(aioice.ice.get_host_addresses)
    assert list(inspect.signature(aioice.ice.get_host_addresses).parameters) == ["use_ipv4", "use_ipv6"]
    hooks.enable_loopback_candidates()
    try:
        assert hooks.loopback_candidates_enabled()
        assert "127.0.0.1" in aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=False)
    finally:
        hooks.disable_loopback_candidates()
    assert not hooks.loopback_candidates_enabled()


def test_fast_protect_matches_pylibsrtp() -> None:
    """The direct libsrtp call must produce exactly what Session.protect does."""
    import os

    import pylibsrtp

    key = os.urandom(30)

    def session() -> pylibsrtp.Session:
        policy = pylibsrtp.Policy(key=key, ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND)
        policy.allow_repeat_tx = True
        return pylibsrtp.Session(policy)

    reference, ours = session(), session()
    for name in hooks.REQUIRED_SRTP_SESSION_ATTRS:
        assert hasattr(ours, name), f"pylibsrtp Session.{name} moved"
    fast = hooks.fast_protect(ours)
    assert fast is not None, "pylibsrtp internals moved: the fast SRTP path is off"
    for seq in range(5):
        packet = bytearray(b"\x80\x60" + seq.to_bytes(2, "big") + b"\x00\x00\x00\x01\x00\x00\x00\x02" + os.urandom(1100))
        assert fast(packet) == reference.protect(bytes(packet))
    assert fast(bytearray(1500)) is None  # too long for the buffer: dropped, not raised


async def test_datagram_transport_exposes_its_socket() -> None:
    """make_sender sends on the raw socket under asyncio's datagram transport."""
    import asyncio
    import socket

    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0))
    try:
        for name in hooks.REQUIRED_DATAGRAM_TRANSPORT_ATTRS:
            assert hasattr(transport, name), f"asyncio datagram transport .{name} moved"

        class Pair:  # the shape of an aioice CandidatePair
            protocol = type("P", (), {"transport": transport})()

        sock = hooks._raw_socket(Pair.protocol)
        assert isinstance(sock, socket.socket) and sock.fileno() == transport.get_extra_info("socket").fileno()
    finally:
        transport.close()


def test_compiled_fanout_reaches_pylibsrtp() -> None:
    """media/fanout.c calls the srtp_protect inside pylibsrtp's binding on
    sessions pylibsrtp made; both addresses must still be reachable."""
    import os

    import pylibsrtp

    from media import fastpath

    assert hooks.srtp_protect_address()
    session = pylibsrtp.Session(pylibsrtp.Policy(key=os.urandom(30), ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND))
    assert hooks.srtp_context_address(session)
    # Both paths forward the same packets: C's limit is fast_protect's.
    fast = hooks.fast_protect(session)
    assert fast is not None
    limit = fastpath.lib.PLENARY_MAX_PACKET
    assert fast(bytearray(b"\x80\x60" + bytes(limit - 2))) is not None
    assert fast(bytearray(b"\x80\x61" + bytes(limit - 1))) is None


async def test_batched_reads_take_a_burst_in_one_wake_up() -> None:
    """install_batched_reads: RTP queued behind the datagram that woke the
    loop is read in the same wake-up and reaches aioice's Connection; STUN
    still goes through aioice's own parser."""
    import asyncio
    import socket

    from aioice import Candidate, Connection, stun

    connection = Connection(ice_controlling=True)
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_datagram_endpoint(lambda: aioice.ice.StunProtocol(connection), local_addr=("127.0.0.1", 0))
    for name in hooks.REQUIRED_STUN_PROTOCOL_ATTRS:
        # local_candidate is assigned by aioice's gathering, declared on the class.
        present = hasattr(protocol, name) or name in aioice.ice.StunProtocol.__annotations__
        assert present, f"aioice StunProtocol.{name} moved"
    protocol.local_candidate = Candidate(
        foundation="1", component=1, transport="udp", priority=1, host="127.0.0.1", port=0, type="host"
    )
    connection._protocols.append(protocol)
    stun_seen: list[bytes] = []
    original_stun = protocol.datagram_received
    protocol.datagram_received = lambda data, addr: (stun_seen.append(data), original_stun(data, addr))[1]

    class Dtls:  # where install_batched_reads finds the connection
        _transport = type("Ice", (), {"_connection": connection})()

    hooks.install_batched_reads(Dtls())  # type: ignore[arg-type]
    hooks.install_batched_reads(Dtls())  # idempotent
    batched = protocol.datagram_received
    assert batched.plenary_batched
    wake_ups = []
    protocol.datagram_received = lambda data, addr: (wake_ups.append(1), batched(data, addr))[1]

    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        address = protocol.transport.get_extra_info("sockname")
        burst = [bytes([0x80, 0x60, 0, i]) + bytes(100) for i in range(6)]
        for packet in burst:  # all queued before the loop looks at the socket
            sender.sendto(packet, address)
        request = stun.Message(message_method=stun.Method.BINDING, message_class=stun.Class.REQUEST)
        sender.sendto(bytes(request), address)
        for _ in range(100):
            if connection._queue.qsize() == len(burst) and stun_seen:
                break
            await asyncio.sleep(0.01)
        assert connection._queue.qsize() == len(burst)
        assert [connection._queue.get_nowait()[0] for _ in burst] == burst  # (data, component)
        assert len(stun_seen) == 1 and stun.parse_message(stun_seen[0]).message_method == stun.Method.BINDING
        assert len(wake_ups) == 1
        assert protocol.transport.max_size == hooks.MAX_DATAGRAM
    finally:
        sender.close()
        protocol.transport.close()


async def test_nomination_watch_sees_a_client_move() -> None:
    """As the controlling agent (the SFU's receive transports), aioice
    nominates a new pair when checks come from a new client address; the
    watch must report it, once."""
    import asyncio

    from aioice import Candidate, Connection

    hooks.enable_loopback_candidates()
    sfu, client = Connection(ice_controlling=True), Connection(ice_controlling=False)
    moved_socket = None
    try:
        await sfu.gather_candidates()
        await client.gather_candidates()
        for a, b in ((sfu, client), (client, sfu)):
            for candidate in b.local_candidates:
                if candidate.host == "127.0.0.1":
                    await a.add_remote_candidate(candidate)
            await a.add_remote_candidate(None)
            a.remote_username, a.remote_password = b.local_username, b.local_password
        await asyncio.gather(sfu.connect(), client.connect())

        class Dtls:
            _transport = type("Ice", (), {"_connection": sfu})()

        changes: list[object] = []
        hooks.watch_nomination(Dtls(), lambda: changes.append(sfu._nominated[1]))  # type: ignore[arg-type]
        first = sfu._nominated[1]
        sfu._nominated[1] = first  # the same pair again is no change
        assert changes == []

        # The client's network changes: it checks from a new socket.
        loop = asyncio.get_running_loop()
        moved_socket, moved = await loop.create_datagram_endpoint(
            lambda: aioice.ice.StunProtocol(client), local_addr=("127.0.0.1", 0)
        )
        moved.local_candidate = Candidate(
            foundation="9", component=1, transport="udp", priority=1, type="host",
            host="127.0.0.1", port=moved_socket.get_extra_info("sockname")[1],
        )
        client._protocols.append(moved)
        local = next(c for c in sfu.local_candidates if c.host == "127.0.0.1")
        pair = aioice.ice.CandidatePair(moved, local)
        await moved.request(client.build_request(pair, nominate=False), pair.remote_addr, integrity_key=sfu.local_password.encode())
        for _ in range(100):
            if changes:
                break
            await asyncio.sleep(0.01)
        assert len(changes) == 1 and changes[0] is not first
        assert changes[0].remote_addr == moved_socket.get_extra_info("sockname")
    finally:
        await sfu.close()
        await client.close()
        if moved_socket is not None:
            moved_socket.close()
        hooks.disable_loopback_candidates()


def test_a_turn_relay_has_no_raw_socket() -> None:
    """A relayed pair's transport is aioice's TurnTransport, with no socket
    of ours: no compiled fan-out, no batched reads, sends through the relay.
    (No TURN server runs here, so the relay is stood in for.)"""
    from aioice.turn import TurnTransport

    sent = []

    class Relay:  # the parts of TurnTransport the hooks look at
        sendto = staticmethod(lambda data, addr: sent.append((data, addr)))

    assert not hasattr(TurnTransport, "_sock")
    protocol = type("P", (), {"transport": Relay()})()
    pair = type("Pair", (), {"protocol": protocol, "remote_addr": ("192.0.2.1", 3478)})()
    assert hooks._raw_socket(protocol) is None
    hooks._sendto(pair)(b"x", pair.remote_addr)
    assert sent == [(b"x", ("192.0.2.1", 3478))]
