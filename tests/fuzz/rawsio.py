"""A Socket.IO client that speaks Engine.IO v4 over a plain websocket.

python-socketio's client serialises with the json module, so it cannot send
what the fuzz needs: 20,000 nested brackets, NaN, a broken frame with an ack
id. This one writes the frames by hand, reads every ack by its id, and tells
a dropped connection apart from a slow answer.
"""
from __future__ import annotations

import asyncio
import itertools
import json
import time
from typing import Any

import aiohttp

NS = "/meeting"


class Dropped(Exception):
    """The server closed the connection or the namespace."""


class Refused(Exception):
    """The namespace connect was refused (`44`); the message is the reason."""


class RawSocket:
    def __init__(self, base_url: str, namespace: str = NS) -> None:
        self.base_url = base_url
        self.ns = namespace
        self._ids = itertools.count(1)
        self._acks: dict[int, asyncio.Future] = {}
        self._session: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task | None = None
        self._connected: asyncio.Future | None = None
        self.closed_reason: str | None = None
        self.events: list[str] = []
        # Pace below the hub's per-connection bucket (RATE 30/s, BURST 120),
        # so a refusal is about the payload, never about the rate.
        self._tokens = 100.0
        self._stamp = time.monotonic()
        self.rate = 25.0
        self.sent = 0
        self.opened_at = 0.0

    @property
    def alive(self) -> bool:
        return self.closed_reason is None and self._ws is not None and not self._ws.closed

    async def open(self, auth: Any, timeout: float = 20) -> "RawSocket":
        """Connect the websocket and the namespace; raises Refused with the reason."""
        self._session = aiohttp.ClientSession()
        url = f"{self.base_url}/socket.io/?EIO=4&transport=websocket"
        self._ws = await self._session.ws_connect(url, max_msg_size=0, autoping=True)
        first = await asyncio.wait_for(self._ws.receive(), timeout)
        if first.type != aiohttp.WSMsgType.TEXT or not first.data.startswith("0"):
            raise Dropped(f"no engine.io open packet: {first!r}")
        self._connected = asyncio.get_running_loop().create_future()
        self._reader = asyncio.create_task(self._read(), name="rawsio-reader")
        auth_text = auth.text if hasattr(auth, "text") else json.dumps(auth)
        await self._ws.send_str(f"40{self.ns},{auth_text}")
        await asyncio.wait_for(asyncio.shield(self._connected), timeout)
        # The hub's bucket starts full when the namespace connects, not before.
        self._tokens, self._stamp = 100.0, time.monotonic()
        self.opened_at = self._stamp
        return self

    async def _read(self) -> None:
        assert self._ws is not None
        prefix_ack = f"43{self.ns},"
        try:
            async for msg in self._ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    break
                data: str = msg.data
                if data == "2":
                    await self._ws.send_str("3")
                elif data.startswith(prefix_ack):
                    rest = data[len(prefix_ack):]
                    digits = len(rest) - len(rest.lstrip("0123456789"))
                    future = self._acks.pop(int(rest[:digits]), None)
                    if future and not future.done():
                        future.set_result(json.loads(rest[digits:]))
                elif data.startswith(f"40{self.ns},"):
                    if not self._connected.done():
                        self._connected.set_result(True)
                elif data.startswith(f"44{self.ns},"):
                    payload = json.loads(data[len(self.ns) + 3:] or "{}")
                    message = payload.get("message", "") if isinstance(payload, dict) else str(payload)
                    if not self._connected.done():
                        self._connected.set_exception(Refused(message))
                    self.closed_reason = f"connect_error: {message}"
                elif data.startswith(f"41{self.ns}"):
                    self.closed_reason = "namespace disconnected by the server"
                    break
                elif data.startswith("1"):
                    self.closed_reason = "engine.io close"
                    break
                elif data.startswith(f"42{self.ns},"):
                    self.events.append(data)
        finally:
            if self.closed_reason is None:
                code = self._ws.close_code
                self.closed_reason = f"websocket closed (code {code})"
            error = Dropped(self.closed_reason)
            waiting = list(self._acks.values())
            if self._connected is not None:
                waiting.append(self._connected)
            for future in waiting:
                if not future.done():
                    future.set_exception(error)
                    future.exception()  # whoever gave up waiting need not see it
            self._acks.clear()

    async def _pace(self) -> None:
        while True:
            now = time.monotonic()
            self._tokens = min(100.0, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            if self._tokens >= 1:
                self._tokens -= 1
                return
            await asyncio.sleep((1 - self._tokens) / self.rate)

    async def emit_raw(self, body: str, timeout: float = 10) -> Any:
        """Send `42/ns,<id><body>` and return the ack's argument list.

        `body` is the packet's JSON text (normally `["event", payload]`), sent
        as is. Raises Dropped if the connection goes, TimeoutError if no ack."""
        await self._pace()
        if not self.alive:
            raise Dropped(self.closed_reason or "not connected")
        ack_id = next(self._ids)
        self.sent += 1
        future = asyncio.get_running_loop().create_future()
        self._acks[ack_id] = future
        try:
            await self._ws.send_str(f"42{self.ns},{ack_id}{body}")
        except (ConnectionError, RuntimeError) as exc:
            self._acks.pop(ack_id, None)
            raise Dropped(f"send failed: {exc}") from None
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            self._acks.pop(ack_id, None)

    async def call(self, event: str, payload_json: str, timeout: float = 10) -> Any:
        """The first ack argument of `event` with a payload given as JSON text."""
        args = await self.emit_raw(f"[{json.dumps(event)},{payload_json}]", timeout)
        return args[0] if isinstance(args, list) and len(args) == 1 else args

    async def close(self) -> None:
        if self._ws is not None and not self._ws.closed:
            await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
            try:
                await self._reader
            except (asyncio.CancelledError, Exception):
                pass
        if self._session is not None:
            await self._session.close()
