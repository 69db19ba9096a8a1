"""Two `plenary serve` processes on one PostgreSQL and one Redis: a command on
one is seen on the other; racing commands and racing clocks stay exactly-once."""
import asyncio

import aiohttp
import pytest

from sessions.identity import TokenService
from tests.conftest import SECRET
from tests.helpers import EventClient, ServeProcess

pytestmark = pytest.mark.multiprocess


async def _meeting(node: ServeProcess, title: str, roles: dict[str, str]) -> dict[str, dict]:
    """A meeting on `node` with one participant per key of `roles` (REST)."""
    admin = {"Authorization": f"Bearer {TokenService(SECRET).admin_token()}"}
    async with aiohttp.ClientSession(headers=admin) as http:
        async with http.post(f"{node.url}/api/meetings", json={"title": title}) as resp:
            mid = (await resp.json())["id"]
        people = {}
        for key, role in roles.items():
            async with http.post(f"{node.url}/api/meetings/{mid}/participants", json={"name": key, "role": role}) as resp:
                people[key] = await resp.json()
    return people


async def test_inquiry_across_two_processes(tmp_path, pg_url, redis_url):
    nodes = [ServeProcess(data_dir=tmp_path / f"node{i}", secret=SECRET, db_url=pg_url, redis_url=redis_url)
             for i in (1, 2)]
    opened: list[EventClient] = []
    try:
        await asyncio.gather(*(node.start() for node in nodes))
        people = await _meeting(nodes[0], "跨节点专题询问", {
            "chair": "chair", "clerk": "clerk", "m1": "member", "m2": "member", "dept": "respondent"})

        async def connect(key, node):
            client = await EventClient(node.url, people[key]["token"]).connect()
            opened.append(client)
            return client

        chair = await connect("chair", nodes[0])
        clerk = await connect("clerk", nodes[1])
        m1 = await connect("m1", nodes[1])
        m2 = await connect("m2", nodes[0])

        # A command on process 1 is seen on process 2.
        ack = await chair.call("inquiry:command", {"action": "open_topic", "title": "跨节点",
                                                   "respondents": [people["dept"]["id"]], "question_s": 0.8})
        assert ack["ok"], ack
        seen = await m1.wait_for("inquiry:state", lambda s: s["seq"] == ack["seq"])
        assert seen["topic"]["title"] == "跨节点" and seen["stage"] == "idle"
        # A hand raised on process 2 reaches the chair on process 1.
        hand = await m1.call("inquiry:hand", {"raise": True})
        await chair.wait_for("inquiry:state", lambda s: s["seq"] == hand["seq"] and s["queue"] == [people["m1"]["id"]])
        await m2.call("inquiry:hand", {"raise": True})

        # Chair and clerk grant at the same moment on different processes:
        # the state machine is serialized in the database, so exactly one wins.
        acks = await asyncio.gather(
            chair.call("inquiry:command", {"action": "grant", "participant": people["m1"]["id"]}),
            clerk.call("inquiry:command", {"action": "grant", "participant": people["m2"]["id"]}),
        )
        winners = [a for a in acks if a["ok"]]
        losers = [a for a in acks if not a["ok"]]
        assert len(winners) == 1 and len(losers) == 1, acks
        assert losers[0]["error"]["code"] == "state"
        granted = await m1.wait_for("inquiry:state", lambda s: s["seq"] == winners[0]["seq"])
        assert granted["stage"] == "question"

        # Both processes run a clock; the overtime is recorded once, seen everywhere.
        over = await m2.wait_for("inquiry:state", lambda s: s["seq"] > granted["seq"] and s["overtime"], timeout=5)
        await m1.wait_for("inquiry:state", lambda s: s["seq"] == over["seq"])
        ack = await clerk.call("inquiry:command", {"action": "end_turn"})
        assert ack["ok"], ack
        for client in (m1, m2, chair):
            await client.wait_for("inquiry:state", lambda s: s["seq"] == ack["seq"])
            assert len({s["seq"] for s in client.received["inquiry:state"] if s["overtime"]}) == 1
        sync = await m2.call("state:sync")
        assert sync["inquiry"]["stage"] == "idle" and sync["inquiry"]["seq"] == ack["seq"]
    finally:
        for c in opened:
            await c.close()
        for node in nodes:
            await node.stop()


async def test_a_dead_process_members_hands_are_lowered(tmp_path, pg_url, redis_url):
    """A member's only connection was on a process that died: no leave hook
    ran there, so the surviving process lowers the hand when it finds the
    dead process's heartbeat stopped. A member still connected elsewhere
    keeps theirs."""
    nodes = [ServeProcess(data_dir=tmp_path / f"node{i}", secret=SECRET, db_url=pg_url, redis_url=redis_url,
                          env={"PLENARY_NODE_TIMEOUT_S": "4"})
             for i in (1, 2)]
    opened: list[EventClient] = []
    try:
        await asyncio.gather(*(node.start() for node in nodes))
        people = await _meeting(nodes[0], "节点失效", {"chair": "chair", "m1": "member", "m2": "member", "dept": "respondent"})

        async def connect(key, node):
            client = await EventClient(node.url, people[key]["token"]).connect()
            opened.append(client)
            return client

        chair = await connect("chair", nodes[1])
        m1 = await connect("m1", nodes[0])  # only on the process that will die
        m2 = await connect("m2", nodes[0])
        await connect("m2", nodes[1])  # m2 has a second tab on the survivor
        ack = await chair.call("inquiry:command", {"action": "open_topic", "title": "t",
                                                   "respondents": [people["dept"]["id"]]})
        assert ack["ok"], ack
        for member in (m1, m2):
            assert (await member.call("inquiry:hand", {"raise": True}))["ok"]
        both = [people["m1"]["id"], people["m2"]["id"]]
        raised = await chair.wait_for("inquiry:state", lambda s: s["queue"] == both)

        await nodes[0].stop(kill=True)
        lowered = await chair.wait_for(
            "inquiry:state", lambda s: s["seq"] > raised["seq"] and people["m1"]["id"] not in s["queue"], timeout=20
        )
        assert lowered["queue"] == [people["m2"]["id"]]
    finally:
        for c in opened:
            await c.close()
        for node in nodes:
            await node.stop()
