"""The minutes linked to the recordings (recordings/links.py, `GET
/api/meetings/{mid}/minutes`) and their printable page (`…/minutes.html`)."""
from __future__ import annotations

import html
from datetime import datetime, timedelta, timezone

from recordings.links import Linker, MediaFile, RecordingSpan
from recordings.models import Recording, RecordingFile
from sessions.models import utcnow

T0 = datetime(2026, 11, 28, 9, 0, 0, tzinfo=timezone.utc)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def media(name: str, who: str, offset: float, duration: float | None, state: str = "complete",
          recording: str = "rec1") -> MediaFile:
    return MediaFile(recording, name, "media", who, offset, duration, state)


# -- the pure linker ------------------------------------------------------------------------


def test_a_moment_links_to_its_recording_and_the_speakers_file():
    linker = Linker(
        [RecordingSpan("rec1", T0, at(100)), RecordingSpan("rec2", at(200), None)],
        [
            media("r1-1.webm", "r1", 0.4, 50.0),
            media("r1-2.webm", "r1", 60.0, 30.0),
            media("m1-1.webm", "m1", 10.0, None, state="failed"),
            MediaFile("rec1", "timeline.jsonl", "timeline", None, 0.0, None, "complete"),
            media("m1-1.webm", "m1", 5.0, None, state="writing", recording="rec2"),
        ],
        now=at(300),
    )
    assert linker.link(at(20.25), "r1") == {"recording_id": "rec1", "offset_s": 20.25, "file": "r1-1.webm",
                                            "file_offset_s": 19.85}
    assert linker.link(at(65), "r1")["file"] == "r1-2.webm"
    assert linker.link(at(55), "r1")["file"] is None  # between two segments
    assert linker.link(at(0.2), "r1")["file"] is None  # before the file's first keyframe
    assert linker.link(at(20), "m1")["file"] is None  # a failed file links nothing
    assert linker.link(at(20), None) == {"recording_id": "rec1", "offset_s": 20.0, "file": None,
                                         "file_offset_s": None}
    assert linker.link(at(150), "r1") is None  # between the recordings
    assert linker.link(at(-1), "r1") is None
    # The running recording holds until now; a file still being written is open-ended.
    assert linker.link(at(290), "m1") == {"recording_id": "rec2", "offset_s": 90.0, "file": "m1-1.webm",
                                          "file_offset_s": 85.0}
    assert linker.link(at(301), "m1") is None
    assert linker.link(None, "m1") is None


def test_naive_utc_from_sqlite_links_the_same():
    naive = T0.replace(tzinfo=None)
    linker = Linker([RecordingSpan("rec1", naive, naive + timedelta(seconds=10))], [], now=at(50))
    assert linker.link(at(3), None)["offset_s"] == 3.0


# -- through a real hub ---------------------------------------------------------------------


async def test_minutes_link_the_recording_and_print(hub, clients):
    mid = await hub.meeting("2026年第四次常委会 <专题询问>")
    env = await hub.site("生态环境局", "department")
    people = {
        "chair": await hub.participant(mid, "主任", "chair"),
        "clerk": await hub.participant(mid, "秘书长", "clerk"),
        "m1": await hub.participant(mid, "委员甲", "member"),
        "m2": await hub.participant(mid, "委员乙", "member"),
        "r1": await hub.participant(mid, "环境局长", "respondent", env["id"]),
    }
    ids = {k: p["id"] for k, p in people.items()}
    conns = {}
    for key in ("chair", "m1", "m2", "r1"):
        conns[key] = await hub.connect(people[key]["token"])
        clients.append(conns[key])
    chair = conns["chair"]

    async def command(action: str, **fields) -> None:
        ack = await chair.call("inquiry:command", {"action": action, **fields})
        assert ack["ok"], ack

    await command("open_topic", title="<script>alert(1)</script>", respondents=[ids["r1"]])
    await command("start_report", respondent=ids["r1"])
    await command("end_turn")
    recording_start = utcnow()  # the report is before the recording; the rest is in it
    await command("grant", participant=ids["m1"])
    await command("answer", respondent=ids["r1"])
    await command("end_turn")
    opened = await chair.call("vote:open", {"subject": "对生态环境局的满意度", "secret": True})
    assert opened["ok"], opened
    for who, choice in (("m1", "满意"), ("m2", "满意")):
        assert (await conns[who].call("vote:cast", {"vote_id": opened["vote_id"], "choice": choice}))["ok"]
    closed = await chair.call("vote:close", {"vote_id": opened["vote_id"]})
    assert closed["ok"], closed
    recording_stop = utcnow()

    auth = {"Authorization": f"Bearer {people['clerk']['token']}"}

    async def get_minutes() -> dict:
        resp = await hub.client.get(f"/api/meetings/{mid}/minutes", headers=auth)
        assert resp.status == 200, await resp.text()
        return await resp.json()

    unrecorded = await get_minutes()
    assert unrecorded["recordings"] == [] and unrecorded["votes"][0]["recording"] is None
    assert all(s["recording"] is None for s in unrecorded["topics"][0]["segments"])
    answer_start = datetime.fromisoformat(unrecorded["topics"][0]["segments"][2]["started_at"])
    answer_offset = (answer_start - recording_start).total_seconds()

    # The rows the recorder would have written: the member's file from the
    # start (still being written), the department's in two segments (the
    # second began 0.25 s before its answer), one that failed.
    r1, m1, m2 = ids["r1"], ids["m1"], ids["m2"]
    async with hub.hub.db.transaction() as tx:
        tx.add(Recording(id="rec-a", meeting_id=mid, started_at=recording_start, stopped_at=recording_stop))
        for name, who, segment, offset, duration, state in (
            (f"{m1}-1.webm", m1, 1, 0.0, None, "writing"),
            (f"{r1}-1.webm", r1, 1, 0.0, answer_offset - 0.3, "complete"),
            (f"{r1}-2.webm", r1, 2, answer_offset - 0.25, 3600.0, "complete"),
            (f"{m2}-1.webm", m2, 1, 0.0, 3600.0, "failed"),
        ):
            tx.add(RecordingFile(recording_id="rec-a", name=name, kind="media", participant_id=who, tracks=[],
                                 offset_s=offset, duration_s=duration, state=state, segment=segment, bytes=0,
                                 created_at=recording_start, updated_at=recording_start))

    minutes = await get_minutes()
    assert minutes["recordings"] == [{"id": "rec-a", "started_at": recording_start.isoformat(),
                                      "stopped_at": recording_stop.isoformat()}]
    [topic] = minutes["topics"]
    segments = topic["segments"]
    assert [(s["kind"], s["speaker"]["id"]) for s in segments] == [("report", r1), ("question", m1), ("answer", r1)]
    assert segments[0]["recording"] is None  # before the recording started
    for segment, file, file_offset in ((segments[1], f"{m1}-1.webm", 0.0),
                                       (segments[2], f"{r1}-2.webm", answer_offset - 0.25)):
        link = segment["recording"]
        offset = (datetime.fromisoformat(segment["started_at"]) - recording_start).total_seconds()
        assert link["recording_id"] == "rec-a" and abs(link["offset_s"] - offset) <= 0.001, (link, offset)
        assert link["file"] == file
        assert abs(link["file_offset_s"] - (link["offset_s"] - file_offset)) <= 0.001, link
    assert abs(segments[2]["recording"]["file_offset_s"] - 0.25) <= 0.002
    [vote] = minutes["votes"]
    assert vote["verdict"] == "满意" and vote["cast"] == 2
    vote_offset = (datetime.fromisoformat(vote["opened_at"]) - recording_start).total_seconds()
    assert vote["recording"]["recording_id"] == "rec-a" and vote["recording"]["file"] is None
    assert abs(vote["recording"]["offset_s"] - vote_offset) <= 0.001

    # The printable page, with the token in the link.
    resp = await hub.client.get(f"/api/meetings/{mid}/minutes.html?token={people['chair']['token']}")
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "text/html; charset=utf-8"
    assert resp.headers["Cache-Control"] == "no-store"
    page = await resp.text()
    assert '<html lang="zh-CN">' in page and "@page" in page and "A4" in page
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert html.escape("2026年第四次常委会 <专题询问>") in page
    for text in ("环境局长", "委员甲", "生态环境局", "对生态环境局的满意度", "满意率", "100.0%",
                 f"{vote['cast']} / {vote['eligible']}"):
        assert text in page, text
    assert f'<dd class="verdict">{vote["verdict"]}</dd>' in page
    whole = int(segments[1]["recording"]["offset_s"])
    assert f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}" in page
    # Times in Beijing time by default, another zone on request.
    started = datetime.fromisoformat(segments[1]["started_at"])
    assert (started + timedelta(hours=8)).strftime("%H:%M:%S") in page
    resp = await hub.client.get(f"/api/meetings/{mid}/minutes.html?tz=UTC", headers=auth)
    assert started.strftime("%H:%M:%S") in await resp.text()
    resp = await hub.client.get(f"/api/meetings/{mid}/minutes.html?tz=Mars/Olympus", headers=auth)
    assert resp.status == 400 and (await resp.json())["error"]["code"] == "invalid"

    # A member reads neither.
    member = people["m1"]["token"]
    for path in (f"/api/meetings/{mid}/minutes", f"/api/meetings/{mid}/minutes.html"):
        resp = await hub.client.get(path, headers={"Authorization": f"Bearer {member}"})
        assert resp.status == 403 and (await resp.json())["error"]["code"] == "forbidden"
    resp = await hub.client.get(f"/api/meetings/{mid}/minutes.html?token={member}")
    assert resp.status == 403
