"""Two `plenary serve` processes on one PostgreSQL and one Redis form one hub."""
import aiohttp
import pytest

from sessions.identity import TokenService
from tests.conftest import SECRET
from tests.helpers import EventClient, ServeProcess

pytestmark = pytest.mark.multiprocess


async def test_clients_on_two_processes_see_each_other(tmp_path, pg_url, redis_url):
    nodes = [
        # A short node timeout so the test can watch a node's death in seconds.
        ServeProcess(data_dir=tmp_path / f"node{i}", secret=SECRET, db_url=pg_url, redis_url=redis_url,
                     env={"PLENARY_NODE_TIMEOUT_S": "4"})
        for i in (1, 2)
    ]
    opened: list[EventClient] = []
    try:
        for node in nodes:
            await node.start()
        admin = {"Authorization": f"Bearer {TokenService(SECRET).admin_token()}"}
        async with aiohttp.ClientSession(headers=admin) as http:
            async with http.post(f"{nodes[0].url}/api/meetings", json={"title": "跨节点会议"}) as resp:
                mid = (await resp.json())["id"]
            people = []
            for name, role in (("主任", "chair"), ("联络站代表", "deputy")):
                # Participants are created on the second node: any node serves any call.
                async with http.post(f"{nodes[1].url}/api/meetings/{mid}/participants",
                                     json={"name": name, "role": role}) as resp:
                    people.append(await resp.json())
        chair = await EventClient(nodes[0].url, people[0]["token"]).connect()
        opened.append(chair)
        deputy = await EventClient(nodes[1].url, people[1]["token"]).connect()
        opened.append(deputy)

        def online(roster) -> dict:
            return {p["id"]: p["online"] for p in roster["participants"]}

        both = {people[0]["id"]: True, people[1]["id"]: True}
        await chair.wait_for("roster", lambda r: online(r) == both)
        await deputy.wait_for("roster", lambda r: online(r) == both)
        sync = await deputy.call("state:sync")
        assert {p["id"]: p["online"] for p in sync["roster"]} == both

        # A node's death takes its clients offline for everyone (heartbeat expiry).
        last = deputy.received["roster"][-1]["seq"]
        await nodes[0].stop(kill=True)
        gone = await deputy.wait_for(
            "roster", lambda r: r["seq"] > last and online(r)[people[0]["id"]] is False, timeout=20
        )
        assert online(gone)[people[1]["id"]] is True
    finally:
        for c in opened:
            await c.close()
        for node in nodes:
            await node.stop()
