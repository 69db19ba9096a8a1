"""Meetings as the office runs them: kind and schedule, the list, the status
life cycle and its `meeting:status` event, a closed meeting's connects."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from sessions.meetings.invitations import LINK_GRACE, MEETING_CLOSED
from sessions.identity import ADMIN_SUB
from sessions.models import Meeting, MeetingEvent, utcnow
from tests.accounts.kit import call, make_account, session_token
from tests.core.test_rest import error_of
from tests.helpers import connect_error, wait_until
from voting.models import Vote


async def logged_types(session, meeting_id: str) -> list[str]:
    rows = await session.scalars(select(MeetingEvent.type).where(MeetingEvent.meeting_id == meeting_id)
                                 .order_by(MeetingEvent.seq))
    return list(rows)


async def create(hub, **body) -> dict:
    return await hub.post("/api/meetings", {"title": "会", **body})


async def test_create_patch_and_list(hub):
    inquiry = await create(hub, title="专题询问：城市交通", kind="inquiry",
                           starts_at="2026-12-01T09:00:00+08:00", ends_at="2026-12-01T12:00:00+08:00")
    assert inquiry["kind"] == "inquiry" and inquiry["status"] == "scheduled"
    assert inquiry["starts_at"] == "2026-12-01T01:00:00+00:00" and inquiry["ends_at"] == "2026-12-01T04:00:00+00:00"
    plain = await create(hub, title="常委会第十次会议")
    assert plain["kind"] == "committee" and plain["ends_at"] is None
    adhoc = await create(hub, title="临时会商", kind="adhoc")
    admin = hub.admin_headers()

    resp = await hub.client.get("/api/meetings", headers=admin)
    listed = await resp.json()
    assert resp.status == 200
    assert [m["id"] for m in listed] == [adhoc["id"], plain["id"], inquiry["id"]]  # newest first
    # Read back from the database (SQLite keeps no offset): still the same instants.
    assert (listed[2]["starts_at"], listed[2]["ends_at"]) == ("2026-12-01T01:00:00+00:00", "2026-12-01T04:00:00+00:00")

    resp = await hub.client.patch(f"/api/meetings/{plain['id']}", headers=admin,
                                  json={"title": "常委会第十一次会议", "kind": "inquiry",
                                        "starts_at": "2026-12-02T09:00:00+08:00", "ends_at": "2026-12-02T17:00:00+08:00"})
    patched = await resp.json()
    assert resp.status == 200, patched
    assert (patched["title"], patched["kind"], patched["ends_at"]) == \
        ("常委会第十一次会议", "inquiry", "2026-12-02T09:00:00+00:00")
    resp = await hub.client.patch(f"/api/meetings/{plain['id']}", headers=admin, json={"ends_at": None})
    assert (await resp.json())["ends_at"] is None and resp.status == 200
    resp = await hub.client.get(f"/api/meetings/{plain['id']}", headers=admin)
    again = await resp.json()
    assert again["title"] == "常委会第十一次会议" and again["ends_at"] is None
    assert again["starts_at"] == "2026-12-02T01:00:00+00:00"

    # Refusals: an end before the start, unknown kinds and fields, a null title.
    path = f"/api/meetings/{plain['id']}"
    await error_of(await hub.client.patch(path, headers=admin, json={"ends_at": "2026-12-01T00:00:00Z"}),
                   400, "invalid")
    await error_of(await hub.client.patch(path, headers=admin, json={"kind": "party"}), 400, "invalid")
    await error_of(await hub.client.patch(path, headers=admin, json={"status": "closed"}), 400, "invalid")
    await error_of(await hub.client.patch(path, headers=admin, json={"title": None}), 400, "invalid")
    await error_of(await hub.client.post("/api/meetings", headers=admin, json={
        "title": "x", "starts_at": "2026-12-01T09:00:00Z", "ends_at": "2026-12-01T08:00:00Z"}), 400, "invalid")
    await error_of(await hub.client.patch("/api/meetings/" + "0" * 32, headers=admin, json={"title": "x"}),
                   404, "not_found")

    # ?status= filters; an unknown status is invalid.
    resp = await hub.client.post(f"/api/meetings/{adhoc['id']}/status", headers=admin, json={"status": "open"})
    assert resp.status == 200
    resp = await hub.client.get("/api/meetings?status=open", headers=admin)
    assert [m["id"] for m in await resp.json()] == [adhoc["id"]]
    resp = await hub.client.get("/api/meetings?status=scheduled&limit=1", headers=admin)
    assert [m["id"] for m in await resp.json()] == [plain["id"]]
    await error_of(await hub.client.get("/api/meetings?status=over", headers=admin), 400, "invalid")
    await error_of(await hub.client.get("/api/meetings?limit=0", headers=admin), 400, "invalid")


async def test_status_moves_forward_only_and_is_broadcast(hub):
    mid = (await create(hub, title="委员会会议"))["id"]
    chair = await hub.participant(mid, "主任", "chair")
    member = await hub.participant(mid, "委员甲", "member")
    watcher = await hub.connect(member["token"])
    admin = hub.admin_headers()
    status = f"/api/meetings/{mid}/status"
    try:
        # A scheduled meeting admits, as meetings always did.
        sync = await watcher.call("state:sync")
        assert sync["ok"] and sync["meeting"]["status"] == "scheduled" and sync["meeting"]["kind"] == "committee"
        resp = await hub.client.post(status, headers=admin, json={"status": "open"})
        opened = await resp.json()
        assert resp.status == 200 and opened["status"] == "open" and opened["opened_at"]
        event = await watcher.wait_for("meeting:status", lambda d: d["status"] == "open")
        assert event["seq"] >= 1 and event["opened_at"] == opened["opened_at"] and event["closed_at"] is None

        for back in ("open", "scheduled"):
            message = await error_of(await hub.client.post(status, headers=admin, json={"status": back}), 409, "conflict")
            assert "forward" in message
        resp = await hub.client.post(status, headers=admin, json={"status": "started"})
        assert resp.status == 200 and (await resp.json())["started_at"]
        started = await watcher.wait_for("meeting:status", lambda d: d["status"] == "started")
        assert started["seq"] > event["seq"]
        await error_of(await hub.client.post(status, headers=admin, json={"status": "open"}), 409, "conflict")
        await error_of(await hub.client.post(status, headers=admin, json={"status": "ended"}), 400, "invalid")

        # Closing: the event reaches the client, then its connection is closed.
        resp = await hub.client.post(status, headers=admin, json={"status": "closed"})
        closed = await resp.json()
        assert resp.status == 200 and closed["status"] == "closed" and closed["closed_at"]
        final = await watcher.wait_for("meeting:status", lambda d: d["status"] == "closed")
        assert final["seq"] > started["seq"]
        await wait_until(lambda: not watcher.sio.connected, timeout=10)
    finally:
        await watcher.close()

    await error_of(await hub.client.post(status, headers=admin, json={"status": "closed"}), 409, "conflict")
    await error_of(await hub.client.patch(f"/api/meetings/{mid}", headers=admin, json={"title": "y"}), 409, "closed")
    # A closed meeting refuses every connect, with why.
    for token in (member["token"], chair["token"]):
        reason = await connect_error(hub.url, {"token": token})
        assert reason == MEETING_CLOSED and "会议已结束" in reason
    # REST with a join link keeps working for the grace (papers, results)…
    member_auth = {"Authorization": f"Bearer {member['token']}"}
    resp = await hub.client.get(f"/api/meetings/{mid}", headers=member_auth)
    assert resp.status == 200 and (await resp.json())["status"] == "closed"
    # …and stops after it.
    async with hub.hub.db.transaction() as tx:
        await tx.execute(update(Meeting).where(Meeting.id == mid)
                         .values(closed_at=utcnow() - LINK_GRACE - timedelta(minutes=1)))
    message = await error_of(await hub.client.get(f"/api/meetings/{mid}", headers=member_auth), 401, "unauthorized")
    assert "会议已结束" in message and "expired" in message
    # The log holds the moves under their wire name.
    resp = await hub.client.get("/api/meetings?status=closed", headers=admin)
    assert [m["id"] for m in await resp.json()] == [mid]


async def test_skipping_steps_is_forward(hub):
    mid = (await create(hub))["id"]
    resp = await hub.client.post(f"/api/meetings/{mid}/status", headers=hub.admin_headers(), json={"status": "started"})
    body = await resp.json()
    assert resp.status == 200 and body["status"] == "started" and body["opened_at"] == body["started_at"]
    other = (await create(hub))["id"]
    resp = await hub.client.post(f"/api/meetings/{other}/status", headers=hub.admin_headers(), json={"status": "closed"})
    body = await resp.json()
    assert resp.status == 200 and body["closed_at"] and body["opened_at"] is None and body["started_at"] is None


async def test_only_staff_and_operators_only_their_own(hub):
    city = await hub.site("市人大常委会", "city")
    district = await hub.site("东城区人大", "district", city["id"])
    mid = (await create(hub, title="管理员的会"))["id"]
    member = await hub.participant(mid, "委员甲", "member")
    chair = await hub.participant(mid, "主任", "chair")
    for token in (member["token"], chair["token"]):
        auth = {"Authorization": f"Bearer {token}"}
        for method, path, body in (
            ("GET", "/api/meetings", None),
            ("PATCH", f"/api/meetings/{mid}", {"title": "x"}),
            ("POST", f"/api/meetings/{mid}/status", {"status": "open"}),
        ):
            resp = await hub.client.request(method, path, json=body, headers=auth)
            await error_of(resp, 403, "forbidden")
    await error_of(await hub.client.get("/api/meetings"), 401, "unauthorized")

    await make_account(hub, "east-office", "operator-password-1", district["id"])
    operator = await session_token(hub, "east-office", "operator-password-1")
    status, own = await call(hub, "POST", "/api/meetings", operator, {"title": "东城区代表座谈", "kind": "adhoc"})
    assert status == 201, own
    status, listed = await call(hub, "GET", "/api/meetings", operator)
    assert status == 200 and [m["id"] for m in listed] == [own["id"]]  # not the admin's
    status, _ = await call(hub, "PATCH", f"/api/meetings/{own['id']}", operator, {"title": "东城区代表座谈会"})
    assert status == 200
    status, moved = await call(hub, "POST", f"/api/meetings/{own['id']}/status", operator, {"status": "open"})
    assert status == 200 and moved["status"] == "open"
    for method, path, body in (
        ("PATCH", f"/api/meetings/{mid}", {"title": "x"}),
        ("POST", f"/api/meetings/{mid}/status", {"status": "open"}),
    ):
        status, answer = await call(hub, method, path, operator, body)
        assert status == 403 and answer["error"]["code"] == "forbidden", (path, answer)
    resp = await hub.client.get("/api/meetings", headers=hub.admin_headers())
    assert {m["id"] for m in await resp.json()} == {mid, own["id"]}


async def test_closing_finishes_open_votes_and_the_inquiry_before_letting_sites_go(hub, clients):
    """A vote still open and a turn still running when the office closes the
    meeting: every site gets the vote's result and the closed topic, and only
    then loses its connection; nothing is left running in the record."""
    mid = (await create(hub, title="专题询问", kind="inquiry"))["id"]
    env = await hub.site("生态环境局", "department")
    people = {
        "chair": await hub.participant(mid, "主任", "chair"),
        "m1": await hub.participant(mid, "委员甲", "member"),
        "m2": await hub.participant(mid, "委员乙", "member"),
        "r1": await hub.participant(mid, "环境局长", "respondent", env["id"]),
    }
    conns = {key: await hub.connect(p["token"]) for key, p in people.items()}
    clients.extend(conns.values())
    chair, m1, m2 = conns["chair"], conns["m1"], conns["m2"]

    opened = await chair.call("vote:open", {"subject": "对环境局的满意度测评", "secret": True})
    assert opened["ok"], opened
    vid = opened["vote_id"]
    assert (await m1.call("vote:cast", {"vote_id": vid, "choice": "基本满意"}))["ok"]
    topic = await chair.call("inquiry:command", {"action": "open_topic", "title": "大气污染防治",
                                                "respondents": [people["r1"]["id"]]})
    granted = await chair.call("inquiry:command", {"action": "grant", "participant": people["m1"]["id"]})
    assert topic["ok"] and granted["ok"], (topic, granted)

    resp = await hub.client.post(f"/api/meetings/{mid}/status", headers=hub.admin_headers(), json={"status": "closed"})
    assert resp.status == 200, await resp.text()
    status = await m2.wait_for("meeting:status", lambda d: d["status"] == "closed")
    result = await m2.wait_for("vote:result", lambda d: d["vote_id"] == vid)
    assert result["cast"] == 1 and result["counts"]["基本满意"] == 1 and result["eligible"] == 2
    assert result["seq"] > status["seq"]
    ended = await m2.wait_for("inquiry:state", lambda s: s["seq"] > granted["seq"])
    assert (ended["topic"], ended["stage"], ended["timer"], ended["speaker"]) == (None, "idle", None, None)
    await wait_until(lambda: not any(c.sio.connected for c in conns.values()), timeout=10)

    # The record: the vote closed by whoever closed the meeting; its result
    # and the closed topic logged once each, after the status.
    async with hub.hub.db.read() as session:
        vote = await session.get(Vote, vid)
        types = await logged_types(session, mid)
    assert (vote.status, vote.closed_by, vote.cast) == ("closed", ADMIN_SUB, 1)
    closing = types[types.index("meeting:status", types.index("vote:opened")):]
    closing = [t for t in closing if t != "roster"]
    assert closing[0] == "meeting:status" and sorted(closing[1:]) == ["inquiry:topic_closed", "vote:result"]


async def test_a_vote_and_a_topic_of_a_meeting_closed_elsewhere_are_closed_by_the_sweeps(hub, clients):
    """The process that closed the meeting died before it could close the
    vote and the topic: any process's vote sweep and inquiry clock find them
    and close each exactly once."""
    mid = (await create(hub, title="委员会会议"))["id"]
    env = await hub.site("生态环境局", "department")
    chair = await hub.participant(mid, "主任", "chair")
    member = await hub.participant(mid, "委员甲", "member")
    respondent = await hub.participant(mid, "环境局长", "respondent", env["id"])
    cc, mc = await hub.connect(chair["token"]), await hub.connect(member["token"])
    clients.extend([cc, mc])
    opened = await cc.call("vote:open", {"subject": "测评", "secret": False})
    assert opened["ok"], opened
    assert (await mc.call("vote:cast", {"vote_id": opened["vote_id"], "choice": "满意"}))["ok"]
    topic = await cc.call("inquiry:command", {"action": "open_topic", "title": "议题", "respondents": [respondent["id"]]})
    assert topic["ok"], topic
    async with hub.hub.db.transaction() as tx:  # as the dead process left it: closed, vote and topic still open
        await tx.execute(update(Meeting).where(Meeting.id == mid).values(status="closed", closed_at=utcnow()))
    result = await mc.wait_for("vote:result", lambda d: d["vote_id"] == opened["vote_id"], timeout=5)
    assert result["cast"] == 1 and result["counts"]["满意"] == 1
    ended = await mc.wait_for("inquiry:state", lambda s: s["seq"] > topic["seq"] and s["topic"] is None, timeout=5)
    assert ended["stage"] == "idle"
    async with hub.hub.db.read() as session:
        types = await logged_types(session, mid)
    assert types.count("vote:result") == 1 and types.count("inquiry:topic_closed") == 1
