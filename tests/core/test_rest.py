"""Each REST call of the foundation and each of its refusals."""
import pytest


async def error_of(resp, status: int, code: str) -> str:
    body = await resp.json()
    assert resp.status == status, body
    assert body["error"]["code"] == code, body
    assert body["error"]["message"]
    return body["error"]["message"]


async def test_sites_tree(hub):
    city = await hub.site("市人大常委会会议厅", "city")
    district = await hub.site("东城区人大常委会", "district", city["id"])
    township = await hub.site("东城区第1镇人大", "township", district["id"])
    station = await hub.site("代表联络站 01", "station", township["id"])
    dept = await hub.site("市教育局", "department", city["id"])
    assert station["parent_id"] == township["id"] and station["kind"] == "station"
    resp = await hub.client.get("/api/sites", headers=hub.admin_headers())
    sites = await resp.json()
    assert resp.status == 200
    assert {s["id"]: s["parent_id"] for s in sites} == {
        city["id"]: None, district["id"]: city["id"], township["id"]: district["id"],
        station["id"]: township["id"], dept["id"]: city["id"],
    }


async def test_site_refusals(hub):
    city = await hub.site("市会议厅", "city")
    headers = hub.admin_headers()
    post = lambda body, **kw: hub.client.post("/api/sites", json=body, headers=kw.get("headers", headers))
    await error_of(await post({"name": "x", "kind": "planet"}), 400, "invalid")
    await error_of(await post({"kind": "city"}), 400, "invalid")
    await error_of(await post({"name": "", "kind": "city"}), 400, "invalid")
    await error_of(await post({"name": "x", "kind": "city", "extra": 1}), 400, "invalid")
    await error_of(await post({"name": "x", "kind": "township"}), 400, "invalid")  # a township needs a district
    await error_of(await post({"name": "x", "kind": "township", "parent_id": city["id"]}), 400, "invalid")
    await error_of(await post({"name": "x", "kind": "district", "parent_id": "nope"}), 404, "not_found")
    await error_of(await post(["a list"]), 400, "invalid")
    resp = await hub.client.post("/api/sites", data=b"{not json", headers={**headers, "Content-Type": "application/json"})
    await error_of(resp, 400, "invalid")
    resp = await hub.client.post("/api/sites", data="\xff\xfe".encode("latin-1"), headers=headers)
    await error_of(resp, 400, "invalid")
    mid = await hub.meeting()
    chair = await hub.participant(mid, "主任", "chair")
    await error_of(await post({"name": "x", "kind": "city"}, headers={"Authorization": f"Bearer {chair['token']}"}),
                   403, "forbidden")
    await error_of(await hub.client.get("/api/sites"), 401, "unauthorized")


async def test_meeting_and_participants(hub):
    resp = await hub.client.post("/api/meetings", json={"title": "专题询问会", "starts_at": "2026-12-01T09:00:00+08:00"},
                                 headers=hub.admin_headers())
    meeting = await resp.json()
    assert resp.status == 201 and meeting["title"] == "专题询问会" and meeting["status"] == "scheduled"
    mid = meeting["id"]
    dept = await hub.site("市交通运输局", "department")
    answer = await hub.participant(mid, "交通局局长", "respondent", dept["id"])
    assert set(answer) == {"id", "token", "join_url"}
    assert answer["join_url"].endswith(f"/join?token={answer['token']}")
    member = await hub.participant(mid, "委员甲", "member")
    resp = await hub.client.get(f"/api/meetings/{mid}", headers={"Authorization": f"Bearer {member['token']}"})
    body = await resp.json()
    assert resp.status == 200
    by_id = {p["id"]: p for p in body["participants"]}
    assert by_id[answer["id"]]["site"]["kind"] == "department" and by_id[answer["id"]]["online"] is False
    assert by_id[member["id"]]["role"] == "member" and by_id[member["id"]]["site"] is None


async def test_meeting_refusals(hub):
    headers = hub.admin_headers()
    await error_of(await hub.client.post("/api/meetings", json={"title": ""}, headers=headers), 400, "invalid")
    await error_of(await hub.client.post("/api/meetings", json={"title": "x", "starts_at": "someday"}, headers=headers),
                   400, "invalid")
    await error_of(await hub.client.get("/api/meetings/nope", headers=headers), 404, "not_found")
    mid = await hub.meeting()
    post = lambda body, h=headers: hub.client.post(f"/api/meetings/{mid}/participants", json=body, headers=h)
    await error_of(await post({"name": "x", "role": "king"}), 400, "invalid")
    await error_of(await post({"name": "x", "role": "admin"}), 400, "invalid")
    await error_of(await post({"name": "x", "role": "member", "site_id": "nope"}), 404, "not_found")
    await error_of(await hub.client.post("/api/meetings/nope/participants", json={"name": "x", "role": "member"},
                                         headers=headers), 404, "not_found")
    member = await hub.participant(mid, "委员", "member")
    member_headers = {"Authorization": f"Bearer {member['token']}"}
    await error_of(await post({"name": "x", "role": "member"}, member_headers), 403, "forbidden")
    await error_of(await hub.client.post("/api/meetings", json={"title": "x"}, headers=member_headers), 403, "forbidden")
    other = await hub.meeting("另一个会")
    await error_of(await hub.client.get(f"/api/meetings/{other}", headers=member_headers), 401, "unauthorized")
    await error_of(await hub.client.get("/api/no-such-route", headers=headers), 404, "not_found")
    await error_of(await hub.client.delete(f"/api/meetings/{mid}", headers=headers), 405, "invalid")


async def test_health_and_metrics(sqlite_hub, clients):
    resp = await sqlite_hub.client.get("/healthz")
    assert resp.status == 200 and await resp.json() == {"ok": True}
    mid = await sqlite_hub.meeting()
    member = await sqlite_hub.participant(mid, "委员", "member")
    clients.append(await sqlite_hub.connect(member["token"]))
    await clients[0].call("state:sync")
    text = await (await sqlite_hub.client.get("/metrics")).text()
    assert "plenary_connected_clients 1.0" in text
    assert 'plenary_events_total{event="state:sync",outcome="ok"} 1.0' in text
    assert "plenary_live_meetings" in text
    # The process's own figures, so an all-day hub's memory can be watched.
    rss = next(line for line in text.splitlines() if line.startswith("process_resident_memory_bytes "))
    assert float(rss.split()[1]) > 10 * 2**20
    assert any(line.startswith("process_open_fds ") for line in text.splitlines())


@pytest.mark.parametrize("path", ["/", "/join"])
async def test_client_page_is_served_by_the_hub(sqlite_hub, path):
    resp = await sqlite_hub.client.get(path)
    assert resp.status == 200 and "text/html" in resp.headers["Content-Type"]
    assert resp.headers["Referrer-Policy"] == "no-referrer"
