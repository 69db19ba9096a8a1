"""Test helpers shared by every suite: a recording Socket.IO client, REST shortcuts."""
from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import socketio

NS = "/meeting"


NOTHING = object()  # what a wait's check gives while what it waits for is not there


class EventClient:
    """A real python-socketio client that records every broadcast it receives."""

    def __init__(self, base_url: str, token: str, *, auth: dict | None = None) -> None:
        self.base_url = base_url
        self.token = token
        self.auth = auth or {}  # more than the token, e.g. {"roster": "delta"}
        self.sio = socketio.AsyncClient(reconnection=False)
        self.received: dict[str, list[Any]] = defaultdict(list)
        self._changed = asyncio.Event()
        self.sio.on("*", self._record, namespace=NS)

    async def _record(self, event: str, data: Any = None) -> None:
        self.received[event].append(data)
        self._changed.set()

    async def connect(self) -> "EventClient":
        await self.sio.connect(
            self.base_url, auth={"token": self.token, **self.auth}, namespaces=[NS], transports=["websocket"],
            wait_timeout=10,
        )
        return self

    async def call(self, event: str, data: Any = None, timeout: float = 10) -> dict:
        return await self.sio.call(event, data if data is not None else {}, namespace=NS, timeout=timeout)

    async def wait_for(
        self, event: str, predicate: Callable[[Any], bool] = lambda _: True, timeout: float = 10
    ) -> Any:
        """The first received `event` (past or future) whose data satisfies `predicate`."""

        def found() -> Any:
            return next((data for data in self.received[event] if predicate(data)), NOTHING)

        return await self._wait(
            found, timeout, lambda: f"no {event} matching predicate within {timeout}s; got {self.received[event][-3:]}"
        )

    async def _wait(self, check: Callable[[], Any], timeout: float, failure: Callable[[], str]) -> Any:
        """Re-run `check` each time something arrives until it gives other than NOTHING."""
        deadline = time.monotonic() + timeout
        while True:
            value = check()
            if value is not NOTHING:
                return value
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(failure())
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except asyncio.TimeoutError:
                pass

    async def close(self) -> None:
        if self.sio.connected:
            await self.sio.disconnect()


async def connect_error(base_url: str, auth: Any, namespace: str = NS) -> str:
    """Connect expecting a refusal; returns the server's reason."""
    sio = socketio.AsyncClient(reconnection=False)
    reasons: list[Any] = []
    sio.on("connect_error", lambda data=None: reasons.append(data), namespace=namespace)
    try:
        await sio.connect(base_url, auth=auth, namespaces=[namespace], transports=["websocket"], wait_timeout=10)
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


async def stop_process(proc: asyncio.subprocess.Process | None, *, kill: bool = False, grace: float = 15) -> None:
    """End a child process: SIGTERM (or SIGKILL with `kill`), then SIGKILL
    if it has not exited after `grace` seconds."""
    if proc is None or proc.returncode is not None:
        return
    proc.kill() if kill else proc.terminate()
    try:
        await asyncio.wait_for(proc.wait(), grace)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()


class ServeProcess:
    """A real `plenary serve` child process, for multi-process hub tests."""

    def __init__(
        self, *, data_dir, secret: str, db_url: str | None = None, redis_url: str | None = None, env: dict | None = None,
        prefix: list[str] | None = None,
    ) -> None:
        self.extra_env = env or {}
        # A command the server runs under, e.g. `unshare` for a private mount.
        self.prefix = prefix or []
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

        # One process each: a test that wants N starts N (or uses SupervisedServe).
        args = [sys.executable, "-m", "web.cli", "serve", "--workers", "1", "--port", str(self.port),
                "--data-dir", str(self.data_dir)]
        if self.db_url:
            args += ["--db", self.db_url]
        if self.redis_url:
            args += ["--redis", self.redis_url]
        env = {**os.environ, "PLENARY_SECRET": self.secret, "PLENARY_MEDIA_LOOPBACK": "1", **self.extra_env}
        self.log = open(f"{self.data_dir}.log", "wb")
        self.proc = await asyncio.create_subprocess_exec(*self.prefix, *args, env=env, stdout=self.log, stderr=self.log)
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
        await stop_process(self.proc, kill=kill)
        if getattr(self, "log", None):
            self.log.close()


# -- additions for the workers and outage tests ---------------------------------


class ReconnectingClient(EventClient):
    """An EventClient that reconnects by itself, as the browser client does
    (python-socketio's own reconnection), and records each (re)connection."""

    def __init__(self, base_url: str, token: str) -> None:
        super().__init__(base_url, token)
        self.sio = socketio.AsyncClient(reconnection=True, reconnection_delay=0.5, reconnection_delay_max=2)
        self.sio.on("*", self._record, namespace=NS)
        self.connects: list[float] = []
        self.disconnects: list[float] = []
        self.sio.on("connect", self._on_connect, namespace=NS)
        self.sio.on("disconnect", self._on_disconnect, namespace=NS)

    async def _on_connect(self) -> None:
        self.connects.append(time.monotonic())
        self._changed.set()

    async def _on_disconnect(self, *args: Any) -> None:
        self.disconnects.append(time.monotonic())
        self._changed.set()

    @property
    def sid(self) -> str | None:
        return self.sio.get_sid(NS)

    async def wait_connects(self, count: int, timeout: float = 10) -> float:
        """Wait until the client has connected `count` times; the last time."""
        return await self._wait(
            lambda: self.connects[count - 1] if len(self.connects) >= count else NOTHING, timeout,
            lambda: f"connected {len(self.connects)} times, not {count}, within {timeout}s",
        )


class SupervisedServe(ServeProcess):
    """`plenary serve --workers N`: the supervising parent and its workers on one port."""

    def __init__(self, *, workers: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.workers = workers

    async def start(self, timeout: float = 60) -> "SupervisedServe":
        import os
        import sys

        args = [sys.executable, "-m", "web.cli", "serve", "--workers", str(self.workers), "--port", str(self.port),
                "--data-dir", str(self.data_dir)]
        if self.db_url:
            args += ["--db", self.db_url]
        if self.redis_url:
            args += ["--redis", self.redis_url]
        env = {**os.environ, "PLENARY_SECRET": self.secret, "PLENARY_MEDIA_LOOPBACK": "1", **self.extra_env}
        self.log = open(f"{self.data_dir}.log", "wb")
        self.proc = await asyncio.create_subprocess_exec(*self.prefix, *args, env=env, stdout=self.log, stderr=self.log)
        await wait_until(lambda: self._nodes_or_exit(), timeout=timeout, interval=0.1)
        return self

    async def _nodes_or_exit(self) -> bool:
        if self.proc.returncode is not None:
            raise RuntimeError(f"plenary serve --workers exited with {self.proc.returncode}; see {self.log.name}")
        return len(await self.nodes()) >= self.workers

    async def nodes(self, probes: int = 24) -> dict[str, int]:
        """The workers answering on the port right now, node id → pid, from
        `GET /healthz` over fresh connections (the kernel spreads them)."""
        import aiohttp

        found: dict[str, int] = {}
        connector = aiohttp.TCPConnector(force_close=True)
        async with aiohttp.ClientSession(connector=connector) as http:
            for _ in range(probes):
                try:
                    async with http.get(f"{self.url}/healthz") as resp:
                        if resp.status == 200 and "X-Plenary-Node" in resp.headers:
                            found[resp.headers["X-Plenary-Node"]] = int(resp.headers["X-Plenary-Pid"])
                except aiohttp.ClientError:
                    pass
        return found


def _run_checked(*argv: str) -> str:
    import subprocess

    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr or done.stdout}")
    return done.stdout


class PrivatePostgres:
    """A PostgreSQL server of a test's own (initdb + pg_ctl in a temp dir, on a
    free port), which the test may stop and start: never the shared one.
    As root, it runs as the `postgres` user (initdb refuses root)."""

    def __init__(self) -> None:
        import glob
        import os
        import shutil
        import tempfile

        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
        if not bins:
            raise FileNotFoundError("no /usr/lib/postgresql/*/bin/pg_ctl")
        self.bin = os.path.dirname(bins[-1])
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="plenary-pg-")
        self.data = os.path.join(self.dir, "data")
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            import pwd

            user = pwd.getpwnam("postgres")
            os.chmod(self.dir, 0o755)
            os.chown(self.dir, user.pw_uid, user.pw_gid)
            self.as_user = [shutil.which("runuser") or "/sbin/runuser", "-u", "postgres", "--"]

    def url(self, database: str = "postgres", driver: str = "postgresql+asyncpg") -> str:
        return f"{driver}://postgres@127.0.0.1:{self.port}/{database}"

    def _pg(self, tool: str, *args: str) -> str:
        import os

        return _run_checked(*self.as_user, os.path.join(self.bin, tool), *args)

    async def init(self) -> "PrivatePostgres":
        await asyncio.to_thread(self._pg, "initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "-E", "UTF8",
                                "--no-sync")
        return await self.start()

    async def start(self) -> "PrivatePostgres":
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        await asyncio.to_thread(self._pg, "pg_ctl", "-D", self.data, "-l", f"{self.dir}/log", "-w", "-t", "60",
                                "-o", options, "start")
        return self

    async def stop(self) -> None:
        """Stop it now (fast shutdown: open sessions are cut off, their
        transactions roll back)."""
        await asyncio.to_thread(self._pg, "pg_ctl", "-D", self.data, "-w", "-t", "60", "-m", "fast", "stop")

    async def create_database(self, name: str) -> str:
        import asyncpg

        admin = await asyncpg.connect(self.url(driver="postgresql"))
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        return self.url(name)

    async def destroy(self) -> None:
        import os
        import shutil

        if os.path.exists(os.path.join(self.data, "postmaster.pid")):
            try:
                await asyncio.to_thread(self._pg, "pg_ctl", "-D", self.data, "-w", "-m", "immediate", "stop")
            except RuntimeError:
                pass
        shutil.rmtree(self.dir, ignore_errors=True)


class PrivateRedis:
    """A redis-server of a test's own (`--save ''`, on a free port), which the
    test may stop and start on the same port: never the shared one."""

    def __init__(self) -> None:
        import shutil

        self.binary = shutil.which("redis-server")
        if self.binary is None:
            raise FileNotFoundError("no redis-server on PATH")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self, timeout: float = 30) -> "PrivateRedis":
        import redis.asyncio as aioredis

        self.proc = await asyncio.create_subprocess_exec(
            self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )

        async def answers() -> bool:
            if self.proc.returncode is not None:
                raise RuntimeError(f"redis-server exited with {self.proc.returncode}")
            client = aioredis.from_url(self.url, socket_connect_timeout=1)
            try:
                return bool(await client.ping())
            except Exception:
                return False
            finally:
                await client.aclose()

        await wait_until(answers, timeout=timeout, interval=0.05)
        return self

    async def stop(self) -> None:
        await stop_process(self.proc)
