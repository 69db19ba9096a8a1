"""The Socket.IO wire: packets that cannot be decoded are answered, not dropped.

python-socketio decodes a packet in one go and, when the JSON body fails,
raises out of the message handler: the ack id is lost (the client waits
forever), engine.io logs a traceback per packet, and a malformed Engine.IO
frame kills the websocket task. This module keeps the library's flow for
good packets and changes only what happens to bad ones:

- `WirePacket` parses the header (type, namespace, ack id) itself, then the
  body with `wire_json`; any refusal becomes `packet.error`, a `WireError`,
  with the ack id kept.
- `WireServer` hands an event packet with an error to the namespace in place
  of the event name, so the client gets `{"ok": false, "error": ...}` on its
  ack id (`invalid`, or `too_large` over MAX_MESSAGE_BYTES). Other malformed
  input is ignored. Either way it is logged once per connection, as one
  WARNING line; a connection that sends malformed input, or anything but a
  CONNECT, before it has joined a namespace is told why (CONNECT_ERROR) and
  closed: a stranger's packets are never decoded beyond a small CONNECT.
- `GuardedWebSocket` refuses text frames Engine.IO itself would choke on
  (empty, no packet type, a message that is not a Socket.IO packet) the same
  way, instead of letting the websocket task die with a traceback.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any

import engineio
import socketio
from aiohttp import web
from engineio.async_drivers import aiohttp as engineio_aiohttp
from socketio import packet as sio_packet

from signaling import wire_json

log = logging.getLogger(__name__)

# A Socket.IO message over this many bytes is answered `too_large` on its ack
# id and the connection stays. Chromium offers with simulcast are 10-20 KB;
# the largest per-event limit (MAX_SDP) is far below this.
MAX_MESSAGE_BYTES = 1024 * 1024
# A websocket message over this is not read at all: aiohttp closes the
# connection with close code 1009 (message too big). Between the two limits
# the message is read only to find its ack id.
TRANSPORT_LIMIT_BYTES = 2 * MAX_MESSAGE_BYTES
MAX_ACK_ID_DIGITS = 16  # a JavaScript safe integer
# A join carries a token (at most 4,096 characters) and a meeting id.
MAX_CONNECT_BYTES = 16 * 1024
CLOSE_TIMEOUT_S = 1.0

_PACKET_TYPES = "0123456"
_DIGITS = "0123456789"


class WireError:
    """Stands in for the event name of a packet that could not be decoded, so
    the namespace can answer it on the packet's ack id."""

    __slots__ = ("code", "message")

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message

    def __repr__(self) -> str:
        return f"WireError({self.code!r}, {self.message!r})"


def _utf8_size(text: str) -> int:
    # isascii() is O(1) on CPython's compact strings; only non-ASCII pays.
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


class WirePacket(sio_packet.Packet):
    """A Socket.IO packet whose decode never raises: see `error`."""

    json = wire_json
    error: WireError | None = None

    def decode(self, encoded_packet: Any) -> int:
        self.namespace = None
        self.data = None
        self.id = None
        self.error = None
        if not isinstance(encoded_packet, str):
            self.packet_type = None
            kind = "binary data" if isinstance(encoded_packet, (bytes, bytearray)) else "a non-packet"
            self.error = WireError("invalid", f"expected a Socket.IO packet, got {kind}")
            return 0
        ep = encoded_packet
        if not ep or ep[0] not in _PACKET_TYPES:
            self.packet_type = None
            self.error = WireError("invalid", "not a Socket.IO packet: it does not start with a packet type")
            return 0
        self.packet_type = int(ep[0])
        pos = 1
        attachments = 0
        dash = ep.find("-", pos, pos + 12)
        if dash > pos and all(c in _DIGITS for c in ep[pos:dash]):
            attachments = int(ep[pos:dash])
            pos = dash + 1
        if ep.startswith("/", pos):
            comma = ep.find(",", pos)
            end = len(ep) if comma == -1 else comma
            self.namespace = ep[pos:end].split("?", 1)[0]
            pos = end + 1
        id_end = pos
        while id_end < len(ep) and ep[id_end] in _DIGITS:
            id_end += 1
        if id_end > pos:
            if id_end - pos > MAX_ACK_ID_DIGITS:
                self.error = WireError("invalid", f"an ack id has more than {MAX_ACK_ID_DIGITS} digits")
                return 0
            self.id = int(ep[pos:id_end])
        body = ep[id_end:]
        self.error = self._check(encoded_packet, body, attachments)
        return attachments

    def _check(self, encoded: str, body: str, attachments: int) -> WireError | None:
        if self.packet_type in (sio_packet.BINARY_EVENT, sio_packet.BINARY_ACK) or attachments:
            return WireError("invalid", "binary attachments are not accepted")
        size = _utf8_size(encoded)
        if size > MAX_MESSAGE_BYTES:
            return WireError("too_large", f"the message is {size} bytes; at most {MAX_MESSAGE_BYTES} are accepted")
        if body:
            try:
                self.data = wire_json.loads(body)
            except wire_json.WireDecodeError as exc:
                return WireError("invalid", str(exc))
        if self.packet_type == sio_packet.EVENT:
            if not (isinstance(self.data, list) and self.data and isinstance(self.data[0], str)):
                return WireError("invalid", "an event packet carries [name, payload]")
        elif self.packet_type == sio_packet.ACK:
            if not isinstance(self.data, list):
                return WireError("invalid", "an ack packet carries a list")
        elif self.packet_type == sio_packet.CONNECT:
            if self.data is not None and not isinstance(self.data, dict):
                return WireError("invalid", "a connect packet carries an object")
        elif self.packet_type == sio_packet.CONNECT_ERROR:
            return WireError("invalid", "a client does not send CONNECT_ERROR")
        return None


def _engineio_can_parse(frame: str) -> bool:
    """What engine.io's Packet decoder takes without raising. A MESSAGE
    frame must also hold a Socket.IO packet (a digit first): otherwise
    engine.io json-decodes it with the stdlib, unbounded."""
    if not frame or frame[0] not in _PACKET_TYPES:
        return False
    return frame[0] != "4" or len(frame) == 1 or frame[1] in _DIGITS


def _namespace_of(data: Any) -> str:
    """The namespace a raw packet names, to address a refusal to it."""
    if isinstance(data, str) and data[1:2] == "/":
        comma = data.find(",", 1, 120)
        if comma > 0:
            return data[1:comma]
    return "/"


class GuardedWebSocket(engineio_aiohttp.WebSocket):
    """engine.io's aiohttp websocket, minus the frames that would kill it."""

    async def __call__(self, environ: dict) -> web.WebSocketResponse:
        # As the driver's, but closing waits CLOSE_TIMEOUT_S (not aiohttp's
        # 10 s) for the peer's close frame: engine.io reports the disconnect
        # only after this close, and a peer that timed out sends none.
        self._sock = web.WebSocketResponse(max_msg_size=self.server.max_http_buffer_size, timeout=CLOSE_TIMEOUT_S)
        await self._sock.prepare(environ["aiohttp.request"])
        self.environ = environ
        await self.handler(self)
        return self._sock

    async def close(self) -> None:
        # engine.io's writer task calls this once the read loop has ended
        # (peer closed, ping timeout, or refused). Engine.IO reports the
        # disconnect only after it, from the request handler task, but a
        # silent peer sends no close frame: the close times out, aborts the
        # transport, and aiohttp cancels that task before it reports, so the
        # roster waited for the next ping sweep (seconds later). Report it
        # here first, from this task; engine.io's own later call is a no-op.
        socket = self.handler.__self__
        await socket.close(wait=False, abort=True, reason=self.server.reason.TRANSPORT_CLOSE)
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT_S):
                await self._sock.close()
        except TimeoutError:
            pass

    async def wait(self) -> Any:
        socket = self.handler.__self__  # the engineio socket this serves
        while True:
            if socket.closed:
                # Refused (see WireServer): end engine.io's read loop now, so
                # it closes the websocket and drops the frames still queued.
                return None
            frame = await super().wait()
            if socket.closed:
                return None
            if not isinstance(frame, str) or _engineio_can_parse(frame):
                return frame
            await self.server.refuse_frame(socket.sid, "not an Engine.IO packet carrying a Socket.IO packet")


class WireEngine(engineio.AsyncServer):
    """engine.io with the guarded websocket; `refuse_frame` is set by WireServer."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A copy: the driver's table is module-level and shared.
        self._async = {**self._async, "websocket": GuardedWebSocket}

    async def refuse_frame(self, eio_sid: str, reason: str) -> None:  # replaced by WireServer
        await self.disconnect(eio_sid)


class WireServer(socketio.AsyncServer):
    """AsyncServer whose message handler answers or ignores bad packets."""

    def __init__(self, **kwargs: Any) -> None:
        self._warned: set[str] = set()  # engine.io sids already logged
        super().__init__(serializer=WirePacket, **kwargs)
        self.eio.refuse_frame = self._refuse_frame

    def _engineio_server_class(self) -> type:
        return WireEngine

    async def _handle_eio_message(self, eio_sid: str, data: Any) -> None:
        if eio_sid not in self.environ:
            return  # a frame already read when its connection was refused
        if not self._in_any_namespace(eio_sid):
            # Before a join only CONNECT (and DISCONNECT) mean anything, and
            # a CONNECT is small: nothing else is decoded for a stranger.
            if not isinstance(data, str) or data[:1] not in "01":
                reason = "only CONNECT is accepted before joining a namespace"
                await self._refuse_frame(eio_sid, reason, _namespace_of(data))
                return
            if len(data) > MAX_CONNECT_BYTES:
                reason = f"a CONNECT packet is over {MAX_CONNECT_BYTES} bytes"
                await self._refuse_frame(eio_sid, reason, _namespace_of(data))
                return
        pkt = WirePacket(encoded_packet=data)
        if pkt.error is not None:
            await self._refuse_packet(eio_sid, pkt)
        elif pkt.packet_type == sio_packet.CONNECT:
            await self._handle_connect(eio_sid, pkt.namespace, pkt.data)
        elif pkt.packet_type == sio_packet.DISCONNECT:
            await self._handle_disconnect(eio_sid, pkt.namespace, self.reason.CLIENT_DISCONNECT)
        elif pkt.packet_type == sio_packet.EVENT:
            await self._handle_event(eio_sid, pkt.namespace, pkt.id, pkt.data)
        elif pkt.packet_type == sio_packet.ACK:
            await self._handle_ack(eio_sid, pkt.namespace, pkt.id, pkt.data)

    async def _handle_eio_disconnect(self, eio_sid: str, reason: Any) -> None:
        self._warned.discard(eio_sid)
        await super()._handle_eio_disconnect(eio_sid, reason)

    def _in_namespace(self, eio_sid: str, namespace: str) -> bool:
        sid = self.manager.sid_from_eio_sid(eio_sid, namespace)
        return sid is not None and self.manager.is_connected(sid, namespace)

    def _in_any_namespace(self, eio_sid: str) -> bool:
        return any(self._in_namespace(eio_sid, ns) for ns in list(self.manager.get_namespaces()))

    async def _refuse_packet(self, eio_sid: str, pkt: WirePacket) -> None:
        error = pkt.error
        assert error is not None
        namespace = pkt.namespace or "/"
        if self._in_namespace(eio_sid, namespace):
            self._warn_once(eio_sid, error.message)
            if pkt.packet_type in (sio_packet.EVENT, sio_packet.BINARY_EVENT) and pkt.id is not None:
                await self._handle_event(eio_sid, namespace, pkt.id, [error])
            return
        await self._refuse_frame(eio_sid, error.message, namespace)

    async def _refuse_frame(self, eio_sid: str, reason: str, namespace: str = "/") -> None:
        """Malformed input that cannot be answered on an ack id."""
        self._warn_once(eio_sid, reason)
        if self._in_any_namespace(eio_sid):
            return  # ignored; the client is known and may send good packets
        # Garbage before joining any namespace: nothing to keep. The client
        # sees why (a CONNECT_ERROR) before engine.io's CLOSE.
        await self._send_packet(
            eio_sid,
            WirePacket(sio_packet.CONNECT_ERROR, {"message": f"malformed packet ({reason}); closing"}, namespace),
        )
        await self.eio.disconnect(eio_sid)

    def _warn_once(self, eio_sid: str, reason: str) -> None:
        if eio_sid in self._warned:
            return
        self._warned.add(eio_sid)
        remote = self.environ.get(eio_sid, {}).get("REMOTE_ADDR", "?")
        log.warning(
            "malformed Socket.IO input on connection %s from %s: %s (further malformed input on it is not logged)",
            eio_sid, remote, reason[:200],
        )
