"""Join links: listed and printed the same every time, re-issued (the old
one stops on REST and on connect, and its live connection is closed),
expiring after the meeting; QR codes; staff only."""
from __future__ import annotations

import re
import time
from datetime import datetime, timedelta, timezone

import jwt

from sessions.meetings.invitations import LINK_GRACE, REPLACED
from tests.accounts.kit import call, make_account, session_token
from tests.conftest import SECRET
from tests.core.test_rest import error_of
from tests.helpers import connect_error, wait_until


def claims(token: str) -> dict:
    return jwt.decode(token, SECRET, algorithms=["HS256"])


def token_of(join_url: str) -> str:
    return join_url.split("token=", 1)[1]


async def get(hub, path: str, token: str | None = None):
    headers = {"Authorization": f"Bearer {token}"} if token else hub.admin_headers()
    return await hub.client.get(path, headers=headers)


async def meeting_with_people(hub, **schedule) -> tuple[str, dict[str, dict]]:
    mid = (await hub.post("/api/meetings", {"title": "专题询问 <交通> & 出行", "kind": "inquiry", **schedule}))["id"]
    dept = await hub.site("市交通运输局", "department")
    people = {
        "chair": await hub.participant(mid, "主任", "chair"),
        "member": await hub.participant(mid, "委员<b>甲</b>", "member"),
        "respondent": await hub.participant(mid, "交通局局长", "respondent", dept["id"]),
    }
    return mid, people


async def test_the_list_is_the_links_handed_out_and_reproducible(hub):
    starts = datetime(2030, 5, 6, 1, 0, tzinfo=timezone.utc)
    mid, people = await meeting_with_people(hub, starts_at=starts.isoformat(),
                                            ends_at=(starts + timedelta(hours=3)).isoformat())
    resp = await get(hub, f"/api/meetings/{mid}/invitations")
    listed = await resp.json()
    assert resp.status == 200 and resp.headers["Cache-Control"] == "no-store"
    assert [i["name"] for i in listed] == ["主任", "委员<b>甲</b>", "交通局局长"]
    assert [i["role"] for i in listed] == ["chair", "member", "respondent"]
    assert listed[2]["site"]["name"] == "市交通运输局" and listed[0]["site"] is None
    # The same link as POST /participants answered, and the same again next time.
    assert [i["join_url"] for i in listed] == [p["join_url"] for p in people.values()]
    assert await (await get(hub, f"/api/meetings/{mid}/invitations")).json() == listed
    # exp: the scheduled end + the grace.
    token = people["member"]["token"]
    assert claims(token)["exp"] == int((starts + timedelta(hours=3) + LINK_GRACE).timestamp())
    assert claims(token)["gen"] == 0 and listed[1]["expires_at"] == (starts + timedelta(hours=3) + LINK_GRACE).isoformat()
    # Only a start: the meeting is taken to last a day.
    mid2 = (await hub.post("/api/meetings", {"title": "x", "starts_at": starts.isoformat()}))["id"]
    other = await hub.participant(mid2, "列席者", "observer")
    assert claims(other["token"])["exp"] == int((starts + timedelta(days=1) + LINK_GRACE).timestamp())
    # No schedule: 30 days, as join links always were.
    mid3 = (await hub.post("/api/meetings", {"title": "y"}))["id"]
    loose = await hub.participant(mid3, "乙", "member")
    assert abs(claims(loose["token"])["exp"] - (time.time() + 30 * 86400)) < 60


async def test_reissue_stops_the_old_link_everywhere(hub):
    mid, people = await meeting_with_people(hub)
    member = people["member"]
    live = await hub.connect(member["token"])
    admin = hub.admin_headers()
    try:
        assert (await live.call("state:sync"))["ok"]
        resp = await hub.client.post(f"/api/meetings/{mid}/participants/{member['id']}/reissue", json={}, headers=admin)
        fresh = await resp.json()
        assert resp.status == 201, fresh
        assert fresh["participant_id"] == member["id"] and fresh["generation"] == 1
        assert fresh["token"] != member["token"] and fresh["join_url"].endswith(fresh["token"])
        assert claims(fresh["token"])["gen"] == 1
        # The connection made with the old link is closed.
        await wait_until(lambda: not live.sio.connected, timeout=10)
    finally:
        await live.close()
    # The old link: 401 on REST, refused on connect, with why.
    message = await error_of(await get(hub, f"/api/meetings/{mid}", member["token"]), 401, "unauthorized")
    assert message == REPLACED
    assert await connect_error(hub.url, {"token": member["token"]}) == REPLACED
    # The new one works, and the list now shows it; the others' links did not change.
    assert (await get(hub, f"/api/meetings/{mid}", fresh["token"])).status == 200
    again = await hub.connect(fresh["token"])
    try:
        assert (await again.call("state:sync"))["me"]["id"] == member["id"]
    finally:
        await again.close()
    listed = await (await get(hub, f"/api/meetings/{mid}/invitations")).json()
    assert [i["join_url"] for i in listed] == [people["chair"]["join_url"], fresh["join_url"],
                                               people["respondent"]["join_url"]]
    assert (await get(hub, f"/api/meetings/{mid}", people["chair"]["token"])).status == 200
    # Unknown participant, another meeting's participant, a closed meeting.
    other_mid = (await hub.post("/api/meetings", {"title": "另一个会"}))["id"]
    stranger = await hub.participant(other_mid, "外人", "member")
    for pid in ("0" * 32, stranger["id"]):
        await error_of(await hub.client.post(f"/api/meetings/{mid}/participants/{pid}/reissue", json={},
                                             headers=admin), 404, "not_found")
    await hub.client.post(f"/api/meetings/{mid}/status", json={"status": "closed"}, headers=admin)
    await error_of(await hub.client.post(f"/api/meetings/{mid}/participants/{member['id']}/reissue", json={},
                                         headers=admin), 409, "closed")


async def test_links_expire_after_the_meeting(hub):
    ended = datetime.now(timezone.utc) - LINK_GRACE - timedelta(hours=2)
    mid, people = await meeting_with_people(hub, starts_at=(ended - timedelta(hours=3)).isoformat(),
                                            ends_at=ended.isoformat())
    token = people["member"]["token"]
    assert claims_expired(token)
    message = await error_of(await get(hub, f"/api/meetings/{mid}", token), 401, "unauthorized")
    assert "expired" in message
    assert "expired" in await connect_error(hub.url, {"token": token})
    # Moving the end later signs links that work again (same generation).
    resp = await hub.client.patch(f"/api/meetings/{mid}", headers=hub.admin_headers(),
                                  json={"ends_at": (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat()})
    assert resp.status == 200
    listed = await (await get(hub, f"/api/meetings/{mid}/invitations")).json()
    assert (await get(hub, f"/api/meetings/{mid}", token_of(listed[1]["join_url"]))).status == 200


def claims_expired(token: str) -> bool:
    return jwt.decode(token, SECRET, algorithms=["HS256"], options={"verify_exp": False})["exp"] < time.time()


async def test_qr_codes_and_the_printable_list(hub):
    mid, people = await meeting_with_people(hub, starts_at="2030-05-06T09:00:00+08:00")
    resp = await get(hub, f"/api/meetings/{mid}/participants/{people['member']['id']}/qr.svg")
    svg = await resp.text()
    assert resp.status == 200 and resp.content_type == "image/svg+xml"
    assert resp.headers["Cache-Control"] == "no-store"
    assert svg.startswith("<?xml") and "<svg" in svg and "<path" in svg and svg.rstrip().endswith("</svg>")
    # No decoder here: the code's size follows the text's length (QR versions).
    sizes = {}
    for n in (20, 300, 1200):
        resp = await hub.client.post("/api/qr", json={"text": "x" * n}, headers=hub.admin_headers())
        assert resp.status == 200 and resp.content_type == "image/svg+xml"
        sizes[n] = int(re.search(r'width="(\d+)"', await resp.text()).group(1))
    assert sizes[20] < sizes[300] < sizes[1200]
    participant_width = int(re.search(r'width="(\d+)"', svg).group(1))
    assert participant_width == sizes[300] or sizes[20] < participant_width < sizes[1200]
    await error_of(await hub.client.post("/api/qr", json={"text": ""}, headers=hub.admin_headers()), 400, "invalid")
    await error_of(await hub.client.post("/api/qr", json={"text": "x" * 5000}, headers=hub.admin_headers()),
                   400, "invalid")

    # The printable list opens from a plain link (?token=), is escaped, and
    # has a card with a QR code for each invitee.
    admin_token = hub.tokens.admin_token()
    resp = await hub.client.get(f"/api/meetings/{mid}/invitations.html?token={admin_token}")
    page = await resp.text()
    assert resp.status == 200 and resp.content_type == "text/html" and resp.charset == "utf-8"
    assert resp.headers["Cache-Control"] == "no-store"
    assert "委员&lt;b&gt;甲&lt;/b&gt;" in page and "<b>甲" not in page
    assert "专题询问 &lt;交通&gt; &amp; 出行" in page
    for name in ("主任", "交通局局长"):
        assert name in page
    assert page.count("<svg") == 3 == page.count('class="card"')
    for role in ("主持人", "委员", "应询部门"):
        assert role in page
    assert "市交通运输局" in page, page[:3000]
    assert "2030-05-06 09:00" in page, page[:1500]  # Asia/Shanghai by default
    for p in people.values():
        assert p["join_url"] in page
    assert "@page" in page and "A4" in page
    utc = await (await hub.client.get(f"/api/meetings/{mid}/invitations.html?tz=UTC&token={admin_token}")).text()
    assert "2030-05-06 01:00" in utc
    await error_of(await hub.client.get(f"/api/meetings/{mid}/invitations.html?tz=Mars/Olympus&token={admin_token}"),
                   400, "invalid")


async def test_invitations_are_for_staff_only(hub):
    mid, people = await meeting_with_people(hub)
    pid = people["member"]["id"]
    paths = [
        ("GET", f"/api/meetings/{mid}/invitations", None),
        ("GET", f"/api/meetings/{mid}/invitations.html", None),
        ("GET", f"/api/meetings/{mid}/participants/{pid}/qr.svg", None),
        ("POST", f"/api/meetings/{mid}/participants/{pid}/reissue", {}),
        ("POST", "/api/qr", {"text": "hello"}),
    ]
    for role in ("member", "chair"):
        auth = {"Authorization": f"Bearer {people[role]['token']}"}
        for method, path, body in paths:
            await error_of(await hub.client.request(method, path, json=body, headers=auth), 403, "forbidden")
        resp = await hub.client.get(f"/api/meetings/{mid}/invitations.html?token={people[role]['token']}")
        await error_of(resp, 403, "forbidden")
    for method, path, body in paths:
        await error_of(await hub.client.request(method, path, json=body), 401, "unauthorized")
    # Nothing was re-issued by the refused calls.
    assert (await get(hub, f"/api/meetings/{mid}", people["member"]["token"])).status == 200

    # An operator: its own meeting's links, not the admin's.
    city = await hub.site("市人大常委会", "city")
    await make_account(hub, "city-office", "operator-password-2", city["id"])
    operator = await session_token(hub, "city-office", "operator-password-2")
    status, own = await call(hub, "POST", "/api/meetings", operator, {"title": "座谈"})
    status, guest = await call(hub, "POST", f"/api/meetings/{own['id']}/participants", operator,
                               {"name": "代表丙", "role": "deputy"})
    assert status == 201, guest
    status, listed = await call(hub, "GET", f"/api/meetings/{own['id']}/invitations", operator)
    assert status == 200 and [i["join_url"] for i in listed] == [guest["join_url"]]
    status, _ = await call(hub, "POST", f"/api/meetings/{own['id']}/participants/{guest['id']}/reissue", operator, {})
    assert status == 201
    resp = await hub.client.post("/api/qr", json={"text": "http://example/terminal?token=abc"},
                                 headers={"Authorization": f"Bearer {operator}"})
    assert resp.status == 200 and "<svg" in await resp.text()
    for method, path, body in paths[:4]:
        status, answer = await call(hub, method, path, operator, body)
        assert status == 403, (path, answer)
