"""The compiled fan-out (media/fanout.c) against real sockets and real SRTP."""

from __future__ import annotations

import os
import socket
import struct
from collections.abc import Callable

import pylibsrtp
import pytest

from media import fastpath
from media.consumer import Consumer
from media.producer import Producer
from media.router import Router
from media.rtp_parse import HEADER
from tests.media.test_rtp_units import VP8_DELTA, VP8_KEY, rtp

KEY = os.urandom(30)


def _session(direction: int) -> pylibsrtp.Session:
    return pylibsrtp.Session(pylibsrtp.Policy(key=KEY, ssrc_type=direction))


class Subscriber:
    """A UDP socket with the inbound half of the SRTP session."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(2)
        self.srtp = _session(pylibsrtp.Policy.SSRC_ANY_INBOUND)

    def receive(self) -> bytes:
        return self.srtp.unprotect(self.sock.recv(2048))

    def nothing_arrives(self) -> bool:
        self.sock.settimeout(0.2)
        try:
            self.sock.recv(2048)
        except TimeoutError:
            return True
        finally:
            self.sock.settimeout(2)
        return False

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def subscriber():
    sub = Subscriber()
    yield sub
    sub.close()


@pytest.fixture
def sending_socket():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    yield sock
    sock.close()


def _producer() -> Producer:
    p = Producer(
        id="v", participant_id="alice", kind="video", source="camera", mid="0", mime_type="video/VP8",
        clock_rate=90000, payload_type=96, codec_parameters={}, rtx_payload_type=97, nack=True, ext_remap=bytes(16),
    )
    p.ssrc = 1234
    return p


def _link(sock: socket.socket, subscriber: Subscriber) -> tuple[fastpath.Link, Callable[[bytes | bytearray], None]]:
    """A Link and the matching Python sender (what the transport makes)."""
    session = _session(pylibsrtp.Policy.SSRC_ANY_OUTBOUND)
    address = subscriber.sock.getsockname()
    return fastpath.Link(session, sock, address), lambda data: sock.sendto(session.protect(bytes(data)), address)


def _consumer(
    p: Producer, link: fastpath.Link | None, send: Callable[[bytes | bytearray], None], router: Router | None = None
) -> Consumer:
    c = Consumer(id="c", producer=p, participant_id="bob", mid="1", ssrc=555, rtx_ssrc=556)
    (router or Router("m")).add_consumer(c)  # the router links a consumer to its producer
    c.configure(pt=100, rtx_pt=101, nack=True)
    c.set_sender(send, lambda data: None, 1, link)
    return c


def test_compiled_fanout_rewrites_like_the_python_path(subscriber: Subscriber, sending_socket: socket.socket) -> None:
    """The same packets through a Link (C) and through a Python sender come
    out with the same rewritten headers, payloads and counters."""
    link, send = _link(sending_socket, subscriber)
    p = _producer()
    python_sent: list[bytes] = []
    fast = _consumer(p, link, send)
    slow = _consumer(p, None, lambda data: python_sent.append(bytes(data)))
    assert not fast.steady and p._table.size == 0  # waiting for a keyframe

    # Input seq and timestamp wrap round; 0x0003 is lost and arrives late
    # (a late packet is forwarded but must not move last_seq/last_ts).
    base_ts = 0xFFFFFFFF - 6000
    order = [0xFFFD, 0xFFFE, 0xFFFF, 0x0000, 0x0001, 0x0002, 0x0004, 0x0003]
    packets = [rtp(0xFFFD, base_ts, VP8_KEY)] + [
        rtp(seq, (base_ts + 3000 * ((seq - 0xFFFD) & 0xFFFF)) & 0xFFFFFFFF, VP8_DELTA, marker=True) for seq in order[1:]
    ]
    for i, packet in enumerate(packets):
        p.receive(packet, 10 * i)
        if i == 0:
            # The first packet synced both; from now on the C table feeds `fast`.
            assert fast.steady and p._table.size == 1 and p._unsteady == [slow]
    received = [subscriber.receive() for _ in packets]

    # Same segment start for both, so outputs are comparable field by field.
    offsets = [(c.seq_off, c.ts_off) for c in (fast, slow)]
    for c_out, py_out, original in zip(received, python_sent, packets):
        b0, b1, seq, ts, ssrc = HEADER.unpack_from(c_out)
        pb0, pb1, pseq, pts, pssrc = HEADER.unpack_from(py_out)
        ob0, ob1, oseq, ots, _ = HEADER.unpack_from(original)
        assert ssrc == pssrc == 555 and b1 == pb1 == (ob1 & 0x80) | 100 and b0 == pb0 == ob0
        assert seq == (oseq + offsets[0][0]) & 0xFFFF and pseq == (oseq + offsets[1][0]) & 0xFFFF
        assert ts == (ots + offsets[0][1]) & 0xFFFFFFFF and pts == (ots + offsets[1][1]) & 0xFFFFFFFF
        assert c_out[12:] == py_out[12:] == original[12:]
    newest_ts = (base_ts + 3000 * 7) & 0xFFFFFFFF  # of 0x0004, not of the late 0x0003
    for c in (fast, slow):
        assert c.packets == len(packets)
        assert c.octets == sum(len(x) - 12 for x in packets)
        assert c.last_seq == (0x0004 + c.seq_off) & 0xFFFF and c.last_ts == (newest_ts + c.ts_off) & 0xFFFFFFFF
        assert c.last_ms == 10 * (len(packets) - 2)
    assert link.errors == 0

    # A NACK is answered in Python from the cache, with RTX, on the same SRTP session.
    fast.on_nack([(0x0001 + fast.seq_off) & 0xFFFF])
    rtx = subscriber.receive()
    assert HEADER.unpack_from(rtx)[4] == 556 and struct.unpack_from("!H", rtx, 12)[0] == (0x0001 + fast.seq_off) & 0xFFFF


def test_pause_takes_a_consumer_out_of_the_table(subscriber: Subscriber, sending_socket: socket.socket) -> None:
    link, send = _link(sending_socket, subscriber)
    p = _producer()
    router = Router("m")
    c = _consumer(p, link, send, router)
    p.receive(rtp(1, 0, VP8_KEY), 0)
    assert c.steady and subscriber.receive()
    c.pause()
    assert not c.steady and p._table.size == 0
    p.receive(rtp(2, 3000, VP8_DELTA), 33)
    assert subscriber.nothing_arrives()
    c.resume()  # back through Python until the next keyframe starts a segment
    p.receive(rtp(3, 6000, VP8_DELTA), 66)
    assert not c.steady and subscriber.nothing_arrives()
    p.receive(rtp(4, 9000, VP8_KEY), 99)
    assert c.steady and HEADER.unpack_from(subscriber.receive())[2] == (c.last_seq) & 0xFFFF
    router.close_consumer(c.id)
    assert c.closed and p._table.size == 0 and not p.consumers


def test_a_closed_link_sends_nothing_and_owns_its_socket(subscriber: Subscriber) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    link, send = _link(sock, subscriber)
    p = _producer()
    c = _consumer(p, link, send)
    # aioice may close its socket before the transport closes the link: the
    # link's own descriptor keeps the packets going to the right place.
    sock.close()
    p.receive(rtp(1, 0, VP8_KEY), 0)
    assert c.steady and subscriber.receive()
    link.close()
    assert link.closed
    assert p._table.fanout(bytearray(rtp(2, 3000, VP8_DELTA)), 0, 2, 3000, 6, 33) == 0
    assert subscriber.nothing_arrives()
    link.close()  # idempotent


def test_oversized_packets_are_refused_not_sent(subscriber: Subscriber, sending_socket: socket.socket) -> None:
    link, send = _link(sending_socket, subscriber)
    p = _producer()
    _consumer(p, link, send)
    p.receive(rtp(1, 0, VP8_KEY), 0)
    assert subscriber.receive()
    limit = fastpath.lib.PLENARY_MAX_PACKET
    largest = bytearray(rtp(2, 0, b"\x10" + bytes(limit - 13)))
    assert len(largest) == limit and p._table.fanout(largest, 0, 2, 0, limit - 12, 1) == 1
    assert len(subscriber.receive()) == limit  # the whole packet, with room for the trailer
    assert p._table.fanout(bytearray(rtp(3, 0, b"\x10" + bytes(limit - 12))), 0, 3, 0, limit - 11, 1) == -1
    assert p._table.fanout(bytearray(5), 0, 4, 0, 0, 1) == -1  # shorter than an RTP header
    assert subscriber.nothing_arrives()


def test_a_link_follows_a_new_ice_pair(sending_socket: socket.socket) -> None:
    """retarget(): the client moved; packets go to its new address, and the
    link's descriptor for the old socket is closed, not leaked."""
    old, new = Subscriber(), Subscriber()
    try:
        link, send = _link(sending_socket, old)
        p = _producer()
        c = _consumer(p, link, send)
        p.receive(rtp(1, 0, VP8_KEY), 0)
        assert c.steady and old.receive()
        fds = len(os.listdir("/proc/self/fd"))
        other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        other.bind(("127.0.0.1", 0))
        link.retarget(other, new.sock.getsockname())
        other.close()
        assert len(os.listdir("/proc/self/fd")) == fds
        p.receive(rtp(2, 3000, VP8_DELTA), 33)
        assert HEADER.unpack_from(new.receive())[4] == 555
        assert old.nothing_arrives()
        link.close()
    finally:
        old.close()
        new.close()


def test_sockaddr_layouts() -> None:
    v4 = fastpath.sockaddr(socket.AF_INET, ("127.0.0.2", 5004))
    assert len(v4) == 16 and v4[2:4] == (5004).to_bytes(2, "big") and v4[4:8] == bytes([127, 0, 0, 2])
    v6 = fastpath.sockaddr(socket.AF_INET6, ("::1", 5004, 0, 0))
    assert len(v6) == 28 and v6[8:24] == socket.inet_pton(socket.AF_INET6, "::1")
