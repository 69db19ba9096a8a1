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
    reasons: list[Any] = []
    sio.on("connect_error", lambda data=None: reasons.append(data), namespace=NS)
    try:
        await sio.connect(base_url, auth=auth, namespaces=[NS], transports=["websocket"], wait_timeout=10)
    except socketio.exceptions.ConnectionError:
        assert reasons, "refused without a connect_error"
        data = reasons[0]
        return data.get("message", "") if isinstance(data, dict) else str(data)
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


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServeProcess:
    """A real `plenary serve` child process, for multi-process hub tests."""

    def __init__(
        self, *, data_dir, secret: str, db_url: str | None = None, redis_url: str | None = None, env: dict | None = None
    ) -> None:
        self.extra_env = env or {}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir
        self.secret = secret
        self.db_url = db_url
        self.redis_url = redis_url
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self, timeout: float = 30) -> "ServeProcess":
        import os
        import sys

        import aiohttp

        args = [sys.executable, "-m", "web.cli", "serve", "--port", str(self.port), "--data-dir", str(self.data_dir)]
        if self.db_url:
            args += ["--db", self.db_url]
        if self.redis_url:
            args += ["--redis", self.redis_url]
        env = {**os.environ, "PLENARY_SECRET": self.secret, "PLENARY_MEDIA_LOOPBACK": "1", **self.extra_env}
        self.log = open(f"{self.data_dir}.log", "wb")
        self.proc = await asyncio.create_subprocess_exec(*args, env=env, stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as http:
            while True:
                if self.proc.returncode is not None:
                    raise RuntimeError(f"plenary serve exited with {self.proc.returncode}; see {self.log.name}")
                try:
                    async with http.get(f"{self.url}/healthz") as resp:
                        if resp.status == 200:
                            return self
                except aiohttp.ClientError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"plenary serve did not come up; see {self.log.name}")
                await asyncio.sleep(0.1)

    async def stop(self, *, kill: bool = False) -> None:
        if self.proc and self.proc.returncode is None:
            self.proc.kill() if kill else self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 15)
            except asyncio.TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        if getattr(self, "log", None):
            self.log.close()
