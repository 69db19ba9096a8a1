"""Two `plenary serve` processes on one PostgreSQL and one Redis: the
directory's presence, calls and revocation cross between them, and a dead
process's terminals go offline."""
from __future__ import annotations

import pytest

from sessions.identity import TokenService
from tests.conftest import SECRET
from tests.helpers import ServeProcess
from tests.sites.util import SitesClient, build_city, rest, sites_connect_error

pytestmark = pytest.mark.multiprocess


async def test_presence_calls_and_revocation_across_processes(tmp_path, pg_url, redis_url):
    nodes = [
        # A short node timeout so the test can watch a node's death in seconds.
        ServeProcess(data_dir=tmp_path / f"node{i}", secret=SECRET, db_url=pg_url, redis_url=redis_url,
                     env={"PLENARY_NODE_TIMEOUT_S": "4", "PLENARY_RING_S": "2"})
        for i in (1, 2)
    ]
    opened: list[SitesClient] = []

    async def connect(node: ServeProcess, token: str) -> SitesClient:
        client = await SitesClient(node.url, token).connect()
        opened.append(client)
        await client.directory()
        return client

    try:
        for node in nodes:
            await node.start()
        one, two = nodes
        city = await build_city(one.url)
        ids = city.ids
        watcher = await connect(one, TokenService(SECRET).admin_token())
        # A site online through the other process: the watcher sees it, once.
        district = await connect(two, city.tokens["A"])
        online = await watcher.presence(ids["A"], True)
        second_page = await connect(one, city.tokens["A"])
        station = await connect(one, city.tokens["S1"])
        after = await watcher.presence(ids["S1"], True)
        assert after["seq"] == online["seq"] + 1  # A's second page on the other process changed nothing
        directory = await watcher.call("directory:sync")
        assert {s["id"] for s in directory["sites"] if s["online"]} == {ids["A"], ids["S1"]}

        # A call from a terminal on one process rings a terminal on the other.
        ack = await district.call("call:start", {"site_ids": [ids["S1"], ids["S2"]]})
        assert ack["ok"], ack
        call_id = ack["call_id"]
        ring = await station.wait_for("call:ring", lambda r: r["call_id"] == call_id)
        assert ring["from"] == {"site_id": ids["A"], "name": "东城区人大"}
        assert (await station.call("call:accept", {"call_id": call_id}))["ok"]
        await district.state(call_id, ids["S1"], "accepted")
        await second_page.state(call_id, ids["S1"], "accepted")  # every page of the caller's site
        # S2 has no terminal: its ring is missed, once, by whichever process's clock came first.
        await district.state(call_id, ids["S2"], "missed", timeout=10)
        status, log = await rest(two.url, "GET", "/api/calls", token=city.tokens["S1"])
        assert status == 200 and [(s["site_id"], s["state"]) for s in log[0]["sites"]] == [
            (ids["S1"], "accepted"), (ids["S2"], "missed")]
        states = [s for s in district.received["call:state"] if s["call_id"] == call_id]
        assert sorted(s["seq"] for s in states) == [1, 2, 3, 4], states

        # Revoked through one process: the pages on both close, the site goes offline.
        status, body = await rest(one.url, "DELETE", f"/api/sites/{ids['A']}/terminal")
        assert (status, body) == (200, {"ok": True})
        await district.wait_disconnected()
        await second_page.wait_disconnected()
        await watcher.presence(ids["A"], False)
        assert "revoked" in await sites_connect_error(two.url, city.tokens["A"])

        # A process that dies takes its terminals offline for everyone (heartbeat expiry).
        late = await connect(two, city.tokens["S3"])
        await watcher.presence(ids["S3"], True)
        await two.stop(kill=True)
        await watcher.presence(ids["S3"], False, timeout=20)
        assert late.received["directory"]
        assert not [p for p in watcher.received["directory:presence"] if p["site_id"] == ids["S1"] and not p["online"]]
    finally:
        for c in opened:
            await c.close()
        for node in nodes:
            await node.stop()
