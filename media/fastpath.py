"""The compiled fan-out (`media/fanout.c`) and the Python objects that feed it.

A `Link` is one subscriber's receive transport as the C loop sees it: its
outbound SRTP session, a socket and the remote address.  An `Out` is one
consumer's rewriting state (SSRC, payload type, offsets, counters); the
consumer reads and writes it in place, so there is one copy of that state.
A `Table` is the set of consumers a producer hands each packet to in C."""

from __future__ import annotations

import os
import socket
import struct
from typing import Any

from . import aiortc_hooks as hooks

try:
    from ._fanout import ffi, lib
except ImportError as exc:  # pragma: no cover - an install problem, not a code path
    raise ImportError(
        "media._fanout is not built: install Plenary with `pip install -e .` (it needs gcc and the Python headers)"
    ) from exc

_protect = hooks.srtp_protect_address()
if _protect is None:  # pragma: no cover - guarded by tests/media/test_aiortc_hooks.py
    raise ImportError("pylibsrtp's srtp_protect cannot be reached: see media/aiortc_hooks.py")
lib.plenary_set_protect(ffi.cast("void *", _protect))

NULL = ffi.NULL


def sockaddr(family: int, address: tuple[Any, ...]) -> bytes:
    """A struct sockaddr_in / sockaddr_in6 for sendto(2), as the kernel wants it."""
    host, port = address[0], address[1]
    if family == socket.AF_INET:
        return struct.pack("=H", family) + struct.pack("!H", port) + socket.inet_aton(host) + bytes(8)
    host = host.split("%", 1)[0]
    flowinfo = address[2] if len(address) > 2 else 0
    scope_id = address[3] if len(address) > 3 else 0
    return (
        struct.pack("=H", family)
        + struct.pack("!HI", port, flowinfo)
        + socket.inet_pton(socket.AF_INET6, host)
        + struct.pack("=I", scope_id)
    )


class Link:
    """Where one subscriber's packets go.  Owns a dup of the ICE socket, so
    a socket aioice closes first can never leave C writing to a reused fd;
    `close()` (the transport's job) stops every consumer using it at once."""

    _fd = -1  # so close() and __del__ work on a half-made link

    def __init__(self, session: Any, sock: socket.socket, remote_addr: tuple[Any, ...]) -> None:
        context = hooks.srtp_context_address(session)
        if context is None:
            raise ValueError("pylibsrtp session internals moved")
        self.c = ffi.new("struct plenary_link *")
        self._session = session  # keeps the srtp_t alive while C holds it
        self.retarget(sock, remote_addr)
        self.c.srtp = ffi.cast("void *", context)

    def retarget(self, sock: socket.socket, remote_addr: tuple[Any, ...]) -> None:
        """Send through `sock` to `remote_addr` from now on (the ICE pair changed)."""
        address = sockaddr(sock.family, remote_addr)
        fd = os.dup(sock.fileno())
        old, self._fd = self._fd, fd
        self.c.fd = fd
        self.c.addrlen = len(address)
        ffi.memmove(self.c.addr, address, len(address))
        if old >= 0:
            os.close(old)

    @property
    def closed(self) -> bool:
        return self._fd < 0

    @property
    def errors(self) -> int:
        return int(self.c.errors)

    def close(self) -> None:
        if self._fd >= 0:
            self.c.srtp = NULL
            os.close(self._fd)
            self._fd = -1
            self._session = None

    def __del__(self) -> None:
        # Backstop only: the transport closes its link when it goes away.
        try:
            self.close()
        except Exception:
            pass


class Out:
    """One consumer's rewriting state, shared with C."""

    __slots__ = ("c", "link", "_solo")

    def __init__(self, ssrc: int) -> None:
        self.c = ffi.new("struct plenary_out *")
        self.c.ssrc = ssrc
        self.c.last_seq = -1
        self.link: Link | None = None
        # A table of one, without a reference back to self (no cycle to collect).
        self._solo = ffi.new("struct plenary_out *[1]", [self.c])

    def attach(self, link: Link | None) -> None:
        self.link = link
        self.c.link = link.c if link is not None else NULL

    def send(self, packet: bytearray, marker: int, seq: int, ts: int, payload_length: int, now_ms: int) -> None:
        """Rewrite and send one packet to this consumer alone."""
        lib.plenary_fanout(self._solo, 1, ffi.from_buffer(packet), len(packet), marker, seq, ts, payload_length, now_ms)


class Table:
    """Consumers that get a producer's packets straight from C."""

    __slots__ = ("_outs", "_array", "size")

    def __init__(self, outs: list[Out]) -> None:
        self._outs = outs  # keeps the structs alive
        self._array = ffi.new("struct plenary_out *[]", [o.c for o in outs]) if outs else NULL
        self.size = len(outs)

    def fanout(self, packet: bytearray, marker: int, seq: int, ts: int, payload_length: int, now_ms: int) -> int:
        """Rewrite, protect and send `packet` to every consumer in the table;
        returns how many were sent (-1: the packet is too long to protect)."""
        return lib.plenary_fanout(
            self._array, self.size, ffi.from_buffer(packet), len(packet), marker, seq, ts, payload_length, now_ms
        )


EMPTY = Table([])
