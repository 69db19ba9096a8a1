"""An operator's session reaches its site, the sites below it, and the
meetings it created; anything else is 403 (on SQLite and PostgreSQL)."""
from __future__ import annotations

import pytest

from tests.accounts.kit import call, make_account, session_token
from tests.sites.util import SitesClient, build_city, sites_connect_error

PASSWORD = "district office pass"


@pytest.fixture
async def district(hub):
    """The city of tests/sites/util.py (市 → 区A → 镇T → 站S1, 区A → 站S2,
    市 → 区B → 站S3, 市 → 部门D) and operators: two of A, one of B."""
    city = await build_city(hub.url)
    ids = city.ids
    tokens = {}
    for name, site in (("opA", "A"), ("opA2", "A"), ("opB", "B")):
        await make_account(hub, name, PASSWORD, site_id=ids[site])
        tokens[name] = await session_token(hub, name, PASSWORD)
    return hub, city, tokens


async def test_an_operator_sees_and_grows_only_its_subtree(district):
    hub, city, tokens = district
    ids, op_a = city.ids, tokens["opA"]
    status, sites = await call(hub, "GET", "/api/sites", op_a)
    assert status == 200 and {s["id"] for s in sites} == {ids["A"], ids["T"], ids["S1"], ids["S2"]}
    status, new = await call(hub, "POST", "/api/sites", op_a, {"name": "新联络站", "kind": "station", "parent_id": ids["T"]})
    assert status == 201 and new["parent_id"] == ids["T"], new
    status, sites = await call(hub, "GET", "/api/sites", op_a)
    assert new["id"] in {s["id"] for s in sites}
    for refused in ({"name": "越界站", "kind": "station", "parent_id": ids["B"]},
                    {"name": "越界站", "kind": "station", "parent_id": ids["city"]},
                    {"name": "新区", "kind": "district"}):
        status, body = await call(hub, "POST", "/api/sites", op_a, refused)
        assert status == 403 and body["error"]["code"] == "forbidden", (refused, body)
    status, sites = await call(hub, "GET", "/api/sites", tokens["opB"])
    assert {s["id"] for s in sites} == {ids["B"], ids["S3"]}
    # The whole city's directory on /sites is the admin's.
    assert "operator" in await sites_connect_error(hub.url, op_a)


async def test_an_operator_reaches_only_the_meetings_it_created(district):
    hub, city, tokens = district
    ids = city.ids
    status, meeting = await call(hub, "POST", "/api/meetings", tokens["opA"], {"title": "东城区代表座谈"})
    assert status == 201, meeting
    mid = meeting["id"]
    status, member = await call(hub, "POST", f"/api/meetings/{mid}/participants", tokens["opA"],
                                {"name": "李四", "role": "deputy", "site_id": ids["S1"]})
    assert status == 201, member
    status, got = await call(hub, "GET", f"/api/meetings/{mid}", tokens["opA"])
    assert status == 200 and [p["name"] for p in got["participants"]] == ["李四"]
    status, _ = await call(hub, "GET", f"/api/meetings/{mid}/documents", tokens["opA"])
    assert status == 200
    # A participant from a site outside A: refused.
    status, body = await call(hub, "POST", f"/api/meetings/{mid}/participants", tokens["opA"],
                              {"name": "张三", "role": "deputy", "site_id": ids["S3"]})
    assert status == 403 and body["error"]["code"] == "forbidden"

    # Another operator, of the same district or another: not its meeting.
    for other in ("opA2", "opB"):
        for method, path, body in (("GET", f"/api/meetings/{mid}", None),
                                   ("GET", f"/api/meetings/{mid}/documents", None),
                                   ("POST", f"/api/meetings/{mid}/participants", {"name": "赵六", "role": "member"})):
            status, answer = await call(hub, method, path, tokens[other], body)
            assert status == 403 and answer["error"]["code"] == "forbidden", (other, path, answer)
    # A meeting the admin token made is not an operator's either.
    admin_mid = await hub.meeting("全市大会")
    status, _ = await call(hub, "GET", f"/api/meetings/{admin_mid}", tokens["opA"])
    assert status == 403
    status, _ = await call(hub, "POST", f"/api/meetings/{admin_mid}/participants", tokens["opA"],
                           {"name": "赵六", "role": "member"})
    assert status == 403
    # While the admin reaches every meeting, the operators' too.
    status, got = await call(hub, "GET", f"/api/meetings/{mid}", hub.tokens.admin_token())
    assert status == 200
    status, _ = await call(hub, "GET", f"/api/meetings/{'0' * 32}", tokens["opA"])
    assert status == 404


async def test_an_operator_manages_terminals_and_reads_calls_of_its_subtree(district, clients):
    hub, city, tokens = district
    ids, op_a = city.ids, tokens["opA"]
    status, issued = await call(hub, "POST", f"/api/sites/{ids['S1']}/terminal", op_a, {})
    assert status == 201 and issued["token"]
    for method, body in (("POST", {}), ("DELETE", None)):
        status, answer = await call(hub, method, f"/api/sites/{ids['S3']}/terminal", op_a, body)
        assert status == 403 and answer["error"]["code"] == "forbidden", (method, answer)
    status, answer = await call(hub, "DELETE", f"/api/sites/{ids['S1']}/terminal", op_a)
    assert status == 200 and answer == {"ok": True}

    # S1's terminal tokens were revoked above. Two calls: one inside A
    # (A → S2), one outside it (B → S3).
    assert "revoked" in await sites_connect_error(hub.url, city.tokens["S1"])
    terminals = {}
    for key in ("A", "S2", "B", "S3"):
        terminals[key] = await SitesClient(hub.url, city.tokens[key]).connect()
        clients.append(terminals[key])
        await terminals[key].directory()
    inside = await terminals["A"].call("call:start", {"site_ids": [ids["S2"]]})
    outside = await terminals["B"].call("call:start", {"site_ids": [ids["S3"]]})
    assert inside["ok"] and outside["ok"], (inside, outside)
    status, log = await call(hub, "GET", "/api/calls", op_a)
    assert status == 200 and [c["id"] for c in log] == [inside["call_id"]]
    status, log = await call(hub, "GET", f"/api/calls?site_id={ids['S2']}", op_a)
    assert status == 200 and [c["id"] for c in log] == [inside["call_id"]]
    status, answer = await call(hub, "GET", f"/api/calls?site_id={ids['S3']}", op_a)
    assert status == 403 and answer["error"]["code"] == "forbidden"
    status, log = await call(hub, "GET", "/api/calls", tokens["opB"])
    assert [c["id"] for c in log] == [outside["call_id"]]
    status, log = await call(hub, "GET", "/api/calls", hub.tokens.admin_token())
    assert {c["id"] for c in log} == {inside["call_id"], outside["call_id"]}


async def test_an_operator_shares_and_reads_papers_of_its_meeting(district):
    """The meeting routes open to the admin (here documents) open to the
    operator that created the meeting, and to no other."""
    from tests.documents.util import get_page, upload

    hub, _city, tokens = district
    status, meeting = await call(hub, "POST", "/api/meetings", tokens["opA"], {"title": "材料审阅"})
    mid = meeting["id"]
    status, doc = await upload(hub, mid, tokens["opA"])
    assert status == 201 and doc["pages"] == 3, doc
    resp = await get_page(hub, doc["id"], 1, tokens["opA"])
    assert resp.status == 200 and resp.content_type in ("image/png", "image/jpeg")
    resp = await get_page(hub, doc["id"], 1, tokens["opB"])
    assert resp.status == 403
    status, answer = await upload(hub, mid, tokens["opA2"])
    assert status == 403 and answer["error"]["code"] == "forbidden"
