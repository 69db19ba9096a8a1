"""Two `plenary serve` processes on one PostgreSQL and one Redis, voters on both."""
from __future__ import annotations

import asyncio

import aiohttp
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

from sessions.identity import TokenService
from sessions.models import MeetingEvent
from voting.models import VoteBallot, VoteParticipation
from tests.conftest import SECRET
from tests.helpers import EventClient, ServeProcess

pytestmark = pytest.mark.multiprocess


@pytest.fixture
async def cluster(pg_url, redis_url, tmp_path):
    nodes = [ServeProcess(data_dir=tmp_path / f"node{i}", secret=SECRET, db_url=pg_url, redis_url=redis_url)
             for i in (1, 2)]
    try:
        await asyncio.gather(*(node.start() for node in nodes))
        yield [n.url for n in nodes]
    finally:
        for node in nodes:
            await node.stop()


async def rest(http, url, path, body):
    headers = {"Authorization": f"Bearer {TokenService(SECRET).admin_token()}"}
    async with http.post(url + path, json=body, headers=headers) as resp:
        assert resp.status == 201, await resp.text()
        return await resp.json()


async def test_voters_on_two_processes(cluster, pg_url, clients):
    a, b = cluster
    async with aiohttp.ClientSession() as http:
        mid = (await rest(http, a, "/api/meetings", {"title": "双进程"}))["id"]
        chair = await rest(http, b, f"/api/meetings/{mid}/participants", {"name": "主任", "role": "chair"})
        members = await asyncio.gather(*(
            rest(http, a, f"/api/meetings/{mid}/participants", {"name": f"委员{i}", "role": "member"})
            for i in range(20)
        ))
    chair_client = await EventClient(a, chair["token"]).connect(); clients.append(chair_client)
    voters = []
    for i, m in enumerate(members):  # half on each process
        voters.append(await EventClient(a if i % 2 else b, m["token"]).connect())
    clients.extend(voters)

    opened = await chair_client.call("vote:open", {"subject": "跨进程测评", "secret": True})
    vid = opened["vote_id"]
    for v in voters:
        await v.wait_for("vote:opened", lambda d: d["vote_id"] == vid)
    acks = await asyncio.gather(*(
        v.call("vote:cast", {"vote_id": vid, "choice": "满意" if i < 11 else "不满意"}) for i, v in enumerate(voters)
    ))
    assert all(ack["ok"] for ack in acks)
    for v in (voters[0], voters[1]):  # turnout reaches both processes' clients
        await v.wait_for("vote:turnout", lambda d: d["vote_id"] == vid and d["cast"] == 20)
    closed = await chair_client.call("vote:close", {"vote_id": vid})
    assert closed["ok"] and closed["result"]["cast"] == 20
    for v in voters:
        result = await v.wait_for("vote:result", lambda d: d["vote_id"] == vid)
        assert result["counts"] == {"满意": 11, "基本满意": 0, "不满意": 9} and result["verdict"] == "满意"

    # Auto-close with both processes' checkers running: one close, one announcement.
    timed = (await chair_client.call("vote:open", {"subject": "限时", "secret": True, "duration_s": 1}))["vote_id"]
    assert (await voters[0].call("vote:cast", {"vote_id": timed, "choice": "满意"}))["ok"]
    assert (await voters[1].call("vote:cast", {"vote_id": timed, "choice": "基本满意"}))["ok"]
    for v in voters[:4]:
        result = await v.wait_for("vote:result", lambda d: d["vote_id"] == timed, timeout=10)
        assert result["cast"] == 2
    sync = await voters[5].call("state:sync")
    assert [r["vote_id"] for r in sync["vote"]["results"]][:2] == [timed, vid]
    # ...and only one vote:result per client (seq-checked), from whichever process won.
    await voters[2].call("state:sync")  # a round trip: anything in flight has arrived
    assert len([r for r in voters[2].received["vote:result"] if r["vote_id"] == timed]) == 1

    engine = create_async_engine(pg_url)
    try:
        async with engine.connect() as conn:
            # Both processes' checkers raced to close `timed`: one announcement in the log.
            announced = await conn.scalar(
                select(func.count()).select_from(MeetingEvent).where(
                    MeetingEvent.meeting_id == mid, MeetingEvent.type == "vote:result",
                    MeetingEvent.payload["vote_id"].as_string() == timed,
                )
            )
            assert announced == 1
            for vote_id, n in ((vid, 20), (timed, 2)):
                parts = await conn.scalar(select(func.count()).select_from(VoteParticipation)
                                          .where(VoteParticipation.vote_id == vote_id))
                ballots = await conn.scalar(select(func.count()).select_from(VoteBallot)
                                            .where(VoteBallot.vote_id == vote_id))
                assert (parts, ballots) == (n, n)
    finally:
        await engine.dispose()
