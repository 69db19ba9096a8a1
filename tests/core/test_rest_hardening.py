"""REST bodies, references, tokens and headers that once got a 500, a text/plain
400 or the wrong answer (issue 10, items 4, 7 and 8), on SQLite and PostgreSQL."""
from __future__ import annotations

import logging
import time

import jwt
import pytest

from tests.conftest import SECRET
from tests.documents.pdfs import make_pdf
from tests.documents.util import upload


async def error_of(resp, status: int, code: str, *words: str) -> str:
    assert resp.content_type == "application/json", (resp.status, await resp.text())
    body = await resp.json()
    assert resp.status == status, body
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert body["error"]["code"] == code, body
    message = body["error"]["message"]
    for word in words:
        assert word in message, (word, message)
    return message


def no_traceback(caplog) -> None:
    bad = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert not bad, [r.getMessage() for r in bad]


@pytest.fixture
async def meeting(hub):
    mid = await hub.meeting()
    chair = await hub.participant(mid, "主任", "chair")
    member = await hub.participant(mid, "委员", "member")
    status, doc = await upload(hub, mid, chair["token"], make_pdf(1))
    assert status == 201, doc
    return hub, mid, chair, member, doc["id"]


def post_routes(mid: str, did: str) -> list[tuple[str, str]]:
    return [
        ("POST", "/api/sites"),
        ("POST", "/api/meetings"),
        ("POST", f"/api/meetings/{mid}/participants"),
        ("PUT", f"/api/documents/{did}/pages/1/annotations"),
    ]


async def test_deeply_nested_json_is_invalid_not_500(meeting, caplog):
    hub, mid, _chair, member, did = meeting
    admin = hub.admin_headers()
    for method, path in post_routes(mid, did):
        headers = {"Authorization": f"Bearer {member['token']}"} if "annotations" in path else admin
        for body in (b"[" * 100_000, b'{"name": ' + b"[" * 100_000, b'{"notes": [' * 50_000):
            resp = await hub.client.request(method, path, data=body,
                                            headers={**headers, "Content-Type": "application/json"})
            await error_of(resp, 400, "invalid", "nested too deeply")
    no_traceback(caplog)


async def test_json_numbers_that_are_not_numbers(meeting, caplog):
    hub, mid, _chair, member, did = meeting
    headers = {"Authorization": f"Bearer {member['token']}", "Content-Type": "application/json"}
    path = f"/api/documents/{did}/pages/1/annotations"
    for body in (b'{"notes": [{"x": NaN, "y": 0.1, "text": "a"}]}', b'{"ink": [{"points": [[Infinity, 0]]}]}',
                 b'{"notes": [{"x": ' + b"1" * 5000 + b', "y": 0, "text": "a"}]}'):
        await error_of(await hub.client.put(path, data=body, headers=headers), 400, "invalid", "not valid JSON")
    no_traceback(caplog)


async def test_site_references_are_checked_before_the_write(hub, caplog):
    mid = await hub.meeting()
    headers = hub.admin_headers()
    post = lambda path, body: hub.client.post(path, json=body, headers=headers)
    await error_of(await post(f"/api/meetings/{mid}/participants", {"name": "局长", "role": "respondent",
                                                                     "site_id": ""}), 400, "invalid", "site_id")
    await error_of(await post(f"/api/meetings/{mid}/participants", {"name": "局长", "role": "respondent",
                                                                     "site_id": "0" * 32}), 404, "not_found", "site")
    await error_of(await post("/api/sites", {"name": "区", "kind": "district", "parent_id": ""}),
                   400, "invalid", "parent_id")
    await error_of(await post("/api/sites", {"name": "区", "kind": "district", "parent_id": "0" * 32}),
                   404, "not_found", "parent")
    await error_of(await post("/api/meetings/nope/participants", {"name": "局长", "role": "member"}),
                   404, "not_found", "meeting")
    no_traceback(caplog)


async def test_json_bodies_must_say_application_json(meeting, caplog):
    hub, mid, _chair, member, did = meeting
    admin = hub.admin_headers()
    body = b'{"name": "x", "kind": "city"}'
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"):
        resp = await hub.client.post("/api/sites", data=body, headers={**admin, "Content-Type": content_type})
        await error_of(resp, 400, "invalid", "application/json", content_type.split(";")[0])
    resp = await hub.client.put(f"/api/documents/{did}/pages/1/annotations", data=b'{"ink": []}',
                                headers={"Authorization": f"Bearer {member['token']}", "Content-Type": "text/plain"})
    await error_of(resp, 400, "invalid", "application/json")
    # The same bytes as application/json (with a charset) are fine.
    resp = await hub.client.post("/api/sites", data=body,
                                 headers={**admin, "Content-Type": "application/json; charset=utf-8"})
    assert resp.status == 201, await resp.text()
    no_traceback(caplog)


async def test_rest_scalars_are_strict(meeting, caplog):
    hub, mid, _chair, member, did = meeting
    admin = hub.admin_headers()
    for when in (1764547200, "1764547200", True):
        await error_of(await hub.client.post("/api/meetings", json={"title": "会", "starts_at": when},
                                             headers=admin), 400, "invalid", "starts_at", "ISO 8601")
    # 0001-01-01 at +14:00 is before year 1 in UTC: PostgreSQL failed on it.
    for when in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"):
        await error_of(await hub.client.post("/api/meetings", json={"title": "会", "starts_at": when},
                                             headers=admin), 400, "invalid", "starts_at", "years")
    await error_of(await hub.client.post("/api/meetings", json={"title": 123}, headers=admin),
                   400, "invalid", "title", "got a number")
    await error_of(await hub.client.post("/api/sites", json={"name": True, "kind": "city"}, headers=admin),
                   400, "invalid", "name", "got a boolean")
    path = f"/api/documents/{did}/pages/1/annotations"
    token = {"Authorization": f"Bearer {member['token']}"}
    for bad in ({"notes": [{"x": "0.5", "y": 0.5, "text": "a"}]}, {"notes": [{"x": True, "y": 0.5, "text": "a"}]},
                {"ink": [{"points": [["0.1", 0.2]]}]}, {"ink": [{"points": [[0.1, 0.2]], "width": "0.01"}]}):
        await error_of(await hub.client.put(path, json=bad, headers=token), 400, "invalid", "valid number")
    # Integers are JSON numbers too, and enums and times still take their strings.
    resp = await hub.client.put(path, json={"ink": [{"points": [[0, 1]]}], "notes": [{"x": 1, "y": 0, "text": "a"}]},
                                headers=token)
    assert resp.status == 200, await resp.text()
    resp = await hub.client.post("/api/meetings", json={"title": "会", "starts_at": "2026-12-01T09:00:00+08:00"},
                                 headers=admin)
    assert resp.status == 201
    no_traceback(caplog)


async def test_ids_in_paths_are_checked_at_the_edge(meeting, caplog):
    hub, mid, chair, member, did = meeting
    token = {"Authorization": f"Bearer {member['token']}"}
    for path in ("/api/votes/ab%00cd", "/api/votes/ab%01cd/verify?receipt=x", f"/api/meetings/{mid}%00",
                 "/api/documents/ab%00cd/pages/1", "/api/documents/ab%00cd/annotations",
                 f"/api/votes/{'a' * 65}", "/api/meetings/a%20b/minutes"):
        await error_of(await hub.client.get(path, headers=token), 404, "not_found", "no such")
    await error_of(await hub.client.get(f"/api/meetings/{mid}/participants%00", headers=hub.admin_headers()),
                   404, "not_found")
    resp = await hub.client.get(f"/api/meetings/{mid}/minutes?x=a%00b",
                                headers={"Authorization": f"Bearer {chair['token']}"})
    await error_of(resp, 400, "invalid", "query parameter", "U+0000")
    no_traceback(caplog)


def forged(member_id: str, mid: str | None, role: str) -> str:
    claims = {"sub": member_id, "role": role, "exp": int(time.time()) + 600}
    if mid is not None:
        claims["mid"] = mid
    return jwt.encode(claims, SECRET, algorithm="HS256")


async def test_rest_checks_the_token_role_against_the_database(meeting, caplog):
    hub, mid, _chair, member, _did = meeting
    as_chair = {"Authorization": f"Bearer {forged(member['id'], mid, 'chair')}"}
    await error_of(await hub.client.get(f"/api/meetings/{mid}/minutes", headers=as_chair),
                   401, "unauthorized", "role")
    await error_of(await hub.client.get(f"/api/meetings/{mid}", headers=as_chair), 401, "unauthorized", "role")
    for mid_claim in (None, mid):
        as_admin = {"Authorization": f"Bearer {forged(member['id'], mid_claim, 'admin')}"}
        await error_of(await hub.client.get("/api/sites", headers=as_admin), 401, "unauthorized", "admin")
        await error_of(await hub.client.post("/api/meetings", json={"title": "x"}, headers=as_admin),
                       401, "unauthorized")
    # The member's own token still reads what a member may, and not the minutes.
    own = {"Authorization": f"Bearer {member['token']}"}
    assert (await hub.client.get(f"/api/meetings/{mid}", headers=own)).status == 200
    await error_of(await hub.client.get(f"/api/meetings/{mid}/minutes", headers=own), 403, "forbidden")
    no_traceback(caplog)


async def test_huge_authorization_header_gets_401_json(meeting, caplog):
    hub, mid, _chair, _member, _did = meeting
    for value in ("x" * 100_000, "Bearer " + "x" * 100_000, "Bearer " + "a.b." * 25_000):
        for path in ("/api/sites", f"/api/meetings/{mid}"):
            await error_of(await hub.client.get(path, headers={"Authorization": value}), 401, "unauthorized")
    resp = await hub.client.get(f"/api/meetings/{mid}", headers={"Authorization": "Bearer " + "x" * 100_000})
    await error_of(resp, 401, "unauthorized", "too long")
    no_traceback(caplog)
