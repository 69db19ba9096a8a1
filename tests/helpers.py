"""Test helpers shared by every suite: a recording Socket.IO client, REST shortcuts."""
from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import socketio

NS = "/meeting"


class EventClient:
    """A real python-socketio client that records every broadcast it receives."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url
        self.token = token
        self.sio = socketio.AsyncClient(reconnection=False)
        self.received: dict[str, list[Any]] = defaultdict(list)
        self._changed = asyncio.Event()
        self.sio.on("*", self._record, namespace=NS)

    async def _record(self, event: str, data: Any = None) -> None:
        self.received[event].append(data)
        self._changed.set()

    async def connect(self) -> "EventClient":
        await self.sio.connect(
            self.base_url, auth={"token": self.token}, namespaces=[NS], transports=["websocket"], wait_timeout=10
        )
        return self

    async def call(self, event: str, data: Any = None, timeout: float = 10) -> dict:
        return await self.sio.call(event, data if data is not None else {}, namespace=NS, timeout=timeout)

    async def wait_for(
        self, event: str, predicate: Callable[[Any], bool] = lambda _: True, timeout: float = 10
    ) -> Any:
        """The first received `event` (past or future) whose data satisfies `predicate`."""
        deadline = time.monotonic() + timeout
        while True:
            for data in self.received[event]:
                if predicate(data):
                    return data
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no {event} matching predicate within {timeout}s; got {self.received[event][-3:]}")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except asyncio.TimeoutError:
                pass

    async def close(self) -> None:
        if self.sio.connected:
            await self.sio.disconnect()


async def connect_error(base_url: str, auth: Any) -> str:
    """Connect expecting a refusal; returns the server's reason."""
    sio = socketio.AsyncClient(reconnection=False)
    try:
        await sio.connect(base_url, auth=auth, namespaces=[NS], transports=["websocket"], wait_timeout=10)
    except socketio.exceptions.ConnectionError as exc:
        return str(exc)
    finally:
        if sio.connected:
            await sio.disconnect()
    raise AssertionError("connection was accepted")


async def wait_until(predicate: Callable[[], Any], timeout: float = 10, interval: float = 0.02) -> Any:
    """Poll a condition with a deadline (for state that has no event to wait on)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(interval)
