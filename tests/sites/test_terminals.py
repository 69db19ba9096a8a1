"""Terminal tokens (issue, revoke), the directory on connect and its presence
broadcasts, on one process (each database in turn)."""
from __future__ import annotations

import time

import jwt

from tests.conftest import SECRET
from tests.helpers import connect_error
from tests.sites.util import SitesClient, build_city, gather_close, rest, sites_connect_error


async def test_terminal_token_has_the_contracts_claims(hub):
    city = await build_city(hub.url, terminals=False)
    sid = city.ids["S1"]
    status, body = await rest(hub.url, "POST", f"/api/sites/{sid}/terminal", json={})
    assert status == 201, body
    assert set(body) == {"token", "join_url"} and body["join_url"].endswith(body["token"])
    claims = jwt.decode(body["token"], SECRET, algorithms=["HS256"])
    assert (claims["sub"], claims["site"], claims["role"]) == (f"site:{sid}", sid, "terminal")
    assert abs(claims["exp"] - (time.time() + 365 * 24 * 3600)) < 60
    # Only the admin issues or revokes; a site that does not exist is 404.
    mid = await hub.meeting()
    member = await hub.participant(mid, "委员", "member")
    terminal = body["token"]
    for method in ("POST", "DELETE"):
        status, body = await rest(hub.url, method, f"/api/sites/{sid}/terminal", token=member["token"])
        assert (status, body["error"]["code"]) == (403, "forbidden"), body
        status, body = await rest(hub.url, method, f"/api/sites/{sid}/terminal", token=terminal)
        assert (status, body["error"]["code"]) == (401, "unauthorized"), body  # a terminal is not an admin
        status, body = await rest(hub.url, method, f"/api/sites/{'0' * 32}/terminal", json={} if method == "POST" else None)
        assert (status, body["error"]["code"]) == (404, "not_found"), body


async def test_terminal_tokens_open_sites_only(hub, clients):
    city = await build_city(hub.url)
    mid = await hub.meeting()
    member = await hub.participant(mid, "委员", "member")
    # A terminal token does not join a meeting, nor read one over REST.
    reason = await connect_error(hub.url, {"token": city.tokens["S1"]})
    assert "terminal token" in reason, reason
    resp = await hub.client.get(f"/api/meetings/{mid}", headers={"Authorization": f"Bearer {city.tokens['S1']}"})
    assert resp.status == 401
    # A participant's token does not open /sites; nor does a forged one, or none.
    assert "participant" in await sites_connect_error(hub.url, member["token"])
    forged = jwt.encode({"sub": f"site:{city.ids['S1']}", "site": city.ids["S1"], "role": "terminal", "gen": 0,
                         "exp": int(time.time()) + 60}, "another-secret-" + "z" * 40, algorithm="HS256")
    assert "signature" in await sites_connect_error(hub.url, forged)
    assert await sites_connect_error(hub.url, None) == "missing token"
    # Admin watches; a terminal connects.
    for token in (hub.tokens.admin_token(), city.tokens["S1"]):
        c = await SitesClient(hub.url, token).connect()
        clients.append(c)
        assert (await c.directory())["sites"]


async def test_revoking_closes_pages_and_refuses_old_tokens(hub, clients):
    city = await build_city(hub.url)
    sid = city.ids["S1"]
    first = city.tokens["S1"]
    _, second = await rest(hub.url, "POST", f"/api/sites/{sid}/terminal", json={})
    second = second["token"]
    pages = [await SitesClient(hub.url, t).connect() for t in (first, second, first)]
    other = await SitesClient(hub.url, city.tokens["S2"]).connect()
    clients.extend([*pages, other])
    for page in pages:
        await page.directory()
    status, body = await rest(hub.url, "GET", "/api/calls", token=first)
    assert status == 200 and body == []

    status, body = await rest(hub.url, "DELETE", f"/api/sites/{sid}/terminal")
    assert (status, body) == (200, {"ok": True})
    for page in pages:
        await page.wait_disconnected()
    assert not other.disconnects and other.sio.connected  # another site's terminal stays

    for token in (first, second):
        assert "revoked" in await sites_connect_error(hub.url, token)
        status, body = await rest(hub.url, "GET", "/api/calls", token=token)
        assert (status, body["error"]["code"]) == (401, "unauthorized") and "revoked" in body["error"]["message"]
    # A token issued after the revocation works.
    _, fresh = await rest(hub.url, "POST", f"/api/sites/{sid}/terminal", json={})
    page = await SitesClient(hub.url, fresh["token"]).connect()
    clients.append(page)
    directory = await page.directory()
    assert {s["id"]: s["online"] for s in directory["sites"]}[sid] is True


async def test_directory_and_presence(hub, clients):
    city = await build_city(hub.url)
    watcher = await SitesClient(hub.url, hub.tokens.admin_token()).connect()
    clients.append(watcher)
    start = await watcher.directory()
    assert [s["id"] for s in start["sites"]] == [city.ids[k] for k in ("city", "A", "T", "S1", "S2", "B", "S3", "D")]
    first = start["sites"][3]
    assert first == {"id": city.ids["S1"], "name": "和平联络站", "kind": "station", "parent_id": city.ids["T"],
                     "online": False}
    assert not any(s["online"] for s in start["sites"])

    s1 = await SitesClient(hub.url, city.tokens["S1"]).connect()
    clients.append(s1)
    online = await watcher.presence(city.ids["S1"], True)
    assert online["seq"] == start["seq"] + 1
    own = await s1.directory()
    assert own["seq"] >= online["seq"]
    assert {s["id"]: s["online"] for s in own["sites"]}[city.ids["S1"]] is True

    # A second page of the site changes nothing; the site goes offline with its last page.
    s1b = await SitesClient(hub.url, city.tokens["S1"]).connect()
    await s1b.directory()
    await s1.close()
    s2 = await SitesClient(hub.url, city.tokens["S2"]).connect()
    clients.append(s2)
    marker = await watcher.presence(city.ids["S2"], True)
    assert marker["seq"] == online["seq"] + 1  # nothing between: S1 stayed online
    await s1b.close()
    offline = await watcher.presence(city.ids["S1"], False)
    assert offline["seq"] == marker["seq"] + 1
    sync = await watcher.call("directory:sync")
    assert sync["ok"] and sync["seq"] == offline["seq"]
    assert {s["id"] for s in sync["sites"] if s["online"]} == {city.ids["S2"]}
    await gather_close(s2)


async def test_presence_changes_are_announced_once_each_in_seq_order(hub, clients):
    """Many sites' terminals connecting at once: one announcement per site, seqs without gaps."""
    import asyncio

    city = await build_city(hub.url)
    watcher = await SitesClient(hub.url, hub.tokens.admin_token()).connect()
    clients.append(watcher)
    start = (await watcher.directory())["seq"]
    pages = [SitesClient(hub.url, city.tokens[key]) for key in city.ids for _ in range(2)]
    clients.extend(pages)
    await asyncio.gather(*(p.connect() for p in pages))
    for key in city.ids:
        await watcher.presence(city.ids[key], True)
    seen = watcher.received["directory:presence"]
    assert sorted(p["seq"] for p in seen) == list(range(start + 1, start + 1 + len(city.ids))), seen
    assert sorted(p["site_id"] for p in seen) == sorted(city.ids.values())


async def test_a_page_whose_token_was_revoked_elsewhere_is_closed_by_the_sweep(hub, clients):
    """Revoked in the database without the disconnect message (Redis lost it, say):
    the process holding the page closes it within a second or so."""
    from sessions.sites import terminals

    city = await build_city(hub.url)
    page = await SitesClient(hub.url, city.tokens["S1"]).connect()
    clients.append(page)
    await page.directory()
    async with hub.hub.db.transaction() as tx:
        await terminals.revoke(tx, city.ids["S1"])
    await page.wait_disconnected(timeout=5)
    assert "revoked" in await sites_connect_error(hub.url, city.tokens["S1"])
