"""Benchmark for issue 6 (synchronized documents): page-turn fan-out and rendering.

Figures
  render     a 100-page PDF (45 lines of text a page) rendered to 1600 px PNGs
             by the hub's renderer (pdfium and the plain PNG in a render worker
             process, which starts on the first call and counts in the first
             page): total and per page; then the per-viewer watermark per page.
  turns      `plenary serve` subprocess(es); N following Socket.IO connections
             spread over worker processes; the chair turns T pages, one every
             `--interval` s. Per turn: the time from just before `doc:present`
             is sent to the arrival of that `doc:page` at the LAST connection
             (p50/p99 over the turns), and the same over every single delivery.
             Clocks: time.monotonic() is CLOCK_MONOTONIC, shared by all
             processes of the machine.
  setups     one process (embedded SQLite, in-process Socket.IO manager), then
             two processes on PostgreSQL + Redis (followers split over both,
             the presenter on the first).

Followers are lean Engine.IO/Socket.IO clients (LeanFollower: a WebSocket,
pings answered, `doc:page` stamped on arrival before it is parsed) in
`--workers` processes: they share the machine's cores with the hub, so their
own cost is kept small; `--socketio-clients` uses python-socketio instead.

Every connect makes the hub broadcast the whole roster to the meeting, so N
connections cost O(N²) roster traffic while they join. To keep the setup in
bounds the N connections belong to `--participants` participants (default 25,
N/25 connections each); page-turn fan-out is per connection either way. The
measurement starts once the roster storm has settled.

Usage (from the repo root):
  .venv/bin/python bench/docs.py                       # 500 followers, 50 turns
  .venv/bin/python bench/docs.py --clients 100 --turns 20 --skip-two
"""
from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import multiprocessing as mp
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp  # noqa: E402
import socketio  # noqa: E402

from sessions.identity import TokenService  # noqa: E402
from tests.documents.pdfs import make_pdf  # noqa: E402
from tests.helpers import ServeProcess  # noqa: E402

NS = "/meeting"
SECRET = "bench-secret-" + "y" * 40
PG_ADMIN_DSN = os.environ.get("PLENARY_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("PLENARY_TEST_REDIS", "redis://127.0.0.1:6379/0")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(0, min(len(ordered) - 1, int(round(q / 100 * len(ordered) + 0.5)) - 1))
    return ordered[rank]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- rendering -------------------------------------------------------------------------------


async def bench_render(pages: int = 100) -> dict:
    from sessions.documents.render import PageRenderer
    from sessions.documents.storage import DocumentStore, write_atomically

    with tempfile.TemporaryDirectory() as tmp:
        renderer = PageRenderer(DocumentStore(Path(tmp)))
        try:
            data = make_pdf(pages, body_lines=45)
            sha = hashlib.sha256(data).hexdigest()
            write_atomically(renderer.store.pdf_path(sha), data)
            started = time.perf_counter()
            counted = await renderer.count_pages(renderer.store.pdf_path(sha))
            assert counted == pages
            first = None
            for page in range(1, pages + 1):
                await renderer.plain_page(sha, page)
                if first is None:
                    first = time.perf_counter() - started
            total = time.perf_counter() - started
            marks = []
            for page in range(1, 11):
                t0 = time.perf_counter()
                await renderer.marked_page(sha, page, "bench-viewer", "李委员 · 城关代表联络站")
                marks.append(time.perf_counter() - t0)
            size = sum(renderer.store.page_path(sha, p).stat().st_size for p in range(1, pages + 1))
        finally:
            await renderer.close()
    return {
        "pages": pages,
        "total_s": total,
        "first_page_s": first,
        "per_page_ms": total / pages * 1000,
        "watermark_ms_p50": percentile(marks, 50) * 1000,
        "png_kib_avg": size / pages / 1024,
    }


# -- followers in worker processes -----------------------------------------------------------


def worker_main(assignments: list[tuple[str, str]], conn, lean: bool) -> None:
    asyncio.run(_worker(assignments, conn, lean))


class LeanFollower:
    """A follower speaking Engine.IO 4 / Socket.IO 5 over one WebSocket, doing only what
    a follower needs: join, answer pings, stamp `doc:page` arrivals. The clients share
    the server's two cores, so their own cost must stay small (python-socketio's client
    spends several times more per message, and a roster is parsed by nobody here)."""

    PREFIX = "42/meeting,"

    def __init__(self, url: str, token: str, counters: dict) -> None:
        self.url = url.replace("http://", "ws://", 1) + "/socket.io/?EIO=4&transport=websocket"
        self.token = token
        self.counters = counters
        self.arrivals: list[tuple[int, int, float]] = []
        self.ws = None
        self.task = None

    async def connect(self, http: aiohttp.ClientSession) -> None:
        self.ws = await http.ws_connect(self.url, autoping=True, max_msg_size=0)
        opening = await self.ws.receive_str(timeout=30)
        assert opening.startswith("0"), opening
        await self.ws.send_str("40/meeting," + json.dumps({"token": self.token}))
        while True:
            frame = await self.ws.receive_str(timeout=30)
            if frame.startswith("40/meeting,"):
                break
            if frame.startswith("44/meeting,"):
                raise RuntimeError(f"refused: {frame}")
            self.handle(frame)
        self.task = asyncio.ensure_future(self.read())

    def handle(self, frame: str) -> None:
        if frame.startswith(self.PREFIX):
            if frame.startswith('["doc:page"', len(self.PREFIX)):
                at = time.monotonic()
                data = json.loads(frame[len(self.PREFIX):])[1]
                self.arrivals.append((data["page"], data["seq"], at))
                self.counters["pages"] += 1
            elif frame.startswith('["roster"', len(self.PREFIX)):
                self.counters["roster"] += 1

    async def read(self) -> None:
        async for message in self.ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            if message.data == "2":
                await self.ws.send_str("3")
            else:
                self.handle(message.data)

    async def close(self) -> None:
        if self.task:
            self.task.cancel()
        if self.ws is not None:
            await self.ws.close()


class SocketIOFollower:
    """The same follower on python-socketio's client (heavier; for comparison)."""

    def __init__(self, url: str, token: str, counters: dict) -> None:
        self.url, self.token, self.counters = url, token, counters
        self.arrivals: list[tuple[int, int, float]] = []
        self.sio = socketio.AsyncClient(reconnection=False)

        async def on_page(data):
            self.arrivals.append((data["page"], data["seq"], time.monotonic()))
            counters["pages"] += 1

        async def on_roster(_data):
            counters["roster"] += 1

        self.sio.on("doc:page", on_page, namespace=NS)
        self.sio.on("roster", on_roster, namespace=NS)

    async def connect(self, http) -> None:
        await self.sio.connect(self.url, auth={"token": self.token}, namespaces=[NS], transports=["websocket"],
                               wait_timeout=30)

    async def close(self) -> None:
        await self.sio.disconnect()


async def _worker(assignments: list[tuple[str, str]], conn, lean: bool) -> None:
    loop = asyncio.get_running_loop()
    counters = {"roster": 0, "pages": 0}
    kind = LeanFollower if lean else SocketIOFollower
    followers = [kind(url, token, counters) for url, token in assignments]
    gate = asyncio.Semaphore(16)

    async def connect(follower, http) -> None:
        async with gate:
            await follower.connect(http)

    # limit=0: one session holds every follower's WebSocket (the default caps it at 100).
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        try:
            await asyncio.gather(*(connect(f, http) for f in followers))
            conn.send(("connected", len(followers)))
            while True:
                command = await loop.run_in_executor(None, conn.recv)
                if command == "stats":
                    conn.send(("stats", dict(counters)))
                elif command == "results":
                    conn.send(("results", [f.arrivals for f in followers]))
                elif command == "stop":
                    break
        except Exception as exc:  # report, so the parent does not wait forever
            conn.send(("error", repr(exc)))
        finally:
            await asyncio.gather(*(f.close() for f in followers), return_exceptions=True)
            conn.send(("stopped", None))


class Workers:
    def __init__(self, assignments: list[tuple[str, str]], count: int, lean: bool) -> None:
        ctx = mp.get_context("spawn")
        self.pipes = []
        self.procs = []
        for w in range(count):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=worker_main, args=(assignments[w::count], child, lean), daemon=True)
            proc.start()
            self.pipes.append(parent)
            self.procs.append(proc)

    async def _recv(self, pipe, timeout: float):
        loop = asyncio.get_running_loop()
        if not await loop.run_in_executor(None, pipe.poll, timeout):
            raise TimeoutError("worker did not answer")
        kind, value = pipe.recv()
        if kind == "error":
            raise RuntimeError(f"worker failed: {value}")
        return value

    async def wait_connected(self, timeout: float) -> int:
        return sum([await self._recv(p, timeout) for p in self.pipes])

    async def ask(self, command: str, timeout: float = 60):
        for pipe in self.pipes:
            pipe.send(command)
        return [await self._recv(p, timeout) for p in self.pipes]

    async def stop(self) -> None:
        for pipe in self.pipes:
            try:
                pipe.send("stop")
            except (BrokenPipeError, OSError):
                pass
        for proc in self.procs:
            await asyncio.get_running_loop().run_in_executor(None, proc.join, 20)
            if proc.is_alive():
                proc.kill()


# -- one setup --------------------------------------------------------------------------------


async def run_turns(label: str, nodes: list[ServeProcess], args) -> dict:
    admin = {"Authorization": f"Bearer {TokenService(SECRET).admin_token()}"}
    async with aiohttp.ClientSession(headers=admin) as http:
        async def post(url: str, json: dict) -> dict:
            async with http.post(url, json=json) as resp:
                assert resp.status == 201, await resp.text()
                return await resp.json()

        mid = (await post(f"{nodes[0].url}/api/meetings", {"title": "电子阅文基准"}))["id"]
        chair = await post(f"{nodes[0].url}/api/meetings/{mid}/participants", {"name": "主任", "role": "chair"})
        members = [
            await post(f"{nodes[0].url}/api/meetings/{mid}/participants", {"name": f"委员{i}", "role": "member"})
            for i in range(args.participants)
        ]
        form = aiohttp.FormData()
        form.add_field("file", make_pdf(max(args.turns, 2)), filename="bench.pdf", content_type="application/pdf")
        async with http.post(
            f"{nodes[0].url}/api/meetings/{mid}/documents", data=form,
            headers={"Authorization": f"Bearer {chair['token']}"},
        ) as resp:
            assert resp.status == 201, await resp.text()
            doc = await resp.json()

    assignments = [(nodes[i % len(nodes)].url, members[i % len(members)]["token"]) for i in range(args.clients)]
    workers = Workers(assignments, args.workers, not args.socketio_clients)
    presenter = socketio.AsyncClient(reconnection=False)
    try:
        t0 = time.perf_counter()
        connected = await workers.wait_connected(timeout=180)
        assert connected == args.clients, connected
        await presenter.connect(nodes[0].url, auth={"token": chair["token"]}, namespaces=[NS], transports=["websocket"])
        join_s = time.perf_counter() - t0
        # Let the roster storm of the joins settle before measuring.
        last, stable_since, deadline = -1, time.monotonic(), time.monotonic() + 120
        while time.monotonic() < deadline:
            seen = sum(s["roster"] for s in await workers.ask("stats"))
            if seen != last:
                last, stable_since = seen, time.monotonic()
            elif time.monotonic() - stable_since > 1.5:
                break
            await asyncio.sleep(0.3)
        settle_s = time.perf_counter() - t0 - join_s

        cpu_before = sum(cpu_seconds(node.proc.pid) for node in nodes)
        sent: dict[int, float] = {}
        acks: list[float] = []
        for page in range(1, args.turns + 1):
            sent[page] = time.monotonic()
            ack = await presenter.call("doc:present", {"document_id": doc["id"], "page": page}, namespace=NS, timeout=30)
            acks.append(time.monotonic() - sent[page])
            assert ack.get("ok"), ack
            await asyncio.sleep(max(0.0, sent[page] + args.interval - time.monotonic()))

        expected = args.clients * args.turns
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            got = sum(s["pages"] for s in await workers.ask("stats"))
            if got >= expected:
                break
            await asyncio.sleep(0.2)
        # Hub CPU (all its processes) per page turn: a figure the machine's other load does not inflate.
        cpu_per_turn = (sum(cpu_seconds(node.proc.pid) for node in nodes) - cpu_before) / args.turns
        per_worker = await workers.ask("results")
    finally:
        if presenter.connected:
            await presenter.disconnect()
        await workers.stop()

    per_client = [client for worker in per_worker for client in worker]
    last_arrival: dict[int, float] = {}
    deliveries: list[float] = []
    in_order = 0
    for received in per_client:
        pages = [p for p, _seq, _t in received]
        in_order += pages == list(range(1, args.turns + 1))
        for page, _seq, at in received:
            deliveries.append(at - sent[page])
            last_arrival[page] = max(last_arrival.get(page, 0.0), at)
    to_last = [last_arrival[p] - sent[p] for p in sent if p in last_arrival]
    return {
        "setup": label,
        "clients": args.clients,
        "turns": args.turns,
        "delivered": f"{len(deliveries)}/{args.clients * args.turns}",
        "clients_in_order": f"{in_order}/{len(per_client)}",
        "join_s": join_s,
        "settle_s": settle_s,
        "last_p50_ms": percentile(to_last, 50) * 1000,
        "last_p90_ms": percentile(to_last, 90) * 1000,
        "last_p99_ms": percentile(to_last, 99) * 1000,
        "last_max_ms": max(to_last) * 1000 if to_last else float("nan"),
        "each_p50_ms": percentile(deliveries, 50) * 1000,
        "each_p99_ms": percentile(deliveries, 99) * 1000,
        "ack_p50_ms": percentile(acks, 50) * 1000,
        "hub_cpu_ms_per_turn": cpu_per_turn * 1000,
        "slowest_turns_ms": [round(v * 1000) for v in sorted(to_last)[-3:]],
    }


async def with_pg_database(run):
    import asyncpg

    name = f"plenary_bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        return await run(f"{base}/{name}")
    finally:
        admin = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def serve_and_run(label: str, count: int, args, db_url: str | None, redis_url: str | None, tmp: Path) -> dict:
    nodes = [
        ServeProcess(data_dir=tmp / f"{label}-{i}", secret=SECRET, db_url=db_url, redis_url=redis_url)
        for i in range(count)
    ]
    try:
        for node in nodes:
            await node.start()
        return await asyncio.wait_for(run_turns(label, nodes, args), args.timeout)
    finally:
        for node in nodes:
            await node.stop()


def show(result: dict) -> None:
    parts = []
    for key, value in result.items():
        parts.append(f"{key}={value:.1f}" if isinstance(value, float) else f"{key}={value}")
    print("  " + "  ".join(parts), flush=True)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--turns", type=int, default=50)
    parser.add_argument("--participants", type=int, default=25)
    parser.add_argument("--workers", type=int, default=2, help="follower processes")
    parser.add_argument("--socketio-clients", action="store_true", help="python-socketio followers, not the lean ones")
    parser.add_argument("--interval", type=float, default=0.25, help="seconds between page turns")
    parser.add_argument("--render-pages", type=int, default=100)
    parser.add_argument("--timeout", type=float, default=300, help="bound for each setup")
    parser.add_argument("--skip-render", action="store_true")
    parser.add_argument("--skip-one", action="store_true")
    parser.add_argument("--skip-two", action="store_true")
    args = parser.parse_args()
    print(f"bench/docs.py on {os.cpu_count()} cores", flush=True)

    if not args.skip_render:
        print(f"render: {args.render_pages}-page PDF → 1600 px PNG", flush=True)
        show(await bench_render(args.render_pages))
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        if not args.skip_one:
            print(f"turns: one process (SQLite, in-process manager), {args.clients} followers", flush=True)
            show(await serve_and_run("one", 1, args, None, None, tmp_path))
        if not args.skip_two:
            print(f"turns: two processes (PostgreSQL + Redis), {args.clients} followers", flush=True)
            show(
                await with_pg_database(
                    lambda url: serve_and_run("two", 2, args, url, REDIS_URL, tmp_path)
                )
            )


if __name__ == "__main__":
    asyncio.run(main())
