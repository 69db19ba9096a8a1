"""Voting benchmark: 500 connected clients, 200 voters casting within one second.

    .venv/bin/python bench/vote.py [--clients 500] [--voters 200] [--rounds 5] [--workers 3] [--only one|two]

For each configuration (one `plenary serve` process on PostgreSQL, then two
processes on PostgreSQL + Redis with the clients spread over both), the
benchmark opens `--rounds` secret votes one after another. In each round the
200 voters cast at random moments within one second; it measures

- cast→ack: from sending `vote:cast` to its acknowledgement, per voter;
- close→result: from the chair sending `vote:close` to `vote:result` arriving
  at each of the 500 clients (all clocks are this machine's `time.time()`).

The clients are real python-socketio clients over WebSocket, spread over
`--workers` processes so that the load generator is not one busy event loop;
on a 2-core machine they still share the CPU with the servers, so the figures
are an upper bound of what the hub itself costs. Every database and process
it starts is removed at the end; nothing else is touched.
"""
from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import socketio  # noqa: E402

from bench.vote_cluster import start_cluster, stop_nodes  # noqa: E402

NS = "/meeting"
PG_ADMIN_DSN = os.environ.get("PLENARY_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("PLENARY_TEST_REDIS", "redis://127.0.0.1:6379/0")
SECRET = "bench-secret-" + uuid.uuid4().hex


# -- worker processes: the clients -------------------------------------------


async def _worker(conn, people: list[dict]) -> None:
    """people: [{token, url, voter}] → report per-round cast latencies and result arrival times."""
    loop = asyncio.get_running_loop()
    clients: list[socketio.AsyncClient] = []
    result_at: dict[str, dict[int, float]] = {}  # vote_id -> client index -> arrival time
    all_arrived: dict[str, asyncio.Event] = {}

    def make(index: int) -> socketio.AsyncClient:
        sio = socketio.AsyncClient(reconnection=False)

        async def on_result(data):
            arrived = time.time()
            got = result_at.setdefault(data["vote_id"], {})
            got.setdefault(index, arrived)
            if len(got) == len(people):
                all_arrived.setdefault(data["vote_id"], asyncio.Event()).set()

        sio.on("vote:result", on_result, namespace=NS)
        return sio

    for index, person in enumerate(people):
        sio = make(index)
        await sio.connect(person["url"], auth={"token": person["token"]}, namespaces=[NS],
                          transports=["websocket"], wait_timeout=30)
        clients.append(sio)
    conn.send(("ready", len(clients)))

    lags: list[float] = []

    async def watch_loop_lag() -> None:
        # How late this worker's own loop wakes up: latency it adds to what it measures.
        while True:
            before = time.perf_counter()
            await asyncio.sleep(0.01)
            lags.append(time.perf_counter() - before - 0.01)

    watcher = asyncio.create_task(watch_loop_lag())

    async def cast(sio, vote_id: str, at: float) -> float:
        await asyncio.sleep(max(0.0, at - time.time()))
        sent = time.perf_counter()
        ack = await sio.call("vote:cast", {"vote_id": vote_id, "choice": random.choice(["满意", "基本满意", "不满意"]),
                                           "ballot_id": uuid.uuid4().hex}, namespace=NS, timeout=30)
        if not ack.get("ok"):
            raise RuntimeError(f"cast refused: {ack}")
        return time.perf_counter() - sent

    while True:
        message = await loop.run_in_executor(None, conn.recv)
        if message[0] == "stop":
            break
        if message[0] == "cast":
            _, vote_id, t0, window = message
            voters = [sio for sio, person in zip(clients, people) if person["voter"]]
            lags.clear()
            latencies = await asyncio.gather(*(cast(sio, vote_id, t0 + random.uniform(0, window)) for sio in voters))
            conn.send(("cast_done", list(latencies), max(lags, default=0.0)))
        elif message[0] == "await_result":
            _, vote_id = message
            event = all_arrived.setdefault(vote_id, asyncio.Event())
            if len(result_at.get(vote_id, {})) == len(people):
                event.set()
            try:
                await asyncio.wait_for(event.wait(), 30)
            except asyncio.TimeoutError:
                pass
            conn.send(("results", list(result_at.get(vote_id, {}).values()), len(people)))
    watcher.cancel()
    for sio in clients:
        await sio.disconnect()


def worker_main(conn, people: list[dict]) -> None:
    import logging

    # A client that disconnects with nothing queued says so; not news here.
    logging.getLogger("engineio.client").setLevel(logging.ERROR)
    logging.getLogger("socketio.client").setLevel(logging.ERROR)
    asyncio.run(_worker(conn, people))


# -- the coordinator ----------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


async def admin_post(http, url: str, path: str, body: dict, token: str) -> dict:
    async with http.post(url + path, json=body, headers={"Authorization": f"Bearer {token}"}) as resp:
        if resp.status != 201:
            raise RuntimeError(f"{path}: {resp.status} {await resp.text()}")
        return await resp.json()


async def create_database() -> tuple[str, str]:
    import asyncpg

    name = f"plenary_bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return name, f"{base}/{name}"


async def drop_database(name: str) -> None:
    import asyncpg

    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def run_config(label: str, processes: int, args) -> dict:
    from sessions.identity import TokenService

    db_name, db_url = await create_database()
    workdir = Path(tempfile.mkdtemp(prefix="plenary-vote-bench-"))
    nodes = await start_cluster(processes, workdir, SECRET, db_url, REDIS_URL if processes > 1 else None)
    urls = [n.url for n in nodes]
    workers: list[tuple[mp.Process, object]] = []
    chair = None
    try:
        admin = TokenService(SECRET).admin_token()
        async with aiohttp.ClientSession() as http:
            mid = (await admin_post(http, urls[0], "/api/meetings", {"title": "测评压测"}, admin))["id"]
            chair_p = await admin_post(http, urls[0], f"/api/meetings/{mid}/participants",
                                       {"name": "主任", "role": "chair"}, admin)
            gate = asyncio.Semaphore(8)

            async def add(i: int) -> dict:
                role = "member" if i < args.voters else ("deputy" if i % 2 else "observer")
                async with gate:
                    p = await admin_post(http, urls[i % len(urls)], f"/api/meetings/{mid}/participants",
                                         {"name": f"参会{i:03d}", "role": role}, admin)
                return {"token": p["token"], "url": urls[i % len(urls)], "voter": role == "member"}

            people = await asyncio.gather(*(add(i) for i in range(args.clients - 1)))
        ctx = mp.get_context("spawn")
        shares = [people[w::args.workers] for w in range(args.workers)]
        for share in shares:
            parent_end, child_end = ctx.Pipe()
            process = ctx.Process(target=worker_main, args=(child_end, share), daemon=True)
            process.start()
            workers.append((process, parent_end))
        loop = asyncio.get_running_loop()

        async def recv(pipe):
            return await loop.run_in_executor(None, pipe.recv)

        load_before = os.getloadavg()[0]
        connect_started = time.monotonic()
        ready = await asyncio.gather(*(recv(pipe) for _, pipe in workers))
        connected = sum(r[1] for r in ready)
        chair = socketio.AsyncClient(reconnection=False)
        everyone_online = asyncio.Event()

        def on_roster(data):
            if sum(1 for p in data["participants"] if p["online"]) >= args.clients:
                everyone_online.set()

        chair.on("roster", on_roster, namespace=NS)
        await chair.connect(urls[0], auth={"token": chair_p["token"]}, namespaces=[NS], transports=["websocket"])
        connected += 1
        # The join storm ends with a roster of everyone sent to everyone:
        # measure voting, not that.
        await asyncio.wait_for(everyone_online.wait(), 120)
        await asyncio.sleep(2.0)
        connect_s = time.monotonic() - connect_started

        cast_lat: list[float] = []
        result_lat: list[float] = []
        missing = 0
        for round_no in range(args.rounds):
            if round_no:
                await asyncio.sleep(args.pause)  # let the last round's after-work (vacuum) finish
            opened = await chair.call("vote:open", {"subject": f"压测第{round_no + 1}轮", "secret": True},
                                      namespace=NS, timeout=30)
            vote_id = opened["vote_id"]
            t0 = time.time() + 0.3
            if os.environ.get("PLENARY_BENCH_TRACE"):
                print(f"  round {round_no + 1} casts from {t0:.3f}", flush=True)
            for _, pipe in workers:
                pipe.send(("cast", vote_id, t0, 1.0))
            round_casts = []
            worst_lag = 0.0
            for reply in await asyncio.gather(*(recv(pipe) for _, pipe in workers)):
                round_casts += reply[1]
                worst_lag = max(worst_lag, reply[2])
            cast_lat += round_casts
            for _, pipe in workers:
                pipe.send(("await_result", vote_id))
            await asyncio.sleep(0.5)  # let the last turnout broadcast settle
            closed_at = time.time()
            ack = await chair.call("vote:close", {"vote_id": vote_id}, namespace=NS, timeout=30)
            if ack["result"]["cast"] != args.voters:
                raise RuntimeError(f"round {round_no}: counted {ack['result']['cast']}, expected {args.voters}")
            round_results = []
            for reply in await asyncio.gather(*(recv(pipe) for _, pipe in workers)):
                round_results += [t - closed_at for t in reply[1]]
                missing += reply[2] - len(reply[1])
            result_lat += round_results
            print(f"  {label}, round {round_no + 1}: cast→ack p50 {pct(round_casts, .5) * 1000:.1f} "
                  f"p99 {pct(round_casts, .99) * 1000:.1f} ms; close→result p50 {pct(round_results, .5) * 1000:.1f} "
                  f"p99 {pct(round_results, .99) * 1000:.1f} ms; worst client-loop lag while casting "
                  f"{worst_lag * 1000:.0f} ms; load {os.getloadavg()[0]:.1f}", flush=True)
        return {
            "label": label, "connected": connected, "connect_s": connect_s, "casts": len(cast_lat),
            "cast_p50": pct(cast_lat, 0.50), "cast_p99": pct(cast_lat, 0.99), "cast_max": max(cast_lat),
            "results": len(result_lat), "missing": missing,
            "result_p50": pct(result_lat, 0.50), "result_p99": pct(result_lat, 0.99), "result_max": max(result_lat),
            "cast_mean": statistics.mean(cast_lat),
            "load": (load_before, os.getloadavg()[0]),
        }
    finally:
        if chair is not None and chair.connected:
            await chair.disconnect()
        for process, pipe in workers:
            try:
                pipe.send(("stop",))
            except (BrokenPipeError, OSError):
                pass
        for process, _ in workers:
            process.join(15)
            if process.is_alive():
                process.terminate()
                process.join()
        stop_nodes(nodes)
        await drop_database(db_name)
        if not (os.environ.get("PLENARY_BENCH_PROFILE") or os.environ.get("PLENARY_BENCH_KEEP")):  # logs to read
            shutil.rmtree(workdir, ignore_errors=True)


def print_table(rows: list[dict], args) -> None:
    ms = lambda s: f"{s * 1000:7.1f}"  # noqa: E731
    print()
    print(f"Voting benchmark: {args.clients} clients, {args.voters} voters casting within 1 s, "
          f"{args.rounds} rounds, clients in {args.workers} worker processes, {os.cpu_count()} CPUs")
    print(f"{'configuration':<34}{'clients':>8}{'casts':>7}{'cast→ack p50':>14}{'p99':>9}{'max':>9}"
          f"{'close→result p50':>18}{'p99':>9}{'max':>9}{'missing':>9}")
    for r in rows:
        print(f"{r['label']:<34}{r['connected']:>8}{r['casts']:>7}{ms(r['cast_p50']):>14}{ms(r['cast_p99']):>9}"
              f"{ms(r['cast_max']):>9}{ms(r['result_p50']):>18}{ms(r['result_p99']):>9}{ms(r['result_max']):>9}"
              f"{r['missing']:>9}")
    print("(milliseconds; aims: p99 < 100 ms on one process, < 250 ms on two)")
    for r in rows:
        print(f"{r['label']}: 1-min load average {r['load'][0]:.1f} before, {r['load'][1]:.1f} after "
              f"(other work on this machine shares the {os.cpu_count()} CPUs); {r['connected']} clients connected "
              f"in {r['connect_s']:.1f} s")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--voters", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--only", choices=["one", "two"], default=None)
    parser.add_argument("--pause", type=float, default=3.0, help="seconds between rounds")
    args = parser.parse_args()
    rows = []
    if args.only in (None, "one"):
        rows.append(await run_config("1 process, PostgreSQL", 1, args))
    if args.only in (None, "two"):
        rows.append(await run_config("2 processes, PostgreSQL + Redis", 2, args))
    print_table(rows, args)


if __name__ == "__main__":
    asyncio.run(main())
