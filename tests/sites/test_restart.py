"""The ring clock lives in the database: a process that restarts mid-ring
still rings the station that connects to it, and marks the ring missed."""
from __future__ import annotations

from sessions.identity import TokenService
from tests.conftest import SECRET, HubUnderTest, make_settings
from tests.helpers import wait_until
from tests.sites.util import SitesClient, build_city, rest
from web.app import create_app


async def test_a_ring_outlives_a_restart_and_is_missed(aiohttp_client, tmp_path, db_url):
    settings = make_settings(tmp_path, db_url)
    settings.ring_s = 5  # PLENARY_RING_S
    first = HubUnderTest(await aiohttp_client(create_app(settings)), TokenService(SECRET))
    city = await build_city(first.url)
    caller = await SitesClient(first.url, city.tokens["A"]).connect()
    try:
        await caller.directory()
        ack = await caller.call("call:start", {"site_ids": [city.ids["S2"]]})
        assert ack["ok"], ack
    finally:
        await caller.close()
    await first.client.close()  # the process goes away mid-ring

    settings = make_settings(tmp_path, db_url)
    settings.ring_s = 5
    second = HubUnderTest(await aiohttp_client(create_app(settings)), TokenService(SECRET))
    station = await SitesClient(second.url, city.tokens["S2"]).connect()
    try:
        ring = await station.wait_for("call:ring", lambda r: r["call_id"] == ack["call_id"])
        assert ring["from"]["site_id"] == city.ids["A"]
        missed = await station.state(ack["call_id"], city.ids["S2"], "missed", timeout=10)
        assert missed["seq"] == 2
    finally:
        await station.close()

    async def logged() -> list:
        _, log = await rest(second.url, "GET", "/api/calls")
        return log and log[0]["sites"][0]["state"] == "missed" and log

    log = await wait_until(logged)
    assert log[0]["id"] == ack["call_id"]
