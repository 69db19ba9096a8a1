"""Adapter: Plenary's MediaService in a child process (bench/plenary_sfu_server.py).

Same interface as :class:`bench.janus_peer.JanusServer`:
``start() / publish(name, offer) / subscribe(name, publishers) / answer(name, sdp) / stop()``
and ``pid`` (the process whose CPU is measured).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from typing import Any

import aiohttp

try:
    from . import netns
except ImportError:  # pragma: no cover
    import netns  # type: ignore[no-redef]

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


class PlenaryError(RuntimeError):
    pass


class PlenaryServer:
    name = "plenary"

    def __init__(self, port: int = 8765, log_dir: str | None = None, media_addr: str = netns.SERVER_MEDIA_ADDR,
                 extra_args: list[str] | None = None) -> None:
        self.port = port
        self.extra_args = extra_args or []
        self.media_addr = media_addr
        self._tmp = tempfile.TemporaryDirectory(prefix="bench-plenary-")
        self.log_path = os.path.join(log_dir or self._tmp.name, "plenary_sfu_server.log")
        self.proc: subprocess.Popen[bytes] | None = None
        self.http: aiohttp.ClientSession | None = None
        self.base = f"http://{netns.HTTP_ADDR}:{port}"
        self._tracks_by_pub: dict[str, list[str]] = {}
        self._last_stats: dict[str, Any] = {}

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def pids(self) -> list[int]:
        return [self.pid]

    def log_tail(self, n: int = 3000) -> str:
        try:
            with open(self.log_path, "rb") as fh:
                return fh.read()[-n:].decode(errors="replace")
        except OSError:
            return ""

    async def start(self, timeout: float = 30.0) -> None:
        self._log = open(self.log_path, "wb")
        env = dict(os.environ)
        env["PYTHONPATH"] = ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "plenary_sfu_server.py"), "--port", str(self.port),
             "--media-addr", self.media_addr, "--max-seconds", "900", *self.extra_args],
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=ROOT, env=env,
            preexec_fn=netns.die_with_parent,
        )
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise PlenaryError(f"plenary_sfu_server exited {self.proc.returncode}: {self.log_tail()}")
            try:
                async with self.http.get(self.base + "/health", timeout=aiohttp.ClientTimeout(total=2)) as r:
                    if r.status == 200:
                        break
            except (aiohttp.ClientError, asyncio.TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise PlenaryError("plenary_sfu_server did not come up: " + self.log_tail())
            await asyncio.sleep(0.2)

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        assert self.http is not None
        async with self.http.request(method, self.base + path, json=body) as r:
            data = await r.json(content_type=None)
            if r.status != 200:
                raise PlenaryError(f"{path}: HTTP {r.status} {data}")
            return data

    async def publish(self, name: str, offer_sdp: str) -> str:
        before = {t["id"] for t in await self._call("GET", "/tracks")}
        r = await self._call("POST", "/publish", {"participant": name, "sdp": offer_sdp})
        # remember which tracks this publisher added (polled: tracks may appear
        # once the media actually flows)
        self._pub_pending = (name, before)
        return r["sdp"]

    async def _resolve_tracks(self, publishers: list[str]) -> list[str]:
        deadline = time.monotonic() + 10
        while True:
            tracks = await self._call("GET", "/tracks")
            ids = [t["id"] for t in tracks if t.get("participant_id") in publishers]
            have = {t.get("participant_id") for t in tracks}
            if all(p in have for p in publishers) or time.monotonic() > deadline:
                return ids
            await asyncio.sleep(0.2)

    async def subscribe(self, name: str, publishers: list[str]) -> str:
        key = ",".join(publishers)
        if key not in self._tracks_by_pub:
            self._tracks_by_pub[key] = await self._resolve_tracks(publishers)
        ids = self._tracks_by_pub[key]
        if not ids:
            raise PlenaryError(f"no tracks from {publishers}")
        r = await self._call("POST", "/subscribe", {"participant": name, "tracks": ids})
        return r["sdp"]

    async def answer(self, name: str, answer_sdp: str) -> None:
        await self._call("POST", "/answer", {"participant": name, "sdp": answer_sdp})

    async def fetch_stats(self) -> dict[str, Any]:
        try:
            self._last_stats = await self._call("GET", "/stats")
        except Exception as exc:
            self._last_stats = {"error": repr(exc)}
        return self._last_stats

    def extra_stats(self) -> dict[str, Any]:
        return {"service_stats": self._last_stats}

    async def stop(self) -> None:
        if self.http is not None and self.proc is not None and self.proc.poll() is None:
            try:
                await asyncio.wait_for(self._call("POST", "/shutdown", {}), 5)
            except Exception:
                pass
        if self.http is not None:
            await self.http.close()
        if self.proc is not None:
            try:
                self.proc.wait(timeout=12)
            except subprocess.TimeoutExpired:
                self.proc.terminate()
                try:
                    self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(timeout=5)
        try:
            self._log.close()
        except Exception:
            pass
        self._tmp.cleanup()


class PlenaryCluster:
    """Several PlenaryServer processes joined by a cascade through a private
    Redis: publishers go to the first, subscriber i to process i mod N, so
    every other process pipes each producer in once (issue 12's
    ``--processes``). Same interface as PlenaryServer; ``pids`` lists every
    process whose CPU counts, Redis included (the cascade's signalling)."""

    def __init__(self, processes: int, port: int = 8765, redis_port: int = 6399, plain_pipes: bool = False) -> None:
        self.name = f"plenary{processes}p"
        self.redis_port = redis_port
        self._tmp = tempfile.TemporaryDirectory(prefix="bench-cascade-")
        redis_url = f"redis://{netns.HTTP_ADDR}:{redis_port}/0"
        extra = ["--plain-pipes"] if plain_pipes else []
        self.nodes = [
            PlenaryServer(port=port + i, log_dir=self._tmp.name,
                          extra_args=["--redis", redis_url, "--node", f"node{i}", *extra])
            for i in range(processes)
        ]
        for i, node in enumerate(self.nodes):
            node.log_path = os.path.join(self._tmp.name, f"node{i}.log")
        self.redis: subprocess.Popen[bytes] | None = None
        self._where: dict[str, PlenaryServer] = {}
        self._joined = 0

    @property
    def pid(self) -> int:
        return self.nodes[0].pid

    @property
    def pids(self) -> list[int]:
        return [n.pid for n in self.nodes] + ([self.redis.pid] if self.redis is not None else [])

    def log_tail(self, n: int = 3000) -> str:
        return "\n".join(f"[node{i}] {node.log_tail(n // len(self.nodes))}" for i, node in enumerate(self.nodes))

    async def start(self, timeout: float = 30.0) -> None:
        self.redis = subprocess.Popen(
            ["redis-server", "--port", str(self.redis_port), "--bind", netns.HTTP_ADDR, "--save", "",
             "--appendonly", "no", "--dir", self._tmp.name],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
            preexec_fn=netns.die_with_parent,
        )
        import redis.asyncio as aioredis

        client = aioredis.Redis(host=netns.HTTP_ADDR, port=self.redis_port)
        deadline = time.monotonic() + timeout
        try:
            while True:
                try:
                    if await client.ping():
                        break
                except Exception:
                    if time.monotonic() > deadline:
                        raise PlenaryError("private redis-server did not come up")
                    await asyncio.sleep(0.1)
        finally:
            await client.aclose()
        await asyncio.gather(*(node.start(timeout) for node in self.nodes))

    async def publish(self, name: str, offer_sdp: str) -> str:
        return await self.nodes[0].publish(name, offer_sdp)

    async def subscribe(self, name: str, publishers: list[str]) -> str:
        node = self.nodes[self._joined % len(self.nodes)]
        self._joined += 1
        self._where[name] = node
        key = ",".join(publishers)
        if key not in node._tracks_by_pub:
            node._tracks_by_pub[key] = await self.nodes[0]._resolve_tracks(publishers)
        return await node.subscribe(name, publishers)

    async def answer(self, name: str, answer_sdp: str) -> None:
        await self._where[name].answer(name, answer_sdp)

    async def fetch_stats(self) -> dict[str, Any]:
        stats = [await node.fetch_stats() for node in self.nodes]
        return {f"node{i}": s for i, s in enumerate(stats)}

    def extra_stats(self) -> dict[str, Any]:
        return {"service_stats": {f"node{i}": n._last_stats for i, n in enumerate(self.nodes)}}

    async def stop(self) -> None:
        await asyncio.gather(*(node.stop() for node in self.nodes), return_exceptions=True)
        if self.redis is not None:
            self.redis.terminate()
            try:
                self.redis.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.redis.kill()
                self.redis.wait(timeout=5)
        self._tmp.cleanup()
