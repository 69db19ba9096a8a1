"""Load benchmark (issue 12, item 5b): one meeting of 2000 Socket.IO clients on two processes.

    .venv/bin/python bench/load.py [--clients 2000] [--client-procs 4] [--seconds 30] [--votes 3]
                                   [--voters 300] [--churn 20] [--runs 3] [--json PATH] [--max-minutes 40]

Each run starts two `plenary serve` processes on a fresh PostgreSQL database
and Redis (bench/vote_cluster.py), makes one meeting over REST with a chair
and `--clients` members (the chair also uploads a PDF of `--seconds` pages),
and connects the members as real python-socketio WebSocket clients, spread
over `--client-procs` worker processes and alternately over the two servers'
URLs; the chair connects to the first. It then measures

- clients per server process (its own `plenary_connected_clients` gauge, from
  `GET /metrics` on each process's port) and per client process;
- memory per client: the hub processes' RSS (psutil) with the meeting made
  and idle, before any client connects, and again once every client is
  connected and the join storm has settled; (sum of RSS after − sum of RSS
  before) / clients. Each process's RSS is printed too. PDF render workers
  are processes of their own and are not counted;
- page-turn fan-out: the chair sends `doc:present` once a second for
  `--seconds` (pages 1, 2, …); latency = the chair's `time.time()` just before
  sending → `doc:page` arriving at each client (`time.time()`, same machine
  clock): p50/p99/max over every receipt, and how many are missing;
- roster changes meanwhile: `--churn` clients (part of `--clients`) each
  disconnect once and connect again a second later, at moments spread over
  the page turns, so the hub sends roster broadcasts while it turns pages.
  Their page receipts are left out (they are offline for some turns). The
  members connect with auth `roster: "delta"` as the browser client does
  (`--roster full`: the contract's default), so they get `roster:presence`
  (who came and went) when only presence changed; the chair takes whole
  rosters (a contract client). A whole roster carries the whole meeting;
  its size and how many were sent during the turns are printed;
- votes: `--votes` times, the chair opens a secret satisfaction vote, `--voters`
  clients cast within one second, the chair closes it; latency = `vote:close`
  sent → `vote:result` at each client (every client, the churned ones are
  back by then): p50/p99/max and missing; also cast→ack.

`--runs N` repeats the whole measurement (fresh database and processes each
time) and prints the median with the range [min–max] of each figure. Aims
(issue 12): under 100 KB per client, vote result p99 under 250 ms.

The clients share the machine's CPUs with the servers (and, on a 2-core
machine, with each other), so latencies are an upper bound of what the hub
itself costs; the worst event-loop lag of the client processes is printed
beside them. The whole benchmark stops itself after `--max-minutes`.
Every database and process it starts is removed at the end.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import psutil  # noqa: E402
import socketio  # noqa: E402

from bench.vote import create_database, drop_database, pct  # noqa: E402
from bench.vote_cluster import start_cluster, stop_nodes  # noqa: E402

NS = "/meeting"
REDIS_URL = os.environ.get("PLENARY_TEST_REDIS", "redis://127.0.0.1:6379/0")
SECRET = "bench-secret-" + uuid.uuid4().hex
CHOICES = ["满意", "基本满意", "不满意"]

# What is running, so the hard stop can clean up from another thread.
_LIVE: dict = {"nodes": [], "workers": [], "databases": set()}


# -- worker processes: the clients -------------------------------------------


async def _worker(conn, people: list[dict]) -> None:
    """people: [{token, url, voter, churn}]; answers the coordinator's commands on `conn`."""
    loop = asyncio.get_running_loop()
    clients: list[socketio.AsyncClient | None] = [None] * len(people)
    pages: list[list[tuple[int, float]]] = [[] for _ in people]   # per client: (page, arrival)
    results: dict[str, dict[int, float]] = {}                     # vote_id -> client -> arrival
    counters = {"roster": 0}
    lags: list[float] = []
    gate = asyncio.Semaphore(10)

    def make(index: int) -> socketio.AsyncClient:
        sio = socketio.AsyncClient(reconnection=False)

        async def on_page(data):
            pages[index].append((data["page"], time.time()))

        async def on_result(data):
            results.setdefault(data["vote_id"], {}).setdefault(index, time.time())

        async def on_roster(_data):
            counters["roster"] += 1

        sio.on("doc:page", on_page, namespace=NS)
        sio.on("vote:result", on_result, namespace=NS)
        sio.on("roster", on_roster, namespace=NS)
        sio.on("roster:presence", on_roster, namespace=NS)
        return sio

    async def connect(index: int) -> None:
        sio = make(index)
        async with gate:
            # Members take roster changes as the browser client does (deltas
            # unless --roster full); the chair keeps the whole roster.
            await sio.connect(people[index]["url"], auth={"token": people[index]["token"],
                                                           "roster": people[index]["roster"]}, namespaces=[NS],
                              transports=["websocket"], wait_timeout=30)
        clients[index] = sio

    async def watch_loop_lag() -> None:
        # How late this worker's own loop wakes up: latency it adds to what it measures.
        while True:
            before = time.perf_counter()
            await asyncio.sleep(0.01)
            lags.append(time.perf_counter() - before - 0.01)

    async def churn(index: int, at: float, offline_s: float) -> bool:
        await asyncio.sleep(max(0.0, at - time.time()))
        sio = clients[index]
        clients[index] = None
        if sio is not None:
            await sio.disconnect()
        await asyncio.sleep(offline_s)
        try:
            await connect(index)
            return True
        except Exception:
            return False

    async def cast(sio, vote_id: str, at: float) -> float:
        await asyncio.sleep(max(0.0, at - time.time()))
        sent = time.perf_counter()
        ack = await sio.call("vote:cast", {"vote_id": vote_id, "choice": random.choice(CHOICES),
                                           "ballot_id": uuid.uuid4().hex}, namespace=NS, timeout=30)
        if not ack.get("ok"):
            raise RuntimeError(f"cast refused: {ack}")
        return time.perf_counter() - sent

    watcher = None
    try:
        await asyncio.gather(*(connect(i) for i in range(len(people))))
        watcher = asyncio.create_task(watch_loop_lag())
        conn.send(("ready", len(people)))
        churns: list[asyncio.Task] = []
        while True:
            message = await loop.run_in_executor(None, conn.recv)
            kind = message[0]
            if kind == "stop":
                break
            if kind == "stats":
                conn.send(("stats", dict(counters)))
            elif kind == "lag_reset":
                lags.clear()
                conn.send(("ok",))
            elif kind == "churn":  # ("churn", [(index, at)], offline_s): runs in the background
                _, schedule, offline_s = message
                churns = [asyncio.create_task(churn(i, at, offline_s)) for i, at in schedule]
                conn.send(("ok",))
            elif kind == "pages":  # ("pages", expected turns, timeout): receipts of the steady clients
                _, turns, timeout = message
                deadline = time.monotonic() + timeout
                steady = [i for i, p in enumerate(people) if not p["churn"]]
                while time.monotonic() < deadline and any(len(pages[i]) < turns for i in steady):
                    await asyncio.sleep(0.1)
                done = await asyncio.gather(*churns) if churns else []
                conn.send(("pages", [pages[i] for i in steady], sum(done), len(churns), max(lags, default=0.0)))
            elif kind == "cast":
                _, vote_id, t0, window = message
                lags.clear()
                voters = [clients[i] for i, p in enumerate(people) if p["voter"] and clients[i] is not None]
                latencies = await asyncio.gather(*(cast(sio, vote_id, t0 + random.uniform(0, window))
                                                   for sio in voters))
                conn.send(("cast_done", list(latencies), max(lags, default=0.0)))
            elif kind == "result":  # ("result", vote_id, timeout)
                _, vote_id, timeout = message
                deadline = time.monotonic() + timeout
                while time.monotonic() < deadline and len(results.get(vote_id, {})) < len(people):
                    await asyncio.sleep(0.05)
                conn.send(("result", list(results.get(vote_id, {}).values()), len(people), max(lags, default=0.0)))
    except Exception as exc:  # report, so the coordinator does not wait forever
        conn.send(("error", repr(exc)))
    finally:
        if watcher is not None:
            watcher.cancel()
        await asyncio.gather(*(sio.disconnect() for sio in clients if sio is not None), return_exceptions=True)


def worker_main(conn, people: list[dict]) -> None:
    import logging

    # A client that disconnects with nothing queued says so; not news here.
    logging.getLogger("engineio.client").setLevel(logging.ERROR)
    logging.getLogger("socketio.client").setLevel(logging.ERROR)
    asyncio.run(_worker(conn, people))


class Workers:
    def __init__(self, shares: list[list[dict]]) -> None:
        ctx = mp.get_context("spawn")
        self.pipes = []
        self.procs = []
        for share in shares:
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=worker_main, args=(child, share), daemon=True)
            proc.start()
            _LIVE["workers"].append(proc)
            self.pipes.append(parent)
            self.procs.append(proc)

    async def _recv(self, pipe, timeout: float):
        loop = asyncio.get_running_loop()
        if not await loop.run_in_executor(None, pipe.poll, timeout):
            raise TimeoutError("a client process did not answer")
        reply = pipe.recv()
        if reply[0] == "error":
            raise RuntimeError(f"a client process failed: {reply[1]}")
        return reply

    async def ask(self, messages, timeout: float = 120) -> list:
        """Send each worker its message (one for all, or a list) and gather the replies."""
        if not isinstance(messages, list):
            messages = [messages] * len(self.pipes)
        for pipe, message in zip(self.pipes, messages):
            pipe.send(message)
        return await asyncio.gather(*(self._recv(p, timeout) for p in self.pipes))

    async def stop(self) -> None:
        for pipe in self.pipes:
            try:
                pipe.send(("stop",))
            except (BrokenPipeError, OSError):
                pass
        loop = asyncio.get_running_loop()
        for proc in self.procs:
            await loop.run_in_executor(None, proc.join, 20)
            if proc.is_alive():
                proc.kill()
                proc.join()
            if proc in _LIVE["workers"]:
                _LIVE["workers"].remove(proc)


# -- the coordinator ----------------------------------------------------------


def machine() -> dict:
    model = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True, check=True).stdout.strip()
        if subprocess.run(["git", "diff", "--quiet", "HEAD", "--", "sessions", "signaling", "voting", "web", "media"],
                          cwd=ROOT).returncode:
            commit += " (+ uncommitted changes in product code)"
    except (OSError, subprocess.CalledProcessError):
        commit = "?"
    return {"cpu": model, "cores": os.cpu_count(), "ram_gib": psutil.virtual_memory().total / 2**30,
            "python": platform.python_version(), "kernel": platform.release(), "commit": commit}


async def node_info(http, url: str) -> dict:
    """The serving process's pid and node id (GET /healthz) and its connected clients (GET /metrics)."""
    async with http.get(url + "/healthz") as resp:
        pid, node = int(resp.headers["X-Plenary-Pid"]), resp.headers["X-Plenary-Node"]
    async with http.get(url + "/metrics") as resp:
        text = await resp.text()
    clients = next((int(float(line.split()[-1])) for line in text.splitlines()
                    if line.startswith("plenary_connected_clients ")), -1)
    return {"pid": pid, "node": node, "clients": clients}


def rss_mb(pid: int) -> float:
    return psutil.Process(pid).memory_info().rss / 2**20


async def settle(pids: list[int], quiet_cpu: float = 0.10, hold_s: float = 2.0, limit_s: float = 90) -> float:
    """Wait until every process has used under `quiet_cpu` of a core for `hold_s` (at most `limit_s`)."""
    procs = [psutil.Process(p) for p in pids]
    started = time.monotonic()
    quiet_since = None
    last = [sum(p.cpu_times()[:2]) for p in procs]
    while time.monotonic() - started < limit_s:
        await asyncio.sleep(0.5)
        now = [sum(p.cpu_times()[:2]) for p in procs]
        busy = max(b - a for a, b in zip(last, now)) / 0.5
        last = now
        if busy < quiet_cpu:
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since >= hold_s:
                break
        else:
            quiet_since = None
    return time.monotonic() - started


async def post_json(http, url: str, body: dict, token: str) -> dict:
    async with http.post(url, json=body, headers={"Authorization": f"Bearer {token}"}) as resp:
        if resp.status != 201:
            raise RuntimeError(f"{url}: {resp.status} {await resp.text()}")
        return await resp.json()


async def one_run(run_no: int, args) -> dict:
    from sessions.identity import TokenService
    from tests.documents.pdfs import make_pdf

    db_name, db_url = await create_database()
    _LIVE["databases"].add(db_name)
    workdir = Path(tempfile.mkdtemp(prefix="plenary-load-bench-"))
    nodes = []
    workers = None
    chair = None
    say = lambda text: print(f"  run {run_no}: {text}", flush=True)  # noqa: E731
    try:
        nodes = await start_cluster(2, workdir, SECRET, db_url, REDIS_URL)
        _LIVE["nodes"] += nodes
        urls = [n.url for n in nodes]
        admin = TokenService(SECRET).admin_token()
        async with aiohttp.ClientSession() as http:
            infos = [await node_info(http, u) for u in urls]
            pids = [i["pid"] for i in infos]
            if pids != [n.process.pid for n in nodes] or infos[0]["node"] == infos[1]["node"]:
                raise RuntimeError(f"unexpected processes behind the two ports: {infos}")
            mid = (await post_json(http, urls[0] + "/api/meetings", {"title": "千人会议压测"}, admin))["id"]
            chair_p = await post_json(http, urls[0] + f"/api/meetings/{mid}/participants",
                                      {"name": "主任", "role": "chair"}, admin)
            gate = asyncio.Semaphore(8)

            async def add(i: int) -> dict:
                async with gate:
                    p = await post_json(http, urls[i % 2] + f"/api/meetings/{mid}/participants",
                                        {"name": f"委员{i:04d}", "role": "member"}, admin)
                return {"token": p["token"], "url": urls[i % 2]}

            people = list(await asyncio.gather(*(add(i) for i in range(args.clients))))
            form = aiohttp.FormData()
            form.add_field("file", make_pdf(args.seconds), filename="load.pdf", content_type="application/pdf")
            async with http.post(urls[0] + f"/api/meetings/{mid}/documents", data=form,
                                 headers={"Authorization": f"Bearer {chair_p['token']}"}) as resp:
                if resp.status != 201:
                    raise RuntimeError(f"upload: {resp.status} {await resp.text()}")
                doc = await resp.json()

            # Idle, meeting made (the upload's background render done): the baseline.
            await settle(pids)
            rss_before = [rss_mb(p) for p in pids]

            # Who does what: churners and voters are disjoint, spread over every client process.
            order = list(range(args.clients))
            random.Random(run_no).shuffle(order)
            churners = set(order[:args.churn])
            voters = set(order[args.churn:args.churn + args.voters])
            for i, p in enumerate(people):
                p["index"], p["churn"], p["voter"] = i, i in churners, i in voters
                p["roster"] = args.roster
            shares = [people[w::args.client_procs] for w in range(args.client_procs)]
            say(f"{args.clients} members made; RSS idle {' + '.join(f'{r:.1f}' for r in rss_before)} MB; "
                f"connecting over {args.client_procs} client processes")
            workers = Workers(shares)
            connect_started = time.monotonic()
            ready = await asyncio.gather(*(workers._recv(p, 600) for p in workers.pipes))
            connected = sum(r[1] for r in ready)

            chair = socketio.AsyncClient(reconnection=False)
            everyone = asyncio.Event()
            chair_pages: list[tuple[int, float]] = []
            chair_results: dict[str, float] = {}
            chair_rosters: list[tuple[float, int]] = []  # arrival, size of the JSON payload

            def on_roster(data):
                chair_rosters.append((time.time(), len(json.dumps(data, ensure_ascii=False).encode())))
                if sum(1 for p in data["participants"] if p["online"]) >= args.clients + 1:
                    everyone.set()

            async def on_page(data):
                chair_pages.append((data["page"], time.time()))

            async def on_result(data):
                chair_results.setdefault(data["vote_id"], time.time())

            chair.on("roster", on_roster, namespace=NS)
            chair.on("doc:page", on_page, namespace=NS)
            chair.on("vote:result", on_result, namespace=NS)
            await chair.connect(urls[0], auth={"token": chair_p["token"]}, namespaces=[NS], transports=["websocket"],
                                wait_timeout=30)
            await asyncio.wait_for(everyone.wait(), 900)
            connect_s = time.monotonic() - connect_started
            settle_s = await settle(pids)
            rss_after = [rss_mb(p) for p in pids]
            infos = [await node_info(http, u) for u in urls]
            per_client_kb = (sum(rss_after) - sum(rss_before)) * 1024 / (connected + 1)
            say(f"{connected + 1} connected in {connect_s:.1f} s (settled {settle_s:.1f} s more); per process "
                f"{[i['clients'] for i in infos]}; RSS {' + '.join(f'{r:.1f}' for r in rss_after)} MB; "
                f"{per_client_kb:.1f} KB per client")

            # Page turns, once a second, with the churn spread over them.
            await workers.ask(("lag_reset",))
            rosters_before = sum(r[1]["roster"] for r in await workers.ask(("stats",)))
            t0 = time.time() + 1.0
            span = max(1.0, args.seconds - 2.0 - args.churn_offline)
            schedule = {p["index"]: t0 + 0.5 + span * k / max(1, args.churn) for k, p in
                        enumerate(sorted((p for p in people if p["churn"]), key=lambda p: order.index(p["index"])))}
            await workers.ask([("churn", [(j, schedule[p["index"]]) for j, p in enumerate(share) if p["churn"]],
                                args.churn_offline) for share in shares])
            sent: dict[int, float] = {}
            present_acks: list[float] = []
            await asyncio.sleep(max(0.0, t0 - time.time()))
            for page in range(1, args.seconds + 1):
                at = t0 + (page - 1)
                await asyncio.sleep(max(0.0, at - time.time()))
                sent[page] = time.time()
                ack = await chair.call("doc:present", {"document_id": doc["id"], "page": page}, namespace=NS,
                                       timeout=30)
                present_acks.append(time.time() - sent[page])
                if not ack.get("ok"):
                    raise RuntimeError(f"doc:present refused: {ack}")
            replies = await workers.ask(("pages", args.seconds, 15.0), timeout=120)
            page_lat: list[float] = []
            steady = 0
            rejoined = churned = 0
            page_lag = 0.0
            for _, per_client, done, planned, lag in replies:
                steady += len(per_client)
                rejoined += done
                churned += planned
                page_lag = max(page_lag, lag)
                for received in per_client:
                    page_lat += [at - sent[pg] for pg, at in received if pg in sent]
            page_missing = steady * args.seconds - len(page_lat)
            rosters_seen = sum(r[1]["roster"] for r in await workers.ask(("stats",))) - rosters_before
            turn_rosters = [size for at, size in chair_rosters if t0 <= at]
            roster_kb = chair_rosters[-1][1] / 1024 if chair_rosters else float("nan")
            say(f"pages: p50 {pct(page_lat, .5) * 1000:.1f} p99 {pct(page_lat, .99) * 1000:.1f} "
                f"max {max(page_lat, default=float('nan')) * 1000:.1f} ms over {len(page_lat)} receipts, "
                f"{page_missing} missing; churn {rejoined}/{churned} back; {len(turn_rosters)} rosters of {roster_kb:.0f} KB "
                f"each sent meanwhile; client loop lag max {page_lag * 1000:.0f} ms")
            if rejoined < churned:
                raise RuntimeError(f"only {rejoined} of {churned} churned clients connected again")

            # Votes.
            cast_lat: list[float] = []
            result_lat: list[float] = []
            vote_missing = 0
            vote_lag = 0.0
            n_voters = len(voters)
            for vote_no in range(args.votes):
                await asyncio.sleep(args.pause)
                opened = await chair.call("vote:open", {"subject": f"满意度测评第{vote_no + 1}项", "secret": True},
                                          namespace=NS, timeout=30)
                if not opened.get("ok"):
                    raise RuntimeError(f"vote:open refused: {opened}")
                vote_id = opened["vote_id"]
                await workers.ask(("lag_reset",))
                start = time.time() + 0.3
                round_casts = []
                for _, lats, lag in await workers.ask(("cast", vote_id, start, 1.0), timeout=120):
                    round_casts += lats
                    vote_lag = max(vote_lag, lag)
                cast_lat += round_casts
                await asyncio.sleep(0.5)  # the last turnout broadcast
                closed_at = time.time()
                ack = await chair.call("vote:close", {"vote_id": vote_id}, namespace=NS, timeout=30)
                if not ack.get("ok") or ack["result"]["cast"] != n_voters:
                    raise RuntimeError(f"vote {vote_no + 1}: close answered {ack}, expected {n_voters} cast")
                round_results = []
                for _, arrivals, expected, lag in await workers.ask(("result", vote_id, 15.0), timeout=120):
                    round_results += [t - closed_at for t in arrivals]
                    vote_missing += expected - len(arrivals)
                    vote_lag = max(vote_lag, lag)
                result_lat += round_results
                say(f"vote {vote_no + 1}: close→result p50 {pct(round_results, .5) * 1000:.1f} "
                    f"p99 {pct(round_results, .99) * 1000:.1f} max {max(round_results, default=float('nan')) * 1000:.1f}"
                    f" ms ({len(round_results)} receipts); cast→ack p99 {pct(round_casts, .99) * 1000:.1f} ms")
            infos_end = [await node_info(http, u) for u in urls]
            rss_end = [rss_mb(p) for p in pids]
        ms = lambda v: v * 1000  # noqa: E731
        return {
            "clients": connected + 1,
            "client_procs": args.client_procs,
            "clients_per_client_proc": [r[1] for r in ready],
            "clients_per_server": [i["clients"] for i in infos],
            "connect_s": connect_s,
            "rss_before_mb": rss_before,
            "rss_after_mb": rss_after,
            "rss_end_mb": rss_end,
            "kb_per_client": per_client_kb,
            "page_turns": args.seconds,
            "page_receipts": len(page_lat),
            "page_missing": page_missing,
            "page_p50_ms": ms(pct(page_lat, .5)),
            "page_p99_ms": ms(pct(page_lat, .99)),
            "page_max_ms": ms(max(page_lat, default=float("nan"))),
            "present_ack_p50_ms": ms(pct(present_acks, .5)),
            "churned": churned,
            "rosters_seen": rosters_seen,
            "rosters_sent": len(turn_rosters),
            "roster_kb": roster_kb,
            "votes": args.votes,
            "casts": len(cast_lat),
            "cast_p99_ms": ms(pct(cast_lat, .99)),
            "result_receipts": len(result_lat),
            "result_missing": vote_missing,
            "result_p50_ms": ms(pct(result_lat, .5)),
            "result_p99_ms": ms(pct(result_lat, .99)),
            "result_max_ms": ms(max(result_lat, default=float("nan"))),
            "client_loop_lag_max_ms": ms(max(page_lag, vote_lag)),
            "clients_per_server_end": [i["clients"] for i in infos_end],
            "load_1min": os.getloadavg()[0],
        }
    finally:
        if chair is not None and chair.connected:
            await chair.disconnect()
        if workers is not None:
            await workers.stop()
        stop_nodes(nodes)
        for node in nodes:
            if node in _LIVE["nodes"]:
                _LIVE["nodes"].remove(node)
        await drop_database(db_name)
        _LIVE["databases"].discard(db_name)
        if os.environ.get("PLENARY_BENCH_KEEP"):
            print(f"  logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


# -- reporting -----------------------------------------------------------------

ROWS = [  # key, label, format
    ("clients", "clients connected (members + chair)", "{:.0f}"),
    ("clients_per_server", "clients per server process", None),
    ("clients_per_server_end", "clients per server process after the votes", None),
    ("clients_per_client_proc", "members per client process", None),
    ("connect_s", "connect + roster settle, s", "{:.1f}"),
    ("rss_before_mb", "RSS idle per process, MB", None),
    ("rss_after_mb", "RSS all connected per process, MB", None),
    ("rss_end_mb", "RSS after the votes per process, MB", None),
    ("kb_per_client", "memory per client, KB (aim < 100)", "{:.1f}"),
    ("page_p50_ms", "page fan-out p50, ms", "{:.1f}"),
    ("page_p99_ms", "page fan-out p99, ms", "{:.1f}"),
    ("page_max_ms", "page fan-out max, ms", "{:.1f}"),
    ("page_receipts", "page receipts (steady clients)", "{:.0f}"),
    ("page_missing", "page receipts missing", "{:.0f}"),
    ("present_ack_p50_ms", "doc:present ack p50, ms", "{:.1f}"),
    ("churned", "clients churned during page turns", "{:.0f}"),
    ("rosters_sent", "roster broadcasts during the turns", "{:.0f}"),
    ("roster_kb", "roster size (JSON, whole meeting), KB", "{:.1f}"),
    ("rosters_seen", "rosters received during the turns (all clients)", "{:.0f}"),
    ("result_p50_ms", "vote close→result p50, ms", "{:.1f}"),
    ("result_p99_ms", "vote close→result p99, ms (aim < 250)", "{:.1f}"),
    ("result_max_ms", "vote close→result max, ms", "{:.1f}"),
    ("result_receipts", "vote result receipts", "{:.0f}"),
    ("result_missing", "vote result receipts missing", "{:.0f}"),
    ("cast_p99_ms", "vote cast→ack p99, ms", "{:.1f}"),
    ("client_loop_lag_max_ms", "client processes' worst loop lag, ms", "{:.0f}"),
    ("load_1min", "1-min load average at the end", "{:.1f}"),
]


def summary(values: list) -> str:
    if isinstance(values[0], list):
        return " / ".join(summary([v[i] for v in values]) for i in range(len(values[0])))
    fmt = "{:.1f}" if any(isinstance(v, float) and v != int(v) for v in values if v == v) else "{:.0f}"
    med = statistics.median(values)
    if len(values) == 1:
        return fmt.format(med)
    return f"{fmt.format(med)} [{fmt.format(min(values))}–{fmt.format(max(values))}]"


def print_report(info: dict, runs: list[dict], args) -> None:
    print()
    print(f"Load benchmark (bench/load.py), commit {info['commit']}")
    print(f"machine: {info['cpu']}, {info['cores']} cores, {info['ram_gib']:.1f} GiB RAM, Linux {info['kernel']}, "
          f"Python {info['python']}")
    print(f"setup: 2 `plenary serve` processes on PostgreSQL + Redis; {args.clients} members + 1 chair in one "
          f"meeting, python-socketio clients in {args.client_procs} processes; {args.seconds} page turns 1/s with "
          f"{args.churn} clients churning; {args.votes} secret votes of {args.voters} voters")
    label = "median [min–max]" if len(runs) > 1 else "value"
    print(f"{'figure':<50}{label} over {len(runs)} run(s)")
    for key, text, fmt in ROWS:
        values = [r[key] for r in runs]
        if isinstance(values[0], list):
            shown = summary(values) if len(runs) > 1 else " / ".join(f"{v:.1f}" if isinstance(v, float) else str(v)
                                                                    for v in values[0])
        else:
            shown = summary(values) if len(runs) > 1 else fmt.format(values[0])
        print(f"{text:<50}{shown}")
    print("(latencies are send → arrival on this machine's clock, the clients sharing its CPUs with the servers)")


# -- the hard stop ---------------------------------------------------------------


def hard_stop_after(seconds: float) -> threading.Timer:
    """If the benchmark has not ended `seconds` after start (plus 2 minutes for an orderly
    cancel), kill what it started, drop its databases and exit."""

    def fire() -> None:
        print(f"bench/load.py: hard stop after {seconds / 60:.0f} min; killing what it started", flush=True)
        for proc in list(_LIVE["workers"]):
            try:
                proc.kill()
            except Exception:
                pass
        try:
            stop_nodes(list(_LIVE["nodes"]))
        except Exception:
            pass
        for name in list(_LIVE["databases"]):
            try:
                asyncio.run(drop_database(name))
            except Exception:
                pass
        os._exit(3)

    timer = threading.Timer(seconds + 120, fire)
    timer.daemon = True
    timer.start()
    return timer


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=2000, help="members connected (the chair comes on top)")
    parser.add_argument("--client-procs", type=int, default=4, help="processes the clients are spread over")
    parser.add_argument("--seconds", type=int, default=30, help="page turns, one a second")
    parser.add_argument("--churn", type=int, default=20, help="clients that leave and come back during the turns")
    parser.add_argument("--churn-offline", type=float, default=1.0, help="seconds a churned client stays away")
    parser.add_argument("--votes", type=int, default=3)
    parser.add_argument("--voters", type=int, default=300, help="clients casting in each vote")
    parser.add_argument("--pause", type=float, default=3.0, help="seconds before each vote")
    parser.add_argument("--roster", choices=("delta", "full"), default="delta",
                        help="how members take roster changes: deltas as the browser client does, or whole rosters")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("--max-minutes", type=float, default=60.0, help="hard stop for the whole benchmark")
    args = parser.parse_args()
    if not 1 <= args.seconds <= 500:
        parser.error("--seconds must be 1..500 (one PDF page per turn; a paper has at most 500)")
    if args.churn > args.clients:
        parser.error("--churn must not exceed --clients")
    if args.churn + args.voters > args.clients:  # churners do not vote: cap the voters
        args.voters = args.clients - args.churn
        print(f"bench/load.py: --voters capped at {args.voters} (clients − churn)", flush=True)

    info = machine()
    print(f"bench/load.py: commit {info['commit']}, {info['cpu']}, {info['cores']} cores, "
          f"{info['ram_gib']:.1f} GiB; {args.runs} run(s), hard stop after {args.max_minutes:g} min", flush=True)
    timer = hard_stop_after(args.max_minutes * 60)
    runs: list[dict] = []

    async def all_runs() -> None:
        for run_no in range(1, args.runs + 1):
            runs.append(await one_run(run_no, args))

    try:
        await asyncio.wait_for(all_runs(), args.max_minutes * 60)
    except asyncio.TimeoutError:
        print(f"bench/load.py: stopped after {args.max_minutes:g} min with {len(runs)} run(s) complete", flush=True)
    finally:
        timer.cancel()
    if runs:
        print_report(info, runs, args)
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "args": {k: str(v) if isinstance(v, Path) else v
                                                                    for k, v in vars(args).items()},
                                         "runs": runs}, ensure_ascii=False, indent=2))
    if len(runs) < args.runs:
        sys.exit(1)


if __name__ == "__main__":
    asyncio.run(main())
