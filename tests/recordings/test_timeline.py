"""The recording's timeline (recordings/timeline.py): from the log alone, and
from a real meeting run over real sockets while `recording:start` records it."""
from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

from recordings.models import Recording
from recordings.timeline import build_timeline, timeline_entries, to_jsonl
from sessions.events import LoggedEvent

T0 = datetime(2026, 11, 28, 9, 0, 0, tzinfo=timezone.utc)
MID = "m"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def epoch(seconds: float) -> float:
    return at(seconds).timestamp()


def person(pid: str, name: str, role: str, site: str | None = None, kind: str | None = None) -> dict:
    return {"id": pid, "name": name, "role": role,
            "site": {"id": "s-" + pid, "name": site, "kind": kind, "parent_id": None} if site else None}


PEOPLE = {
    "chair": person("chair", "主任", "chair"),
    "m1": person("m1", "委员甲", "member"),
    "m2": person("m2", "委员乙", "member"),
    "r1": person("r1", "环境局长", "respondent", "生态环境局", "department"),
}


class Log:
    def __init__(self) -> None:
        self.events: list[LoggedEvent] = []

    def add(self, seconds: float, type: str, payload: dict) -> LoggedEvent:
        event = LoggedEvent(MID, len(self.events) + 1, type, payload, at(seconds))
        self.events.append(event)
        return event


def opened_topic(log: Log, seconds: float) -> None:
    log.add(seconds, "inquiry:topic_opened", {
        "topic_id": "t1", "title": "大气污染防治", "respondents": ["r1"], "report_s": 600, "question_s": 120,
        "answer_s": 240, "follow_ups": 1, "allow_deputies": True, "at": epoch(seconds)})


def test_state_at_the_start_then_every_change_at_its_own_offset():
    log = Log()
    log.add(-30, "roster", {"online": ["chair", "r1"], "people": "2:x"})
    opened_topic(log, -20)
    log.add(-10, "media:tracks", {"tracks": [{"id": "a", "participant_id": "r1", "kind": "audio", "source": "mic"}]})
    # The report's timer started 5 ms before its row was written: its own instant counts.
    log.add(-4.995, "inquiry:report_started", {"respondent": "r1", "started_at": epoch(-5), "duration_s": 600})
    log.add(0.001, "recording:state", {"recording": True, "recording_id": "rec", "started_at": T0.isoformat(),
                                        "error": None})
    log.add(2.0, "roster", {"online": ["chair", "m1", "r1"], "people": "2:x"})
    log.add(2.5, "roster", {"online": ["chair", "m1", "r1"], "people": "2:x"})  # nothing changed
    log.add(3.2, "inquiry:turn_ended", {"stage": "report", "at": epoch(3.2)})
    log.add(4.001, "inquiry:granted", {"participant": "m1", "started_at": epoch(4.0), "duration_s": 120})
    log.add(6.0, "inquiry:answer_started", {"respondent": "r1", "started_at": epoch(6.0), "duration_s": 240})
    log.add(7.0, "media:tracks", {"tracks": [{"id": "v", "participant_id": "m1", "kind": "video", "source": "camera"}]})
    log.add(8.0, "vote:turnout", {"vote_id": "v1", "cast": 1, "eligible": 2})
    log.add(9.0, "roster", {"online": ["chair", "r1"], "people": "2:x"})
    log.add(10.0, "recording:state", {"recording": False, "recording_id": "rec", "started_at": T0.isoformat(),
                                      "error": None})  # logged just after stopped_at (9.9995)
    log.add(11.0, "inquiry:turn_ended", {"stage": "answer", "at": epoch(11.0)})  # after the stop

    entries = timeline_entries(log.events, PEOPLE, T0, at(9.9995))
    assert [(e["type"], e["offset_s"]) for e in entries] == [
        ("state", 0.0), ("recording:state", 0.001), ("roster", 2.0), ("inquiry:turn_ended", 3.2),
        ("inquiry:granted", 4.0), ("inquiry:answer_started", 6.0), ("media:tracks", 7.0), ("roster", 9.0),
        ("recording:state", 10.0),
    ]
    state = entries[0]
    assert state["seq"] == 4 and state["at"] == T0.isoformat()
    assert [p["name"] for p in state["online"]] == ["主任", "环境局长"]
    assert state["inquiry"]["topic"] == "大气污染防治" and state["inquiry"]["stage"] == "report"
    assert state["inquiry"]["speaker"] == {"id": "r1", "name": "环境局长", "role": "respondent",
                                           "site": "生态环境局", "site_kind": "department"}
    assert [t["id"] for t in state["tracks"]] == ["a"]

    by_type = {e["type"]: e for e in entries}
    assert [p["id"] for p in entries[2]["joined"]] == ["m1"] and entries[2]["left"] == []
    assert [p["id"] for p in entries[7]["left"]] == ["m1"] and entries[7]["joined"] == []
    granted = by_type["inquiry:granted"]
    assert granted["at"] == at(4.0).isoformat() and granted["seq"] == 9
    assert (granted["stage"], granted["speaker"]["name"], granted["allotted_s"], granted["topic"]) == (
        "question", "委员甲", 120.0, "大气污染防治")
    answer = by_type["inquiry:answer_started"]
    assert answer["speaker"]["site"] == "生态环境局" and answer["asked_by"]["name"] == "委员甲"
    assert by_type["inquiry:turn_ended"]["ended"] == "report"
    tracks = by_type["media:tracks"]
    assert [t["id"] for t in tracks["published"]] == ["v"] and [t["id"] for t in tracks["unpublished"]] == ["a"]
    assert tracks["published"][0]["participant"]["name"] == "委员甲"


def test_an_event_stamped_before_the_start_but_logged_after_it_is_at_zero():
    log = Log()
    log.add(0.0001, "recording:state", {"recording": True, "recording_id": "rec", "started_at": T0.isoformat(),
                                         "error": None})
    opened_topic(log, 0.5)
    log.add(0.6, "inquiry:granted", {"participant": "m1", "started_at": epoch(-0.002), "duration_s": 120})
    entries = timeline_entries(log.events, PEOPLE, T0, None)
    assert [(e["type"], e["offset_s"]) for e in entries] == [
        ("state", 0.0), ("recording:state", 0.0), ("inquiry:topic_opened", 0.5), ("inquiry:granted", 0.0)]


def test_votes_carry_aggregates_only_and_pages_name_their_paper():
    log = Log()
    log.add(1.0, "vote:opened", {"vote_id": "v1", "subject": "对生态环境局的满意度", "options": ["满意", "不满意"],
                                 "secret": True, "base": "eligible", "closes_at": None, "eligible_roles": ["member"],
                                 "batch_id": None, "respondent_id": "r1", "opened_at": at(1.0).isoformat()})
    # Were a payload ever to grow who chose what, the timeline still would not copy it.
    log.add(2.0, "vote:result", {"vote_id": "v1", "subject": "对生态环境局的满意度", "counts": {"满意": 1, "不满意": 1},
                                 "cast": 2, "eligible": 2, "present": 2, "verdict": None, "satisfaction_rate": None,
                                 "valid": True, "secret": True, "options": ["满意", "不满意"], "respondent_id": "r1",
                                 "voters": {"m1": "满意", "m2": "不满意"}, "ballots": [{"voter_id": "m1"}]})
    log.add(3.0, "doc:shared", {"document": {"id": "d1", "title": "年度报告", "pages": 12}, "roles": [],
                                "participants": []})
    log.add(3.5, "doc:presenter", {"participant_id": "m2"})
    log.add(4.0, "doc:page", {"document_id": "d1", "page": 3, "presenter": "chair"})
    entries = timeline_entries(log.events, PEOPLE, T0, at(10))
    result = next(e for e in entries if e["type"] == "vote:result")
    assert result["counts"] == {"满意": 1, "不满意": 1} and result["cast"] == 2 and result["secret"] is True
    assert result["respondent"]["name"] == "环境局长"
    text = to_jsonl([e for e in entries if e["type"].startswith("vote:")]).decode()
    assert "m1" not in text and "m2" not in text and "voter" not in text
    page = next(e for e in entries if e["type"] == "doc:page")
    assert (page["title"], page["page"], page["presenter"]["name"]) == ("年度报告", 3, "主任")
    assert next(e for e in entries if e["type"] == "doc:presenter")["presenter"]["name"] == "委员乙"


def test_jsonl_is_one_utf8_object_per_line():
    entries = [{"offset_s": 0.0, "type": "state", "title": "大气\n污染"}, {"offset_s": 1.5, "type": "roster"}]
    data = to_jsonl(entries)
    lines = data.split(b"\n")
    assert lines[-1] == b"" and len(lines) == 3
    assert [json.loads(line) for line in lines[:-1]] == entries
    assert "大气".encode() in data  # not \u escapes


# -- a real meeting through a real hub ---------------------------------------------------


async def test_a_recorded_meeting_becomes_its_timeline(hub, clients):
    mid = await hub.meeting()
    env = await hub.site("生态环境局", "department")
    people = {
        "chair": await hub.participant(mid, "主任", "chair"),
        "m1": await hub.participant(mid, "委员甲", "member"),
        "m2": await hub.participant(mid, "委员乙", "member"),
        "r1": await hub.participant(mid, "环境局长", "respondent", env["id"]),
    }
    ids = {k: p["id"] for k, p in people.items()}
    conns = {}
    for key in ("chair", "m1", "r1"):
        conns[key] = await hub.connect(people[key]["token"])
        clients.append(conns[key])
    chair = conns["chair"]
    before = {ids["chair"], ids["m1"], ids["r1"]}
    await chair.wait_for("roster", lambda r: {p["id"] for p in r["participants"] if p["online"]} == before)

    started = await chair.call("recording:start")
    assert started["ok"], started
    rid = started["recording_id"]
    state = await chair.wait_for("recording:state", lambda s: s["recording_id"] == rid and s["recording"])
    start = datetime.fromisoformat(state["started_at"]).timestamp()

    conns["m2"] = await hub.connect(people["m2"]["token"])
    clients.append(conns["m2"])
    joined = await chair.wait_for("roster", lambda r: any(p["id"] == ids["m2"] and p["online"]
                                                          for p in r["participants"]))

    timers: dict[int, float] = {}  # seq -> the timer's start, as every site saw it
    received: dict[int, float] = {}  # seq -> when the ack came back (wall clock)

    async def command(action: str, **fields) -> dict:
        ack = await chair.call("inquiry:command", {"action": action, **fields})
        assert ack["ok"], ack
        received[ack["seq"]] = time.time()
        s = await chair.wait_for("inquiry:state", lambda s: s["seq"] == ack["seq"])
        if s["timer"]:
            timers[ack["seq"]] = s["timer"]["started_at"]
        return s

    await command("open_topic", title="大气污染防治", respondents=[ids["r1"]])
    await command("start_report", respondent=ids["r1"])
    await command("end_turn")
    await command("grant", participant=ids["m1"])
    await command("answer", respondent=ids["r1"])
    await command("end_turn")

    opened = await chair.call("vote:open", {"subject": "对生态环境局的满意度", "secret": True})
    assert opened["ok"], opened
    vid = opened["vote_id"]
    for who, choice in (("m1", "满意"), ("m2", "不满意")):
        assert (await conns[who].call("vote:cast", {"vote_id": vid, "choice": choice}))["ok"]
    closed = await chair.call("vote:close", {"vote_id": vid})
    assert closed["ok"], closed

    await conns["m2"].close()
    await chair.wait_for("roster", lambda r: r["seq"] > joined["seq"] and not any(
        p["id"] == ids["m2"] and p["online"] for p in r["participants"]))
    stopped = await chair.call("recording:stop")
    assert stopped == {"ok": True, "recording_id": rid}

    async with hub.hub.db.read() as session:
        recording = await session.get(Recording, rid)
        entries = await build_timeline(session, recording)

    assert entries[0]["type"] == "state" and entries[0]["offset_s"] == 0.0
    assert {p["id"] for p in entries[0]["online"]} == before
    seqs = [e["seq"] for e in entries]
    assert seqs == sorted(seqs)

    by_seq = {e["seq"]: e for e in entries}
    # Each stage at its timer's own instant, to the millisecond, and near when it happened.
    assert len(timers) == 3
    for seq, timer_start in timers.items():
        entry = by_seq[seq]
        assert abs(entry["offset_s"] - (timer_start - start)) <= 0.002, (entry, timer_start - start)
        assert -0.5 < received[seq] - start - entry["offset_s"] < 1.0
    kinds = [(e["type"], e.get("speaker", {}).get("name") if e.get("speaker") else None)
             for e in entries if e["type"].startswith("inquiry:")]
    assert kinds == [
        ("inquiry:topic_opened", None), ("inquiry:report_started", "环境局长"), ("inquiry:turn_ended", "环境局长"),
        ("inquiry:granted", "委员甲"), ("inquiry:answer_started", "环境局长"), ("inquiry:turn_ended", "委员甲"),
    ]
    report = next(e for e in entries if e["type"] == "inquiry:report_started")
    assert report["speaker"]["site"] == "生态环境局" and report["speaker"]["site_kind"] == "department"

    # Joins and leaves, from the rosters; the offset is when the roster was logged.
    roster = [e for e in entries if e["type"] == "roster"]
    assert [p["id"] for p in roster[0]["joined"]] == [ids["m2"]]
    assert [p["id"] for p in roster[-1]["left"]] == [ids["m2"]] and roster[-1]["joined"] == []
    assert roster[0]["offset_s"] < by_seq[min(timers)]["offset_s"] < roster[-1]["offset_s"]

    # The secret vote: subject and counts; nothing ties a voter to a choice.
    votes = [e for e in entries if e["type"].startswith("vote:")]
    assert [e["type"] for e in votes] == ["vote:opened", "vote:result"]
    result = votes[1]
    assert result["counts"] == {"满意": 1, "基本满意": 0, "不满意": 1} and result["cast"] == 2
    assert result["verdict"] == closed["result"]["verdict"]
    closed_at = datetime.fromisoformat(closed["result"]["closed_at"]).timestamp() - start
    assert abs(result["offset_s"] - closed_at) < 0.05
    text = to_jsonl(votes).decode()
    assert ids["m1"] not in text and ids["m2"] not in text

    # The recording's own start and stop, the stop included although logged after stopped_at.
    states = [e for e in entries if e["type"] == "recording:state"]
    assert [(e["recording"], e["recording_id"]) for e in states] == [(True, rid), (False, rid)]
    stop_offset = (recording.stopped_at.replace(tzinfo=timezone.utc) if recording.stopped_at.tzinfo is None
                   else recording.stopped_at).timestamp() - start
    assert abs(states[-1]["offset_s"] - stop_offset) < 0.05
    assert all(e["offset_s"] <= states[-1]["offset_s"] for e in entries)
