"""`plenary serve --workers N`: N hub processes on one port, kept running by a parent.

Each worker is an ordinary `plenary serve` process (its own hub, node id and
presence heartbeat) that binds the port with SO_REUSEPORT, so the kernel
spreads new connections over the workers. Together they are one hub through
PostgreSQL and Redis, as separately started processes are; that is why more
than one worker needs both. Clients speak websocket-only Socket.IO (one TCP
connection per client), so no sticky sessions are needed.

The parent serves nothing itself. It starts the workers, each in a process
group of its own (a terminal's Ctrl-C reaches the parent, which forwards it
once), forwards SIGINT and SIGTERM as SIGTERM and waits for them (a second
signal kills them), and starts again a worker that dies unexpectedly, after
RESTART_DELAY_S, doubling while it keeps dying within STABLE_S of its start
(up to MAX_RESTART_DELAY_S). A worker that fails before it ever came up on
the first start (a wrong flag, an unreachable database) stops them all: the
parent exits 1 instead of restarting something that cannot start. A worker
dies with its parent (PR_SET_PDEATHSIG), so a killed parent leaves none.
"""
from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import signal
import sys
import time
from collections.abc import Callable

log = logging.getLogger("plenary.workers")

# In a worker's environment: "<index>/<count>", the parent's pid, and the
# descriptor on which it tells the parent it is up.
WORKER_ENV = "PLENARY_WORKER"
PARENT_ENV = "PLENARY_WORKER_PARENT"
READY_FD_ENV = "PLENARY_WORKER_READY_FD"

RESTART_DELAY_S = 0.5
MAX_RESTART_DELAY_S = 30.0
STABLE_S = 30.0
# How long workers get to close (their clients, the hub) after SIGTERM.
STOP_TIMEOUT_S = 30.0


def refusal(workers: int, db_url: str | None, redis_url: str | None) -> str | None:
    """Why `--workers` cannot be used with these settings, or None."""
    if workers < 1:
        return "--workers must be at least 1"
    if workers == 1:
        return None
    missing = []
    if not db_url or db_url.startswith("sqlite"):
        missing.append("--db postgresql+asyncpg://… (the embedded SQLite database is for one process)")
    if not redis_url:
        missing.append("--redis redis://… (the in-process Socket.IO manager cannot carry broadcasts between processes)")
    if not missing:
        return None
    return f"--workers {workers} runs {workers} processes as one hub, which needs " + " and ".join(missing)


# -- in a worker ----------------------------------------------------------------


def worker_label() -> str | None:
    return os.environ.get(WORKER_ENV)


def die_with_parent() -> None:
    """Ask Linux to SIGTERM this worker when its parent dies, then make sure
    the parent had not already died before we asked."""
    parent = int(os.environ.get(PARENT_ENV, "0"))
    ready_fd = os.environ.get(READY_FD_ENV)
    if ready_fd:
        os.set_inheritable(int(ready_fd), False)  # not for what the worker starts
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return  # not Linux: the parent still stops its workers when it can
    if parent and os.getppid() != parent:
        sys.exit(0)


def tell_parent_ready() -> None:
    fd = os.environ.pop(READY_FD_ENV, None)
    if fd is None:
        return
    try:
        os.write(int(fd), b"1")
        os.close(int(fd))
    except OSError:
        pass


# -- the parent -----------------------------------------------------------------


class _Worker:
    def __init__(self, index: int) -> None:
        self.index = index
        self.proc: asyncio.subprocess.Process | None = None
        self.generation = 0
        self.failures = 0


class Supervisor:
    """Starts `count` workers, each the command `argv_of(index, generation)`."""

    def __init__(self, count: int, argv_of: Callable[[int, int], list[str]]) -> None:
        self.count = count
        self.argv_of = argv_of
        self.workers = [_Worker(i) for i in range(count)]
        self._stopping = asyncio.Event()
        self._signals = 0
        self._failed: str | None = None

    def run(self) -> int:
        return asyncio.run(self._run())

    async def _run(self) -> int:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self._on_signal, signum)
        log.info("supervising %d workers (pid %d)", self.count, os.getpid())
        keepers = [asyncio.create_task(self._keep(w)) for w in self.workers]
        await self._stopping.wait()
        await self._stop_all()
        await asyncio.gather(*keepers, return_exceptions=True)
        if self._failed:
            log.error("%s; stopped", self._failed)
            return 1
        log.info("all workers stopped")
        return 0

    def _on_signal(self, signum: int) -> None:
        self._signals += 1
        if self._signals == 1:
            log.info("%s: stopping the workers", signal.Signals(signum).name)
            self._stopping.set()
        else:
            log.info("%s again: killing the workers", signal.Signals(signum).name)
            self._send(signal.SIGKILL)

    def _send(self, signum: int) -> None:
        for worker in self.workers:
            if worker.proc is not None and worker.proc.returncode is None:
                try:
                    worker.proc.send_signal(signum)
                except ProcessLookupError:
                    pass

    async def _stop_all(self) -> None:
        self._send(signal.SIGTERM)
        running = [w.proc for w in self.workers if w.proc is not None and w.proc.returncode is None]
        if not running:
            return
        _, pending = await asyncio.wait([asyncio.ensure_future(p.wait()) for p in running], timeout=STOP_TIMEOUT_S)
        if pending:
            log.warning("%d workers did not stop within %.0f s: killing them", len(pending), STOP_TIMEOUT_S)
            self._send(signal.SIGKILL)
            await asyncio.gather(*pending, return_exceptions=True)

    async def _keep(self, worker: _Worker) -> None:
        while not self._stopping.is_set():
            started = time.monotonic()
            ready = await self._start(worker)
            code = await worker.proc.wait()
            if self._stopping.is_set():
                return
            lived = time.monotonic() - started
            if not ready and worker.generation == 1:
                self._failed = f"worker {worker.index} exited with {code} before it came up"
                self._stopping.set()
                return
            worker.failures = 0 if ready and lived >= STABLE_S else worker.failures + 1
            delay = min(MAX_RESTART_DELAY_S, RESTART_DELAY_S * 2 ** max(0, worker.failures - 1))
            log.warning("worker %d (pid %d) exited with %s after %.1f s; starting it again in %.1f s",
                        worker.index, worker.proc.pid, _describe(code), lived, delay)
            try:
                await asyncio.wait_for(self._stopping.wait(), delay)
            except asyncio.TimeoutError:
                pass

    async def _start(self, worker: _Worker) -> bool:
        """Start the worker; True once it says it is up, False if it exits first."""
        worker.generation += 1
        read_fd, write_fd = os.pipe()
        env = {**os.environ, WORKER_ENV: f"{worker.index}/{self.count}", PARENT_ENV: str(os.getpid()),
               READY_FD_ENV: str(write_fd)}
        try:
            worker.proc = await asyncio.create_subprocess_exec(
                *self.argv_of(worker.index, worker.generation), env=env, pass_fds=(write_fd,), process_group=0,
            )
        finally:
            os.close(write_fd)
        log.info("worker %d started (pid %d)", worker.index, worker.proc.pid)
        loop = asyncio.get_running_loop()
        said: asyncio.Future[bool] = loop.create_future()

        def readable() -> None:
            try:
                data = os.read(read_fd, 1)
            except OSError:
                data = b""
            if not said.done():
                said.set_result(data == b"1")
            loop.remove_reader(read_fd)

        os.set_blocking(read_fd, False)
        loop.add_reader(read_fd, readable)
        exited = asyncio.ensure_future(worker.proc.wait())
        try:
            # b"1" when it is up; end of file (or its exit, should a child of
            # its own hold the pipe open) when it dies first.
            await asyncio.wait({said, exited}, return_when=asyncio.FIRST_COMPLETED)
            if said.done():
                return said.result()
            try:
                return os.read(read_fd, 1) == b"1"
            except OSError:
                return False
        finally:
            loop.remove_reader(read_fd)
            os.close(read_fd)
            if not exited.done():
                exited.cancel()


def _describe(code: int) -> str:
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"status {code}"
