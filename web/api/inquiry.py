"""`GET /api/meetings/{mid}/minutes`: the meeting's record from its event log.

Who: admin, chair, clerk (others `forbidden`). Answer:
`{meeting, topics: [{id, title, respondents: [person], opened_at, closed_at,
segments: [{kind: report/question/answer/follow_up, speaker: person,
started_at, duration_s, overtime, allotted_s, ongoing}]}], votes: [result]}`
where person is `{id, name, role, site}` (site: the department or liaison
station, or null), times are ISO 8601 UTC, `duration_s` runs to the next
transition (or to now while `ongoing`), `allotted_s` is the timer it ran on,
and each vote is the `vote:result` view of a closed vote, oldest first.

With the recordings (issue 14): each segment and each vote (also given its
`opened_at`) has `recording`: `{recording_id, offset_s, file, file_offset_s}`
or null (recordings/links.py), and the answer has `recordings: [{id,
started_at, stopped_at}]`, oldest first. `minutes_of` builds the answer for
this route and for the printable page (web/api/minutes_page.py).

Attendance (出席情况): `attendance`: `{expected, present, absent, people:
[{participant_id, name, role, site, present, first_joined_at, last_left_at,
online_s, joins}]}` folded from the roster events (sessions/attendance.py);
the counts are over the chair, members and deputies, people in roster order.
"""
from __future__ import annotations

import time
from datetime import datetime, timezone

from aiohttp import web

from recordings.links import Linker, linker_of, utc
from sessions import directory, events
from sessions.attendance import attendance_of
from sessions.inquiry import fold as ev
from sessions.inquiry.minutes import build_minutes
from sessions.errors import Invalid
from sessions.roles import OPERATORS
from signaling.hub import Hub
from voting import service as voting_service
from web import minutes_page
from web.auth import hub_of, require_meeting_access

routes = web.RouteTableDef()

# A meeting holds a few dozen votes; the bound only keeps one answer finite.
MAX_VOTES = 1000


@routes.get("/api/meetings/{mid}/minutes")
async def meeting_minutes(request: web.Request) -> web.Response:
    mid = request.match_info["mid"]
    await require_meeting_access(request, mid, OPERATORS)
    return web.json_response(await minutes_of(hub_of(request), mid))


async def minutes_of(hub: Hub, mid: str) -> dict:
    """The minutes of a meeting, linked to its recordings (the caller checked access)."""
    now = time.time()
    async with hub.db.read() as session:
        meeting = await directory.get_meeting(session, mid)
        people = {p.id: p.to_dict() for p in await directory.participants_of(session, mid)}
        log = await events.events_of(session, mid, types=ev.TYPES)
        votes = await closed_votes(session, mid)
        linker, recordings = await linker_of(session, mid, datetime.fromtimestamp(now, timezone.utc))
        attendance = await attendance_of(session, mid, datetime.fromtimestamp(now, timezone.utc))
    topics = build_minutes(log, people, now)
    link_segments(topics, linker)
    for vote in votes:  # a vote is nobody's speech: the recording, no file
        vote["recording"] = linker.link(_parse(vote.get("opened_at")), None)
    return {
        "meeting": directory.meeting_dict(meeting),
        "attendance": attendance,
        "topics": topics,
        "votes": votes,
        "recordings": [{"id": r.id, "started_at": r.started_at.isoformat(),
                        "stopped_at": r.stopped_at.isoformat() if r.stopped_at else None} for r in recordings],
    }


def link_segments(topics: list[dict], linker: Linker) -> None:
    for topic in topics:
        for segment in topic["segments"]:
            speaker = segment["speaker"]["id"] if segment["speaker"] else None
            segment["recording"] = linker.link(_parse(segment["started_at"]), speaker)


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


async def closed_votes(session, meeting_id: str) -> list[dict]:
    """Closed votes with their results, oldest first (the voting feature's views)."""
    closed = await voting_service.recent_closed_of(session, meeting_id, limit=MAX_VOTES)
    return [{**voting_service.result_view(vote), "opened_at": utc(vote.opened_at).isoformat()}
            for vote in reversed(closed)]


@routes.get("/api/meetings/{mid}/minutes.html")
async def minutes_html(request: web.Request) -> web.Response:
    """The same record as a printable page (web/minutes_page.py); same access.
    The token may come as `?token=`, so the page opens from a plain link."""
    mid = request.match_info["mid"]
    await require_meeting_access(request, mid, OPERATORS)
    zone_name = request.query.get("tz") or minutes_page.DEFAULT_TZ
    if len(zone_name) > 64:
        raise Invalid("tz is too long for a time zone name")
    zone = minutes_page.zone_of(zone_name)
    minutes = await minutes_of(hub_of(request), mid)
    return web.Response(
        text=minutes_page.render(minutes, zone, zone_name), content_type="text/html", charset="utf-8",
        headers={"Cache-Control": "no-store"},
    )
