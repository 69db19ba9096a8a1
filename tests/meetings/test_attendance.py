"""Attendance (出席情况) folded from the roster events (sessions/attendance.py):
the pure fold, the minutes' `attendance` and its printed section, and a
person's meetings' `attended`, on SQLite and PostgreSQL with real clients."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sessions.attendance import fold
from web import minutes_page

T0 = datetime(2026, 11, 28, 9, 0, 0, tzinfo=timezone.utc)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def roster(seconds: float, *online: str) -> tuple[datetime, dict]:
    return at(seconds), {"online": sorted(online), "people": "5:x"}


# -- the pure fold ----------------------------------------------------------------------------


def test_join_leave_rejoin_still_online_and_never_joined():
    events = [
        roster(0, "chair"),
        roster(10, "chair", "m1"),          # m1 joins
        roster(70, "chair"),                # m1 leaves after 60 s
        roster(100, "chair", "m1", "r1"),   # m1 is back; r1 joins
        roster(130, "chair", "m1"),         # r1 leaves for good
    ]
    people = fold(events, at(200))  # the meeting closed (or it is now) at 200 s
    chair, m1, r1 = people["chair"], people["m1"], people["r1"]
    assert chair.present and chair.joins == 1 and chair.first_joined_at == at(0)
    assert chair.last_left_at is None and chair.online_s == 200
    assert m1.present and m1.joins == 2 and m1.first_joined_at == at(10)
    assert m1.last_left_at is None  # still online at the end
    assert m1.online_s == 60 + 100
    assert r1.joins == 1 and r1.last_left_at == at(130) and r1.online_s == 30
    assert "m2" not in people  # never joined: nothing to say about them


def test_everyone_left_before_the_end_and_naive_times():
    naive = [(t.replace(tzinfo=None), p) for t, p in (roster(0, "a"), roster(5, "a", "b"), roster(9))]
    people = fold(naive, at(60))
    assert people["a"].online_s == 9 and people["a"].last_left_at == at(9)
    assert people["b"].online_s == 4 and people["b"].joins == 1 and people["b"].last_left_at == at(9)
    assert fold([], at(60)) == {}


def test_the_page_prints_attendance_escaped():
    attendance = {"expected": 3, "present": 2, "absent": 1, "people": [
        {"participant_id": "c", "name": "主任", "role": "chair", "site": None, "present": True,
         "first_joined_at": T0.isoformat(), "last_left_at": None, "online_s": 3725.0, "joins": 1},
        {"participant_id": "m", "name": "<b>委员甲</b>", "role": "member", "site": {"name": "东城站"},
         "present": True, "first_joined_at": at(60).isoformat(), "last_left_at": at(120).isoformat(),
         "online_s": 61.0, "joins": 2},
        {"participant_id": "x", "name": "委员乙", "role": "member", "site": None, "present": False,
         "first_joined_at": None, "last_left_at": None, "online_s": 0.0, "joins": 0},
        {"participant_id": "r", "name": "环境局长", "role": "respondent", "site": None, "present": True,
         "first_joined_at": T0.isoformat(), "last_left_at": None, "online_s": 5.0, "joins": 1},
    ]}
    minutes = {"meeting": {"title": "会", "starts_at": None}, "attendance": attendance, "topics": [],
               "votes": [], "recordings": []}
    page = minutes_page.render(minutes, minutes_page.zone_of("Asia/Shanghai"), "Asia/Shanghai")
    assert "出席情况" in page and "应到 3 人，实到 2 人，缺席 1 人" in page
    assert page.index("出席情况") < page.index("录像")  # near the top
    assert "&lt;b&gt;委员甲&lt;/b&gt;" in page and "<b>委员甲" not in page
    assert "1:02:05" in page and "01:01" in page and "17:00:00" in page  # h:mm:ss, mm:ss, Shanghai time
    assert "缺席：委员乙" in page
    assert "环境局长" not in page  # respondents are not the meeting's members


# -- through a real hub ---------------------------------------------------------------------


def online_in(roster_event: dict, pid: str) -> bool:
    return any(p["id"] == pid and p["online"] for p in roster_event["participants"])


async def test_minutes_say_who_attended(hub, clients):
    mid = await hub.meeting("常委会第五次会议")
    district = await hub.site("东城区人大常委会", "district")
    station = await hub.site("东城代表联络站", "station", district["id"])
    people = {
        "chair": await hub.participant(mid, "主任", "chair"),
        "clerk": await hub.participant(mid, "秘书长", "clerk"),
        "m1": await hub.participant(mid, "委员甲", "member"),
        "m2": await hub.participant(mid, "委员乙 <缺>", "member"),
        "d1": await hub.participant(mid, "代表丙", "deputy", station["id"]),
        "r1": await hub.participant(mid, "环境局长", "respondent"),
        "screen": await hub.participant(mid, "大屏幕", "observer"),
    }
    ids = {k: p["id"] for k, p in people.items()}
    chair = await hub.connect(people["chair"]["token"])
    clients.append(chair)

    async def join(key: str):
        client = await hub.connect(people[key]["token"])
        clients.append(client)
        await chair.wait_for("roster", lambda r: online_in(r, ids[key]))
        return client

    async def leave(key: str, client) -> None:
        seen = len(chair.received["roster"])
        await client.close()
        await chair.wait_for("roster", lambda r: r in chair.received["roster"][seen:] and not online_in(r, ids[key]))

    m1 = await join("m1")
    await leave("m1", m1)
    await join("m1")  # back again
    d1 = await join("d1")
    await leave("d1", d1)
    await join("r1")

    auth = {"Authorization": f"Bearer {people['clerk']['token']}"}
    resp = await hub.client.get(f"/api/meetings/{mid}/minutes", headers=auth)
    assert resp.status == 200, await resp.text()
    attendance = (await resp.json())["attendance"]
    assert (attendance["expected"], attendance["present"], attendance["absent"]) == (4, 3, 1), attendance
    by_id = {p["participant_id"]: p for p in attendance["people"]}
    assert [p["participant_id"] for p in attendance["people"]] == list(ids.values())  # roster order
    assert by_id[ids["m1"]]["present"] and by_id[ids["m1"]]["joins"] == 2
    assert by_id[ids["m1"]]["last_left_at"] is None  # still here
    assert by_id[ids["d1"]]["joins"] == 1 and by_id[ids["d1"]]["last_left_at"] is not None
    assert by_id[ids["d1"]]["site"]["name"] == "东城代表联络站"
    assert not by_id[ids["m2"]]["present"] and by_id[ids["m2"]]["joins"] == 0
    assert by_id[ids["m2"]]["first_joined_at"] is None and by_id[ids["m2"]]["online_s"] == 0
    assert by_id[ids["chair"]]["online_s"] > 0 and by_id[ids["chair"]]["first_joined_at"].endswith("+00:00")
    assert by_id[ids["r1"]]["present"] and not by_id[ids["screen"]]["present"]  # listed, not counted

    resp = await hub.client.get(f"/api/meetings/{mid}/minutes.html", headers=auth)
    assert resp.status == 200
    page = await resp.text()
    assert "出席情况" in page and "应到 4 人，实到 3 人，缺席 1 人" in page
    assert "缺席：委员乙 &lt;缺&gt;" in page


async def test_a_persons_meetings_say_attended_or_absent(hub, clients):
    person = await hub.post("/api/people", {"name": "张伟"})
    first = await hub.meeting("第一次会议")
    second = await hub.meeting("第二次会议")
    came = (await hub.post(f"/api/meetings/{first}/participants/bulk", {"people": [person["id"]]}))["created"][0]
    await hub.post(f"/api/meetings/{second}/participants/bulk", {"people": [person["id"]]})
    chair = await hub.participant(first, "主任", "chair")
    watcher = await hub.connect(chair["token"])
    clients.append(watcher)
    client = await hub.connect(came["token"])
    clients.append(client)
    await watcher.wait_for("roster", lambda r: online_in(r, came["id"]))
    await client.close()  # attended stays true after they left
    await watcher.wait_for("roster", lambda r: not online_in(r, came["id"]) and any(
        online_in(earlier, came["id"]) for earlier in watcher.received["roster"][:watcher.received["roster"].index(r)]))

    resp = await hub.client.get(f"/api/people/{person['id']}", headers=hub.admin_headers())
    assert resp.status == 200
    history = {m["meeting_id"]: m for m in (await resp.json())["meetings"]}
    assert history[first]["attended"] is True and history[first]["online"] is False
    assert history[second]["attended"] is False
