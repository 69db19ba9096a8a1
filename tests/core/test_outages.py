"""The hub rides out a PostgreSQL outage and a Redis restart.

Each test starts a PostgreSQL and a Redis of its own (tests/helpers.py:
PrivatePostgres, PrivateRedis) and stops and starts them; the machine's
shared servers are never touched. Two `plenary serve` processes run on them.

While PostgreSQL is away every call that needs it answers `unavailable`
(REST 503, Socket.IO ack `{ok: false, error: {code: "unavailable"}}`) within
seconds, the clients stay connected, nothing is half-written, and service
comes back by itself; presence survives (no live connection is reaped, and
a node reaped meanwhile registers itself and its connections again). After
a Redis restart, broadcasts cross between the processes again.
"""
from __future__ import annotations

import asyncio
import time

import aiohttp
import asyncpg
import pytest

from sessions.identity import TokenService
from tests.conftest import SECRET
from tests.helpers import EventClient, PrivatePostgres, PrivateRedis, ServeProcess, connect_error, wait_until

pytestmark = pytest.mark.multiprocess

NODE_TIMEOUT_S = 4  # shorter than the outage: every heartbeat is stale when PostgreSQL returns
OUTAGE_S = 10
REDIS_OUTAGE_S = 5
# Probes during an outage are paced, not spun: the outage's length is the scenario.
PACE_S = 0.5
ADMIN = {"Authorization": f"Bearer {TokenService(SECRET).admin_token()}"}


@pytest.fixture
async def private_pg():
    try:
        pg = PrivatePostgres()
    except FileNotFoundError as exc:
        pytest.skip(f"PostgreSQL server binaries are missing: {exc}")
    try:
        await pg.init()
        yield pg
    finally:
        await pg.destroy()


@pytest.fixture
async def private_redis():
    try:
        redis = PrivateRedis()
    except FileNotFoundError as exc:
        pytest.skip(f"redis-server is missing: {exc}")
    try:
        yield await redis.start()
    finally:
        await redis.stop()


async def two_nodes(tmp_path, db_url: str, redis_url: str) -> list[ServeProcess]:
    nodes = [ServeProcess(data_dir=tmp_path / f"node{i}", secret=SECRET, db_url=db_url, redis_url=redis_url,
                          env={"PLENARY_NODE_TIMEOUT_S": str(NODE_TIMEOUT_S)}) for i in (0, 1)]
    await asyncio.gather(*(node.start() for node in nodes))
    return nodes


async def rest(http: aiohttp.ClientSession, method: str, url: str, **kwargs) -> tuple[int, dict, float]:
    started = time.monotonic()
    async with http.request(method, url, headers=ADMIN, **kwargs) as resp:
        return resp.status, await resp.json(), time.monotonic() - started


async def meeting_with(http: aiohttp.ClientSession, node: ServeProcess, roles: dict[str, str]) -> tuple[str, dict]:
    status, body, _ = await rest(http, "POST", f"{node.url}/api/meetings", json={"title": "停电演练"})
    assert status == 201, body
    mid = body["id"]
    people = {}
    for name, role in roles.items():
        status, people[name], _ = await rest(http, "POST", f"{node.url}/api/meetings/{mid}/participants",
                                             json={"name": name, "role": role})
        assert status == 201
    return mid, people


def online(roster: list[dict]) -> dict[str, bool]:
    return {p["id"]: p["online"] for p in roster}


def assert_unavailable(body: dict) -> None:
    error = body["error"]
    assert error["code"] == "unavailable", body
    assert "database" in error["message"], body


async def test_database_outage_answers_unavailable_then_recovers(tmp_path, private_pg, private_redis):
    db_url = await private_pg.create_database("plenary")
    dsn = db_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    nodes = await two_nodes(tmp_path, db_url, private_redis.url)
    opened: list[EventClient] = []
    try:
        async with aiohttp.ClientSession() as http:
            mid, people = await meeting_with(http, nodes[0], {"主任": "chair", "代表": "member", "迟到": "member"})
            chair = await EventClient(nodes[0].url, people["主任"]["token"]).connect()
            member = await EventClient(nodes[1].url, people["代表"]["token"]).connect()
            opened += [chair, member]
            both = {people["主任"]["id"], people["代表"]["id"]}
            await chair.wait_for("roster", lambda r: {k for k, v in online(r["participants"]).items() if v} == both)
            rosters_before = len(chair.received["roster"]) + len(member.received["roster"])

            await private_pg.stop()
            stopped_at = time.monotonic()
            slowest = 0.0
            probes = 0
            while True:
                node = nodes[probes % 2]
                # REST: a write and a read answer 503 `unavailable`, with Retry-After.
                status, body, took = await rest(http, "POST", f"{node.url}/api/meetings",
                                                json={"title": f"停机中{probes}"})
                assert status == 503, body
                assert_unavailable(body)
                slowest = max(slowest, took)
                async with http.get(f"{node.url}/api/meetings/{mid}", headers=ADMIN) as resp:
                    assert resp.status == 503 and resp.headers["Retry-After"].isdigit()
                    assert_unavailable(await resp.json())
                # Socket.IO: a read and a write are refused `unavailable`; the connections stay.
                for client, event, data in ((member, "state:sync", {}),
                                            (chair, "doc:presenter", {"participant_id": people["代表"]["id"]})):
                    started = time.monotonic()
                    ack = await client.call(event, data)
                    slowest = max(slowest, time.monotonic() - started)
                    assert ack["ok"] is False, ack
                    assert_unavailable(ack)
                if probes == 0:
                    # A new connection is refused with the reason; the process itself is up.
                    reason = await connect_error(nodes[1].url, {"token": people["迟到"]["token"]})
                    assert "database is unavailable" in reason
                    async with http.get(f"{node.url}/healthz") as resp:
                        assert resp.status == 200
                probes += 1
                if time.monotonic() - stopped_at >= OUTAGE_S:
                    break
                await asyncio.sleep(PACE_S)
            assert chair.sio.connected and member.sio.connected
            print(f"\noutage: {probes} rounds of probes, slowest answer {slowest * 1000:.0f} ms")
            assert slowest < 10

            await private_pg.start()
            back_at = time.monotonic()
            # Service comes back by itself: the first calls after the return succeed.
            async def served() -> bool:
                status, _, _ = await rest(http, "POST", f"{nodes[1].url}/api/meetings", json={"title": "恢复后"})
                ack = await member.call("state:sync")
                return status == 201 and ack["ok"]

            await wait_until(served, timeout=30, interval=0.1)
            print(f"service back {time.monotonic() - back_at:.2f} s after PostgreSQL returned")
            ack = await chair.call("doc:presenter", {"participant_id": people["代表"]["id"]})
            assert ack["ok"], ack
            await member.wait_for("doc:presenter", lambda d: d["participant_id"] == people["代表"]["id"])

            # Presence: nobody was reaped for the outage; both stay online.
            async def both_online() -> bool:
                sync = await member.call("state:sync")
                return sync["ok"] and {k for k, v in online(sync["roster"]).items() if v} == both

            await wait_until(both_online, timeout=NODE_TIMEOUT_S * 3)
            print(f"roster whole again {time.monotonic() - back_at:.2f} s after PostgreSQL returned")
            later = chair.received["roster"] + member.received["roster"]
            assert len(later) == rosters_before or all(
                both <= {k for k, v in online(r["participants"]).items() if v} for r in later), later

            conn = await asyncpg.connect(dsn)
            try:
                # Nothing written during the outage remains.
                assert await conn.fetchval("SELECT count(*) FROM meetings WHERE title LIKE '停机中%'") == 0
                rows = {r["sid"]: r["node_id"] for r in await conn.fetch("SELECT sid, node_id FROM connections")}
                assert set(rows) == {chair.sio.get_sid("/meeting"), member.sio.get_sid("/meeting")}
                member_node = rows[member.sio.get_sid("/meeting")]
                assert set(rows.values()) <= {r["id"] for r in await conn.fetch("SELECT id FROM nodes")}

                # A node reaped by the others while it could not reach the
                # database (its row and its connections deleted, as
                # reap_dead_nodes does) registers itself and them again.
                last = max((r["seq"] for r in chair.received["roster"]), default=0)
                await conn.execute("DELETE FROM connections WHERE node_id = $1", member_node)
                await conn.execute("DELETE FROM nodes WHERE id = $1", member_node)
                reaped_at = time.monotonic()

                async def restored() -> bool:
                    node = await conn.fetchval("SELECT id FROM nodes WHERE id = $1", member_node)
                    sid = await conn.fetchval("SELECT node_id FROM connections WHERE sid = $1",
                                              member.sio.get_sid("/meeting"))
                    return node is not None and sid == member_node

                await wait_until(restored, timeout=NODE_TIMEOUT_S * 3)
                print(f"reaped node re-registered after {time.monotonic() - reaped_at:.2f} s")
            finally:
                await conn.close()
            roster = await chair.wait_for(
                "roster", lambda r: r["seq"] > last and online(r["participants"])[people["代表"]["id"]], timeout=10)
            assert online(roster["participants"])[people["主任"]["id"]]
    finally:
        for c in opened:
            await c.close()
        for node in nodes:
            await node.stop()


async def test_redis_restart_resumes_broadcasts_between_processes(tmp_path, private_pg, private_redis):
    db_url = await private_pg.create_database("plenary")
    nodes = await two_nodes(tmp_path, db_url, private_redis.url)
    opened: list[EventClient] = []
    try:
        async with aiohttp.ClientSession() as http:
            mid, people = await meeting_with(http, nodes[0], {"主任": "chair", "本地": "member", "远端": "member",
                                                              "新来": "member"})
            chair = await EventClient(nodes[0].url, people["主任"]["token"]).connect()
            local = await EventClient(nodes[0].url, people["本地"]["token"]).connect()
            remote = await EventClient(nodes[1].url, people["远端"]["token"]).connect()
            opened += [chair, local, remote]
            targets = [people["本地"]["id"], people["远端"]["id"]]

            async def present(i: int) -> dict:
                """The chair hands the presenter role; a client of the same process sees it."""
                before = max((d["seq"] for d in local.received["doc:presenter"]), default=0)
                started = time.monotonic()
                ack = await chair.call("doc:presenter", {"participant_id": targets[i % 2]})
                assert ack["ok"], ack
                seen = await local.wait_for(
                    "doc:presenter", lambda d: d["seq"] > before and d["participant_id"] == targets[i % 2])
                return {"seq": seen["seq"], "took": time.monotonic() - started}

            first = await present(0)
            await remote.wait_for("doc:presenter", lambda d: d["seq"] == first["seq"])

            await private_redis.stop()
            stopped_at = time.monotonic()
            # Redis away: the database still works, so events succeed, promptly,
            # and reach the clients of the process that sent them.
            i = 1
            while time.monotonic() - stopped_at < REDIS_OUTAGE_S:
                sent = await present(i)
                assert sent["took"] < 5, sent
                i += 1
                await asyncio.sleep(PACE_S)
            assert chair.sio.connected and remote.sio.connected

            await private_redis.start()
            back_at = time.monotonic()
            last = local.received["doc:presenter"][-1]["seq"]

            async def crossed() -> bool:
                nonlocal i
                await present(i)
                i += 1
                return any(d["seq"] > last for d in remote.received["doc:presenter"])

            await wait_until(crossed, timeout=30, interval=0.2)
            print(f"\nbroadcasts cross processes again {time.monotonic() - back_at:.2f} s after Redis returned")

            # And the other way: a join on process 2 reaches the chair on process 1.
            newcomer = await EventClient(nodes[1].url, people["新来"]["token"]).connect()
            opened.append(newcomer)
            await chair.wait_for("roster", lambda r: online(r["participants"])[people["新来"]["id"]])
            # What process 2's clients missed meanwhile, state:sync gives them.
            sync = await remote.call("state:sync")
            assert sync["ok"] and sync["document"]["designated_presenter"] == targets[(i - 1) % 2]
    finally:
        for c in opened:
            await c.close()
        for node in nodes:
            await node.stop()
