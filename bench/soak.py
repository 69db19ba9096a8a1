"""Soak: does one `plenary serve` keep its memory flat over a long run?

    .venv/bin/python bench/soak.py [--minutes 10] [--db pg|URL] [--redis URL]
                                   [--storm-every 60] [--tracemalloc 25]

Starts one `plenary serve` on 127.0.0.1 (SQLite in a temporary data dir by
default; `--db pg` makes a throwaway PostgreSQL database, `--db URL` uses
that one; `--redis URL` joins it to Redis as a multi-process hub would) and
keeps it busy for `--minutes`:

- `--clients` (20) Socket.IO members that sync state, cast votes, raise and
  lower hands and churn: every couple of seconds one leaves and comes back,
  at once (a reload) or after a pause;
- one aiortc publisher sending real VP8 + Opus (it leaves and publishes
  again every `--publisher-cycle` s), and `--subscribers` (4) aiortc
  subscribers that decode what they receive and churn the same way (a new
  Socket.IO connection and a new peer connection each time) — all in a child
  process, so encoding does not stall the driver's loop;
- the chair opening, and closing, a vote every ~20 s and turning pages of a
  shared PDF (members fetch a watermarked page now and then);
- every `--storm-every` s a storm of `--storm-size` (300) connections that
  all join, then all leave, some of them abruptly.

Every `--sample-every` (30) s it reads the server's RSS, open file
descriptors and threads from /proc/<pid>/, and its asyncio task count from
the `plenary_asyncio_tasks` gauge on /metrics, and prints a row. At the end:
the RSS slope (MB per 10 min, least squares over the samples after
`--warmup` minutes) and RSS growth per storm (RSS just before each storm
minus RSS just before the previous one, after the first `--storm-skip`).

Everything talks to 127.0.0.1 only; every process and database it starts is
removed at the end, and the whole run stops by itself after --minutes + 3.
"""
from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import random
import re
import shutil
import signal
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import socketio  # noqa: E402

from bench.vote import create_database, drop_database  # noqa: E402

NS = "/meeting"
SECRET = "soak-secret-" + uuid.uuid4().hex


def quiet_clients() -> None:
    import logging

    # Thousands of connects and leaves: the clients' own chatter is not news.
    for name in ("engineio.client", "socketio.client", "aioice", "aiortc"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


# -- /proc and /metrics --------------------------------------------------------


@dataclass
class Sample:
    t: float
    rss_mb: float
    fds: int
    threads: int
    tasks: float | None
    connected: float | None
    note: str = ""


def proc_figures(pid: int) -> tuple[float, int, int]:
    rss_kb, threads = 0, 0
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                rss_kb = int(line.split()[1])
            elif line.startswith("Threads:"):
                threads = int(line.split()[1])
    return rss_kb / 1024, len(os.listdir(f"/proc/{pid}/fd")), threads


def gauge(text: str, name: str) -> float | None:
    found = re.search(rf"^{name} ([0-9.eE+-]+)$", text, re.M)
    return float(found.group(1)) if found else None


async def sample(http: aiohttp.ClientSession, url: str, pid: int, started: float, note: str = "") -> Sample:
    tasks = connected = None
    try:
        async with http.get(f"{url}/metrics") as resp:
            text = await resp.text()
        tasks, connected = gauge(text, "plenary_asyncio_tasks"), gauge(text, "plenary_connected_clients")
    except aiohttp.ClientError:
        pass
    rss, fds, threads = proc_figures(pid)
    return Sample(time.monotonic() - started, rss, fds, threads, tasks, connected, note)


def slope_mb_per_10min(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (seconds, MB), in MB per 10 minutes."""
    if len(points) < 3:
        return None
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx * 600 if sxx else None


# -- the media child: one publisher, churning subscribers ----------------------


def media_main(conn, url: str, publisher_token: str, subscriber_tokens: list[str], publisher_cycle: float) -> None:
    quiet_clients()
    asyncio.run(_media(conn, url, publisher_token, subscriber_tokens, publisher_cycle))


async def _media(conn, url: str, publisher_token: str, subscriber_tokens: list[str], publisher_cycle: float) -> None:
    from aiortc import RTCPeerConnection, RTCRtpSender, RTCSessionDescription
    from aiortc.mediastreams import MediaStreamError

    from tests.media.media_testkit import MovingVideo, Tone, config

    stats = {"publishes": 0, "publish_failed": 0, "joins": 0, "answers": 0, "answer_failed": 0,
             "video_frames": 0, "audio_frames": 0, "errors": 0}
    stop = asyncio.Event()

    async def publisher() -> None:
        while not stop.is_set():
            sio = socketio.AsyncClient(reconnection=False)
            pc = RTCPeerConnection(config())
            try:
                await sio.connect(url, auth={"token": publisher_token}, namespaces=[NS], transports=["websocket"],
                                  wait_timeout=20)
                video = pc.addTransceiver(MovingVideo(), direction="sendonly")
                caps = RTCRtpSender.getCapabilities("video").codecs
                video.setCodecPreferences([c for c in caps if c.mimeType.lower() in ("video/vp8", "video/rtx")])
                pc.addTransceiver(Tone(), direction="sendonly")
                await pc.setLocalDescription(await pc.createOffer())
                ack = await sio.call("media:publish", {"sdp": pc.localDescription.sdp}, namespace=NS, timeout=30)
                if not ack.get("ok"):
                    stats["publish_failed"] += 1
                else:
                    await pc.setRemoteDescription(RTCSessionDescription(sdp=ack["sdp"], type="answer"))
                    stats["publishes"] += 1
                try:
                    await asyncio.wait_for(stop.wait(), publisher_cycle)
                except asyncio.TimeoutError:
                    pass
            except Exception:
                stats["errors"] += 1
                await asyncio.sleep(1)
            finally:
                await asyncio.gather(sio.disconnect(), pc.close(), return_exceptions=True)

    async def subscriber(token: str) -> None:
        while not stop.is_set():
            sio = socketio.AsyncClient(reconnection=False)
            pc = RTCPeerConnection(config())
            readers: list[asyncio.Task] = []
            offers: asyncio.Queue = asyncio.Queue()

            async def read(track) -> None:
                try:
                    while True:
                        await track.recv()
                        stats["video_frames" if track.kind == "video" else "audio_frames"] += 1
                except (MediaStreamError, asyncio.CancelledError):
                    pass

            pc.on("track", lambda track: readers.append(asyncio.ensure_future(read(track))))
            sio.on("media:offer", lambda data: offers.put_nowait(data), namespace=NS)

            async def answer_offers() -> None:
                while True:
                    offer = await offers.get()
                    await pc.setRemoteDescription(RTCSessionDescription(sdp=offer["sdp"], type="offer"))
                    await pc.setLocalDescription(await pc.createAnswer())
                    ack = await sio.call("media:answer", {"sdp": pc.localDescription.sdp}, namespace=NS, timeout=30)
                    stats["answers" if ack.get("ok") else "answer_failed"] += 1

            answering = None
            try:
                await sio.connect(url, auth={"token": token}, namespaces=[NS], transports=["websocket"],
                                  wait_timeout=20)
                stats["joins"] += 1
                answering = asyncio.ensure_future(answer_offers())
                await sio.call("state:sync", {}, namespace=NS, timeout=30)
                await sio.call("media:subscribe", {"tracks": "all"}, namespace=NS, timeout=30)
                try:
                    await asyncio.wait_for(stop.wait(), random.uniform(8, 30))
                except asyncio.TimeoutError:
                    pass
            except Exception:
                stats["errors"] += 1
                await asyncio.sleep(1)
            finally:
                # A reload: the socket and the peer connection go at once.
                for task in readers + ([answering] if answering else []):
                    task.cancel()
                await asyncio.gather(sio.disconnect(), pc.close(), *readers, return_exceptions=True)
                if answering:
                    await asyncio.gather(answering, return_exceptions=True)
            if random.random() < 0.5:
                await asyncio.sleep(random.uniform(0.5, 4))  # else: rejoin at once

    loop = asyncio.get_running_loop()
    jobs = [asyncio.ensure_future(publisher())] + [asyncio.ensure_future(subscriber(t)) for t in subscriber_tokens]
    conn.send(("started",))
    while True:
        message = await loop.run_in_executor(None, conn.recv)
        if message[0] == "stats":
            conn.send(("stats", dict(stats)))
        elif message[0] == "stop":
            break
    stop.set()
    done, pending = await asyncio.wait(jobs, timeout=30)
    for job in pending:
        job.cancel()
    conn.send(("stats", dict(stats)))


# -- the driver: members, chair, storms ------------------------------------------


@dataclass
class World:
    url: str
    meeting_id: str
    chair_token: str
    member_tokens: list[str]
    storm_tokens: list[str]
    document_id: str | None
    outcomes: dict[str, int] = field(default_factory=dict)

    def count(self, what: str, ack: dict | None = None) -> None:
        key = what if ack is None else f"{what}:{'ok' if ack.get('ok') else ack.get('error', {}).get('code')}"
        self.outcomes[key] = self.outcomes.get(key, 0) + 1


async def admin_post(http, url: str, body: dict | None = None, *, token: str, data=None) -> dict:
    async with http.post(url, json=body, data=data, headers={"Authorization": f"Bearer {token}"}) as resp:
        if resp.status != 201:
            raise RuntimeError(f"{url}: {resp.status} {await resp.text()}")
        return await resp.json()


async def make_world(url: str, args) -> tuple[World, str, list[str]]:
    from sessions.identity import TokenService
    from tests.documents.pdfs import make_pdf

    admin = TokenService(SECRET).admin_token()
    async with aiohttp.ClientSession() as http:
        mid = (await admin_post(http, f"{url}/api/meetings", {"title": "长时间运行测试"}, token=admin))["id"]

        async def person(name: str, role: str) -> str:
            made = await admin_post(http, f"{url}/api/meetings/{mid}/participants", {"name": name, "role": role},
                                    token=admin)
            return made["token"]

        chair = await person("主任", "chair")
        publisher = await person("发言人", "deputy")
        members = [await person(f"委员{i:02d}", "member") for i in range(args.clients)]
        subscribers = [await person(f"联络站{i}", "observer") for i in range(args.subscribers)]
        storm = [await person(f"旁听{i:02d}", "observer") for i in range(args.storm_people)]
        document_id = None
        try:
            form = aiohttp.FormData()
            form.add_field("file", make_pdf(6), filename="soak.pdf", content_type="application/pdf")
            document_id = (await admin_post(http, f"{url}/api/meetings/{mid}/documents", token=chair,
                                            data=form))["id"]
        except RuntimeError as exc:
            print(f"(no document: {exc})", flush=True)
    return World(url, mid, chair, members, storm, document_id), publisher, subscribers


async def connect(url: str, token: str) -> socketio.AsyncClient:
    sio = socketio.AsyncClient(reconnection=False)
    await sio.connect(url, auth={"token": token}, namespaces=[NS], transports=["websocket"], wait_timeout=30)
    return sio


async def member_seat(world: World, token: str, seats: dict[str, socketio.AsyncClient], stop: asyncio.Event) -> None:
    """One member: joins, syncs, and leaves now and then (at once back, or after a pause)."""
    while not stop.is_set():
        try:
            sio = await connect(world.url, token)
        except Exception:
            world.count("member_connect_failed")
            await asyncio.sleep(1)
            continue
        seats[token] = sio
        try:
            world.count("state:sync", await sio.call("state:sync", {}, namespace=NS, timeout=30))
            try:
                await asyncio.wait_for(stop.wait(), random.uniform(5, 40))
            except asyncio.TimeoutError:
                pass
        except Exception:
            world.count("member_error")
        finally:
            seats.pop(token, None)
            await sio.disconnect()
        world.count("member_leave")
        if random.random() < 0.5:
            await asyncio.sleep(random.uniform(0.2, 3))


async def chair_work(world: World, seats: dict[str, socketio.AsyncClient], stop: asyncio.Event) -> None:
    """Votes opened, cast by whoever is seated, closed; hands; page turns; page fetches."""
    chair = await connect(world.url, world.chair_token)
    page = 1
    try:
        async with aiohttp.ClientSession() as http:
            while not stop.is_set():
                opened = await chair.call("vote:open", {"subject": f"测评{uuid.uuid4().hex[:6]}", "secret": True},
                                          namespace=NS, timeout=30)
                world.count("vote:open", opened)
                seated = list(seats.values())
                for sio in seated:
                    ballot = {"vote_id": opened.get("vote_id"), "choice": random.choice(["满意", "基本满意", "不满意"]),
                              "ballot_id": uuid.uuid4().hex}
                    try:
                        world.count("vote:cast", await sio.call("vote:cast", ballot, namespace=NS, timeout=30))
                    except Exception:
                        world.count("vote:cast:lost")  # the member left meanwhile
                for sio in random.sample(seated, min(5, len(seated))):
                    for up in (True, False) if random.random() < 0.5 else (True,):
                        try:
                            world.count("inquiry:hand", await sio.call("inquiry:hand", {"raise": up}, namespace=NS,
                                                                       timeout=30))
                        except Exception:
                            world.count("inquiry:hand:lost")
                if world.document_id:
                    for _ in range(3):
                        page = page % 6 + 1
                        world.count("doc:present", await chair.call(
                            "doc:present", {"document_id": world.document_id, "page": page}, namespace=NS, timeout=30))
                    token = random.choice(world.member_tokens)
                    async with http.get(f"{world.url}/api/documents/{world.document_id}/pages/{page}",
                                        headers={"Authorization": f"Bearer {token}"}) as resp:
                        await resp.read()
                        world.count(f"page_get:{resp.status}")
                try:
                    await asyncio.wait_for(stop.wait(), random.uniform(4, 8))
                except asyncio.TimeoutError:
                    pass
                world.count("vote:close", await chair.call("vote:close", {"vote_id": opened.get("vote_id")},
                                                           namespace=NS, timeout=30))
                try:
                    await asyncio.wait_for(stop.wait(), random.uniform(8, 14))
                except asyncio.TimeoutError:
                    pass
    finally:
        await chair.disconnect()


async def storm(world: World, size: int) -> tuple[int, int]:
    """`size` connections join at once, then all leave; one in ten drops its
    socket without a goodbye, one in ten leaves while still joining."""
    gate = asyncio.Semaphore(60)
    joined: list[socketio.AsyncClient] = []
    failed = 0

    async def one(i: int) -> None:
        nonlocal failed
        token = world.storm_tokens[i % len(world.storm_tokens)]
        async with gate:
            sio = socketio.AsyncClient(reconnection=False)
            attempt = asyncio.ensure_future(sio.connect(world.url, auth={"token": token}, namespaces=[NS],
                                                        transports=["websocket"], wait_timeout=60))
            if i % 10 == 9:
                await asyncio.sleep(random.uniform(0, 0.05))
                attempt.cancel()
                await asyncio.gather(attempt, return_exceptions=True)
                await sio.disconnect()
                return
            try:
                await attempt
                joined.append(sio)
            except Exception:
                failed += 1

    await asyncio.gather(*(one(i) for i in range(size)))
    count = len(joined)

    async def leave(i: int, sio: socketio.AsyncClient) -> None:
        if i % 10 == 0:
            # Abrupt: the TCP connection goes, no Socket.IO disconnect packet.
            ws = getattr(sio.eio, "ws", None)
            if ws is not None:
                await ws.close()
            await asyncio.sleep(0.5)
        await sio.disconnect()

    await asyncio.gather(*(leave(i, sio) for i, sio in enumerate(joined)), return_exceptions=True)
    return count, failed


# -- the run ---------------------------------------------------------------------


def print_table(samples: list[Sample]) -> None:
    first = samples[0]
    print(f"\n{'t (s)':>7}{'RSS MB':>9}{'ΔRSS':>8}{'fds':>6}{'threads':>8}{'tasks':>7}{'clients':>8}  note")
    for s in samples:
        tasks = f"{s.tasks:.0f}" if s.tasks is not None else "-"
        clients = f"{s.connected:.0f}" if s.connected is not None else "-"
        print(f"{s.t:7.0f}{s.rss_mb:9.1f}{s.rss_mb - first.rss_mb:+8.1f}{s.fds:6d}{s.threads:8d}{tasks:>7}"
              f"{clients:>8}  {s.note}")


async def run(args) -> int:
    from tests.helpers import ServeProcess

    os.chdir(ROOT)  # ServeProcess runs `python -m web.cli` from here
    workdir = Path(tempfile.mkdtemp(prefix="plenary-soak-"))
    pg_name = None
    db_url = None
    if args.db == "pg":
        pg_name, db_url = await create_database()
    elif args.db:
        db_url = args.db
    env = {"PLENARY_TRACEMALLOC": str(args.tracemalloc)} if args.tracemalloc else {}
    if args.tracemalloc:
        env["PLENARY_TRACEMALLOC_EVERY_S"] = str(args.tracemalloc_every)
        print("(tracemalloc on: the server runs several times slower; figures are not comparable)")
    server = ServeProcess(data_dir=workdir / "data", secret=SECRET, db_url=db_url, redis_url=args.redis, env=env)
    await server.start()
    pid = server.proc.pid
    print(f"soak: plenary serve pid {pid} on {server.url}, db {'PostgreSQL' if db_url else 'SQLite'}"
          f"{', redis' if args.redis else ''}; {args.minutes} min, {args.clients} members, 1 publisher, "
          f"{args.subscribers} subscribers, storms of {args.storm_size} every {args.storm_every:.0f} s; "
          f"{os.cpu_count()} CPUs", flush=True)
    media_proc = media_pipe = None
    stop = asyncio.Event()
    jobs: list[asyncio.Task] = []
    samples: list[Sample] = []
    storms: list[tuple[float, int, int]] = []  # (RSS just before, joined, failed)
    try:
        world, publisher_token, subscriber_tokens = await make_world(server.url, args)
        ctx = mp.get_context("spawn")
        media_pipe, child = ctx.Pipe()
        media_proc = ctx.Process(target=media_main, args=(child, server.url, publisher_token, subscriber_tokens,
                                                          args.publisher_cycle), daemon=True)
        media_proc.start()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, media_pipe.recv)
        seats: dict[str, socketio.AsyncClient] = {}
        jobs = [asyncio.ensure_future(member_seat(world, t, seats, stop)) for t in world.member_tokens]
        jobs.append(asyncio.ensure_future(chair_work(world, seats, stop)))
        started = time.monotonic()
        end = started + args.minutes * 60
        next_sample, next_storm = started, started + args.storm_every
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < end:
                now = time.monotonic()
                if now >= next_sample:
                    s = await sample(http, server.url, pid, started)
                    samples.append(s)
                    print(f"  t={s.t:5.0f}s RSS {s.rss_mb:7.1f} MB fds {s.fds:4d} threads {s.threads:3d} "
                          f"tasks {s.tasks if s.tasks is not None else '-'} clients {s.connected}", flush=True)
                    next_sample += args.sample_every
                    if next_sample <= time.monotonic():  # a storm held us up: no catch-up burst
                        next_sample = time.monotonic() + args.sample_every
                elif now >= next_storm:
                    before = await sample(http, server.url, pid, started, "before storm")
                    if args.tracemalloc:
                        os.kill(pid, signal.SIGUSR1)  # a snapshot at the same point of every cycle
                        os.kill(pid, signal.SIGUSR2)  # and the live objects by type, in the server's log
                    joined, failed = await storm(world, args.storm_size)
                    storms.append((before.rss_mb, joined, failed))
                    print(f"  storm {len(storms)}: {joined} joined, {failed} failed, RSS before {before.rss_mb:.1f} MB",
                          flush=True)
                    next_storm = max(next_storm + args.storm_every, time.monotonic() + 5)
                else:
                    await asyncio.sleep(min(next_sample, next_storm, end) - now)
            stop.set()
            media_pipe.send(("stop",))
            await asyncio.wait_for(asyncio.gather(*jobs, return_exceptions=True), 60)
            media_stats = (await asyncio.wait_for(loop.run_in_executor(None, media_pipe.recv), 60))[1]
            # Everyone has left: what is still held now is what the hub keeps.
            await asyncio.sleep(args.sample_every / 2)
            samples.append(await sample(http, server.url, pid, started, "all left"))
            if args.tracemalloc:
                os.kill(pid, signal.SIGUSR1)
                os.kill(pid, signal.SIGUSR2)
                await asyncio.sleep(5)
    finally:
        stop.set()
        for job in jobs:
            job.cancel()
        if media_proc is not None:
            media_proc.join(10)
            if media_proc.is_alive():
                media_proc.kill()
        await server.stop()
        if pg_name:
            await drop_database(pg_name)
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    print_table(samples)
    print(f"\noutcomes: {dict(sorted(world.outcomes.items()))}")
    print(f"media: {media_stats}")
    warm = [s for s in samples if s.t >= args.warmup * 60 and s.note != "all left"]
    slope = slope_mb_per_10min([(s.t, s.rss_mb) for s in warm])
    print(f"RSS slope after {args.warmup:g} min warm-up: "
          f"{'n/a' if slope is None else f'{slope:+.2f} MB / 10 min'} over {len(warm)} samples")
    fd_slope = slope_mb_per_10min([(s.t, s.fds) for s in warm])
    task_points = [(s.t, s.tasks) for s in warm if s.tasks is not None]
    task_slope = slope_mb_per_10min(task_points)
    print(f"fds slope {'n/a' if fd_slope is None else f'{fd_slope:+.1f}'} / 10 min; tasks slope "
          f"{'n/a' if task_slope is None else f'{task_slope:+.1f}'} / 10 min; threads "
          f"{min(s.threads for s in samples)}–{max(s.threads for s in samples)}")
    steps = [b[0] - a[0] for a, b in zip(storms, storms[1:])][args.storm_skip:]
    if steps:
        print(f"RSS step per storm cycle (after the first {args.storm_skip + 1}): median {statistics.median(steps):+.2f} MB,"
              f" each {' '.join(f'{d:+.1f}' for d in steps)}")
    print(f"storms: {len(storms)}, joined {[j for _, j, _ in storms]}, failed {sum(f for *_, f in storms)}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--db", default=None, help="pg (a throwaway PostgreSQL database) or a database URL")
    parser.add_argument("--redis", default=None, help="redis://127.0.0.1:6379/0 to run with the Redis manager")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--subscribers", type=int, default=4)
    parser.add_argument("--publisher-cycle", type=float, default=120, help="s between the publisher's rejoins")
    parser.add_argument("--storm-every", type=float, default=60)
    parser.add_argument("--storm-size", type=int, default=300)
    parser.add_argument("--storm-people", type=int, default=30, help="participants the storm connections share")
    parser.add_argument("--storm-skip", type=int, default=2, help="storm cycles left out of the per-storm figure")
    parser.add_argument("--sample-every", type=float, default=30)
    parser.add_argument("--warmup", type=float, default=2, help="minutes left out of the slope")
    parser.add_argument("--tracemalloc", type=int, default=0, help="frames: the server writes tracemalloc snapshots")
    parser.add_argument("--tracemalloc-every", type=float, default=0,
                        help="s between timed snapshots (0: only before each storm and at the end)")
    parser.add_argument("--keep", action="store_true", help="keep the data dir (logs, snapshots)")
    args = parser.parse_args()
    quiet_clients()

    def overdue(*_):
        raise SystemExit("soak: hard time limit reached")

    signal.signal(signal.SIGALRM, overdue)
    signal.alarm(int(args.minutes * 60 + 180))
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
