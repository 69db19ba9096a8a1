"""Start and stop real `plenary serve` processes that form one hub
(PostgreSQL + Redis), for the voting benchmark and the two-process test."""
from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Node:
    url: str
    process: subprocess.Popen
    log_path: Path


def start_node(data_dir: Path, secret: str, db_url: str | None, redis_url: str | None) -> Node:
    port = free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PLENARY_SECRET": secret}
    # PLENARY_BENCH_PROFILE=1 writes a cProfile of each node into its data dir.
    profile = ["-m", "cProfile", "-o", str(data_dir / "serve.prof")] if os.environ.get("PLENARY_BENCH_PROFILE") else []
    args = [sys.executable, *profile, "-m", "web.cli", "serve", "--workers", "1", "--host", "127.0.0.1", "--port", str(port),
            "--data-dir", str(data_dir)]
    if db_url:
        args += ["--db", db_url]
    if redis_url:
        args += ["--redis", redis_url]
    log_path = data_dir / "serve.log"
    log = open(log_path, "wb")
    process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    return Node(f"http://127.0.0.1:{port}", process, log_path)


async def wait_healthy(nodes: list[Node], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as http:
        for node in nodes:
            while True:
                if node.process.poll() is not None:
                    raise RuntimeError(f"{node.url} exited: {node.log_path.read_text()[-2000:]}")
                try:
                    async with http.get(f"{node.url}/healthz") as resp:
                        if resp.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{node.url} did not come up")
                await asyncio.sleep(0.1)


def stop_nodes(nodes: list[Node]) -> None:
    for node in nodes:
        if node.process.poll() is None:
            node.process.terminate()
    for node in nodes:
        try:
            node.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            node.process.kill()
            node.process.wait()


async def start_cluster(count: int, base_dir: Path, secret: str, db_url: str | None, redis_url: str | None) -> list[Node]:
    """Start the first node alone (it runs the migrations), then the rest."""
    nodes = [start_node(base_dir / "node0", secret, db_url, redis_url)]
    try:
        await wait_healthy(nodes)
        more = [start_node(base_dir / f"node{i}", secret, db_url, redis_url) for i in range(1, count)]
        nodes += more
        await wait_healthy(more)
    except BaseException:
        stop_nodes(nodes)
        raise
    return nodes
