"""`plenary serve --workers 2`: two hub processes on one port are one hub, and
the parent keeps them running.

Which worker holds a connection is read from the presence tables (the
connection row's node id); which process a node id is comes from the
`X-Plenary-Node` / `X-Plenary-Pid` headers of `GET /healthz`.
"""
from __future__ import annotations

import asyncio
import os
import signal
import sys
import time

import aiohttp
import asyncpg
import pytest

from sessions.identity import TokenService
from tests.conftest import SECRET
from tests.helpers import EventClient, ReconnectingClient, SupervisedServe, wait_until

pytestmark = pytest.mark.multiprocess

NODE_TIMEOUT_S = 4  # short, so the test can watch a dead worker's clients go offline


def plain_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def where_connected(dsn: str) -> dict[str, str]:
    """sid → node id of every presence row."""
    conn = await asyncpg.connect(dsn)
    try:
        return {r["sid"]: r["node_id"] for r in await conn.fetch("SELECT sid, node_id FROM connections")}
    finally:
        await conn.close()


async def node_ids(dsn: str) -> set[str]:
    conn = await asyncpg.connect(dsn)
    try:
        return {r["id"] for r in await conn.fetch("SELECT id FROM nodes")}
    finally:
        await conn.close()


def online(roster: dict) -> dict[str, bool]:
    return {p["id"]: p["online"] for p in roster["participants"]}


async def test_more_workers_than_one_need_postgresql_and_redis(tmp_path):
    for extra in ([], ["--db", "postgresql+asyncpg://postgres@127.0.0.1/x"]):
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "web.cli", "serve", "--workers", "2", "--data-dir", str(tmp_path / "d"), *extra,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env={k: v for k, v in os.environ.items() if k not in ("PLENARY_DB", "PLENARY_REDIS")},
        )
        _, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 2
        assert b"--redis" in err and (b"SQLite" in err) == (not extra), err


async def test_two_workers_are_one_hub_and_survive_a_killed_worker(tmp_path, pg_url, redis_url):
    serve = SupervisedServe(workers=2, data_dir=tmp_path / "data", secret=SECRET, db_url=pg_url,
                            redis_url=redis_url, env={"PLENARY_NODE_TIMEOUT_S": str(NODE_TIMEOUT_S)})
    dsn = plain_dsn(pg_url)
    opened: list[EventClient] = []
    try:
        await serve.start()
        pids = await serve.nodes()
        assert len(pids) == 2 and len(set(pids.values())) == 2, pids
        async with aiohttp.ClientSession() as http:
            # No sticky sessions needed: Engine.IO's long-polling (a session of
            # several requests, which could land on different workers) is
            # refused; a session is one websocket, on one worker.
            async with http.get(f"{serve.url}/socket.io/?EIO=4&transport=polling") as resp:
                assert resp.status == 400
        admin = {"Authorization": f"Bearer {TokenService(SECRET).admin_token()}"}
        async with aiohttp.ClientSession(headers=admin) as http:
            async with http.post(f"{serve.url}/api/meetings", json={"title": "多进程会议"}) as resp:
                assert resp.status == 201
                mid = (await resp.json())["id"]

            async def participant(name: str, role: str) -> dict:
                async with http.post(f"{serve.url}/api/meetings/{mid}/participants",
                                     json={"name": name, "role": role}) as resp:
                    assert resp.status == 201
                    return await resp.json()

            chair_p = await participant("主任", "chair")
            chair = await ReconnectingClient(serve.url, chair_p["token"]).connect()
            opened.append(chair)
            members: list[tuple[dict, ReconnectingClient]] = []
            # The kernel spreads connections over the workers: connect until each holds some.
            for i in range(40):
                person = await participant(f"代表{i}", "member")
                client = await ReconnectingClient(serve.url, person["token"]).connect()
                opened.append(client)
                members.append((person, client))
                placed = await where_connected(dsn)
                per_node = {n: sum(1 for v in placed.values() if v == n) for n in pids}
                if len(members) >= 6 and min(per_node.values()) >= 3:
                    break
            placed = await where_connected(dsn)
            assert set(placed.values()) == set(pids), f"clients not on both workers: {placed}"
        chair_node = placed[chair.sid]
        victim = next(n for n in pids if n != chair_node)
        on_victim = [(p, c) for p, c in members if placed[c.sid] == victim]
        on_chair_node = [(p, c) for p, c in members if placed[c.sid] == chair_node]
        assert on_victim and on_chair_node

        # A broadcast caused by a client of one worker reaches clients of both.
        ack = await chair.call("doc:presenter", {"participant_id": on_victim[0][0]["id"]})
        assert ack["ok"], ack
        for _, client in (on_victim[0], on_chair_node[0]):
            await client.wait_for("doc:presenter", lambda d: d["participant_id"] == on_victim[0][0]["id"])
        everyone = {chair_p["id"], *(p["id"] for p, _ in members)}
        await chair.wait_for("roster", lambda r: {k for k, v in online(r).items() if v} == everyone, timeout=20)

        # One client of the victim will not come back: its presence must expire.
        gone_person, gone_client = on_victim[-1]
        gone_client.sio.reconnection = False
        coming_back = [(p, c) for p, c in on_victim if c is not gone_client]
        last_roster = chair.received["roster"][-1]["seq"]

        killed_at = time.monotonic()
        os.kill(pids[victim], signal.SIGKILL)

        # Its clients reconnect by themselves, to a live worker, within 5 s, and resync.
        reconnect_s = []
        for person, client in coming_back:
            at = await client.wait_connects(2, timeout=10)
            reconnect_s.append(at - killed_at)
            sync = await client.call("state:sync")
            assert sync["ok"], sync
            assert sync["me"]["id"] == person["id"]
            assert sync["document"] is not None and sync["document"]["designated_presenter"] == on_victim[0][0]["id"]
        print(f"\nreconnected after kill -9: {min(reconnect_s, default=0):.2f}-{max(reconnect_s, default=0):.2f} s "
              f"({len(reconnect_s)} clients)")
        assert max(reconnect_s, default=0) < 5, reconnect_s

        # The dead worker's connections go offline: the survivors reap its node by heartbeat.
        offline = await chair.wait_for(
            "roster", lambda r: r["seq"] > last_roster and online(r)[gone_person["id"]] is False,
            timeout=NODE_TIMEOUT_S * 3 + 10,
        )
        print(f"dead worker's presence gone after {time.monotonic() - killed_at:.1f} s "
              f"(node timeout {NODE_TIMEOUT_S} s)")
        assert all(online(offline)[p["id"]] for p, _ in coming_back)
        await wait_until(lambda: _node_gone(dsn, victim), timeout=10)
        placed = await where_connected(dsn)
        assert victim not in placed.values()
        assert all(placed.get(c.sid) in pids for _, c in coming_back)

        # The parent starts the dead worker again: two workers, a new node.
        await wait_until(lambda: _replaced(serve, victim), timeout=60, interval=0.2)
        print(f"worker restarted and answering after {time.monotonic() - killed_at:.1f} s")
        assert serve.proc.returncode is None
        now = await serve.nodes()
        new_node = next(n for n in now if n not in pids)
        # A client of the new worker is part of the same hub.
        for i in range(40):
            person = await participant_via(serve, mid, f"新代表{i}")
            client = await EventClient(serve.url, person["token"]).connect()
            opened.append(client)
            if (await where_connected(dsn)).get(client.sio.get_sid("/meeting")) == new_node:
                break
        else:
            pytest.fail("no client reached the restarted worker")
        ack = await chair.call("doc:presenter", {"participant_id": person["id"]})
        assert ack["ok"], ack
        await client.wait_for("doc:presenter", lambda d: d["participant_id"] == person["id"])

        # Asked to stop, the parent stops its workers and exits 0.
        for c in opened:
            await c.close()
        opened.clear()
        serve.proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(serve.proc.wait(), 60) == 0
        for pid in now.values():
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)
    finally:
        for c in opened:
            await c.close()
        await serve.stop()


async def participant_via(serve: SupervisedServe, mid: str, name: str) -> dict:
    admin = {"Authorization": f"Bearer {TokenService(SECRET).admin_token()}"}
    async with aiohttp.ClientSession(headers=admin) as http:
        async with http.post(f"{serve.url}/api/meetings/{mid}/participants",
                             json={"name": name, "role": "member"}) as resp:
            assert resp.status == 201
            return await resp.json()


async def _node_gone(dsn: str, node: str) -> bool:
    return node not in await node_ids(dsn)


async def _replaced(serve: SupervisedServe, dead: str) -> bool:
    nodes = await serve.nodes()
    return len(nodes) == 2 and dead not in nodes


def test_the_default_is_one_worker_per_core_on_postgresql_and_redis():
    import os

    from signaling.config import Settings
    from web.cli import default_workers

    pg, redis = "postgresql+asyncpg://u@127.0.0.1/p", "redis://127.0.0.1:6379/0"
    assert default_workers(Settings(db_url=pg, redis_url=redis)) == max(1, os.cpu_count() or 1)
    assert default_workers(Settings(db_url=pg)) == 1
    assert default_workers(Settings(redis_url=redis)) == 1
    assert default_workers(Settings(db_url="sqlite+aiosqlite:///x.db", redis_url=redis)) == 1
