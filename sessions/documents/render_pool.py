"""A supervised pool of render worker processes (the hub's side).

pdfium runs in `render_worker` child processes, each capped in memory
(RLIMIT_AS, set by the child) and given a time budget per request by the
pool: a worker that overruns is killed and replaced, and the request fails
with 413 `too_large` ("... could not be rendered within limits"). The
inflated buffers of a bad page thus die with their process; the hub's memory
never holds them.

Workers are persistent (a page costs a round trip, not a process start),
started on first need, at most `workers` at a time, and killed and reaped by
`close()`, which the hub's documents runtime awaits when the hub closes.

Wire format on the worker's stdin/stdout: a frame is a 4-byte big-endian
length, that many bytes of JSON header, then `header["payload"]` bytes.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import struct
import sys
from dataclasses import dataclass
from pathlib import Path

from sessions.errors import TooLarge

log = logging.getLogger(__name__)

FRAME_LENGTH = struct.Struct(">I")
WORKER_MODULE = "sessions.documents.render_worker"
# Starting a worker (an interpreter, pdfium and Pillow) is not a page's fault:
# it gets its own, generous deadline on a busy machine.
START_SECONDS = 60.0
PIXELS_BUFFER = 8 * 1024 * 1024
# Where the `sessions` package lives, for the worker's `-m` import.
PROJECT_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class RenderLimits:
    memory_bytes: int = 512 * 1024 * 1024
    page_seconds: float = 20.0
    workers: int = 2

    @property
    def memory_text(self) -> str:
        return f"{self.memory_bytes // (1024 * 1024)} MiB of memory"


class WorkerFailed(Exception):
    """The worker died or overran; `reason` says which limit, for the message."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Worker:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(cls, limits: RenderLimits) -> "_Worker":
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH")) if p)
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", WORKER_MODULE,
            "--memory-bytes", str(limits.memory_bytes),
            "--page-seconds", str(limits.page_seconds),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=env,
            # A page's pixels (up to ~23 MB) arrive in one frame: a large
            # buffer saves pausing and resuming the pipe every 128 KiB.
            limit=PIXELS_BUFFER,
        )
        worker = cls(process)
        try:
            async with asyncio.timeout(START_SECONDS):
                ready, _ = await worker._read()
        except asyncio.IncompleteReadError:
            await worker.kill()
            raise RuntimeError(
                "the render worker ended while starting; "
                "its stderr says why (is render_memory_bytes too small for Python and pdfium?)"
            ) from None
        except BaseException:
            await worker.kill()
            raise
        if not ready.get("ready"):
            await worker.kill()
            raise RuntimeError(f"render worker sent {ready!r} instead of ready")
        return worker

    @property
    def pid(self) -> int:
        return self.process.pid

    async def _read(self) -> tuple[dict, bytes]:
        stdout = self.process.stdout
        assert stdout is not None
        (length,) = FRAME_LENGTH.unpack(await stdout.readexactly(FRAME_LENGTH.size))
        header = json.loads(await stdout.readexactly(length))
        payload = await stdout.readexactly(header["payload"]) if header.get("payload") else b""
        return header, payload

    async def call(self, request: dict, limits: RenderLimits) -> tuple[dict, bytes]:
        stdin = self.process.stdin
        assert stdin is not None
        encoded = json.dumps(request).encode()
        try:
            stdin.write(FRAME_LENGTH.pack(len(encoded)) + encoded)
            await stdin.drain()
            async with asyncio.timeout(limits.page_seconds):
                return await self._read()
        except TimeoutError:
            raise WorkerFailed(f"more than {limits.page_seconds:g} s") from None
        except (asyncio.IncompleteReadError, ConnectionError):
            returncode = await self.process.wait()
            if returncode == -signal.SIGXCPU:
                raise WorkerFailed(f"more than {limits.page_seconds:g} s of CPU time") from None
            log.info("render worker %d ended with %s", self.pid, returncode)
            # An abort or a MemoryError exit: pdfium or Python ran out of the
            # address space the worker may use (or pdfium crashed on the page).
            raise WorkerFailed(f"more than {limits.memory_text}") from None

    async def kill(self) -> None:
        """SIGKILL and reap: its memory goes back to the machine now."""
        if self.process.returncode is None:
            try:
                self.process.kill()
            except ProcessLookupError:
                pass
        await self.process.wait()


class RenderPool:
    """Up to `limits.workers` persistent workers; each request gets one to itself."""

    def __init__(self, limits: RenderLimits) -> None:
        self.limits = limits
        self._slots = asyncio.Semaphore(max(1, limits.workers))
        self._idle: list[_Worker] = []
        self._workers: set[_Worker] = set()  # every live process, idle or busy
        self._closed = False

    @property
    def pids(self) -> list[int]:
        return [worker.pid for worker in self._workers]

    async def call(self, request: dict) -> tuple[dict, bytes]:
        """Run one request on a worker; WorkerFailed if it overran (the worker is replaced)."""
        async with self._slots:
            if self._closed:
                raise RuntimeError("the render pool is closed")
            worker = self._idle.pop() if self._idle else await self._start()
            healthy = False
            try:
                reply = await worker.call(request, self.limits)
                # A worker a big page left holding more than half its limit
                # starts afresh: that memory is the machine's, not the cache's.
                healthy = reply[0].get("rss_bytes", 0) <= self.limits.memory_bytes // 2
                return reply
            finally:
                if healthy and not self._closed:
                    self._idle.append(worker)
                else:
                    # Overran, died, bloated, or its caller gave up mid-request
                    # (the stream is then out of step): never reuse it.
                    await self._retire(worker)

    async def _start(self) -> _Worker:
        worker = await _Worker.start(self.limits)
        self._workers.add(worker)
        if self._closed:  # closed while it started
            await self._retire(worker)
            raise RuntimeError("the render pool is closed")
        return worker

    async def _retire(self, worker: _Worker) -> None:
        try:
            await worker.kill()
        finally:
            if worker.process.returncode is not None:
                self._workers.discard(worker)

    async def close(self) -> None:
        """Kill and reap every worker, busy or idle; later calls fail."""
        self._closed = True
        self._idle.clear()
        await asyncio.gather(*(self._retire(worker) for worker in list(self._workers)), return_exceptions=True)


def overrun(what: str, failure: WorkerFailed) -> TooLarge:
    """The contract's error for work that needed more than the limits allow.

    `what` says what failed, e.g. "page 3 could not be rendered".
    """
    return TooLarge(f"{what} within limits (it needed {failure.reason})")
