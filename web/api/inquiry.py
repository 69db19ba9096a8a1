"""`GET /api/meetings/{mid}/minutes`: the meeting's record from its event log.

Who: admin, chair, clerk (others `forbidden`). Answer:
`{meeting, topics: [{id, title, respondents: [person], opened_at, closed_at,
segments: [{kind: report/question/answer/follow_up, speaker: person,
started_at, duration_s, overtime, allotted_s, ongoing}]}], votes: [result]}`
where person is `{id, name, role, site}` (site: the department or liaison
station, or null), times are ISO 8601 UTC, `duration_s` runs to the next
transition (or to now while `ongoing`), `allotted_s` is the timer it ran on,
and each vote is the `vote:result` view of a closed vote, oldest first.
"""
from __future__ import annotations

import time

from aiohttp import web

from sessions import directory, events
from sessions.inquiry import fold as ev
from sessions.inquiry.minutes import build_minutes
from sessions.roles import OPERATORS
from voting import service as voting_service
from web.auth import hub_of, require_meeting_access

routes = web.RouteTableDef()

# A meeting holds a few dozen votes; the bound only keeps one answer finite.
MAX_VOTES = 1000


@routes.get("/api/meetings/{mid}/minutes")
async def meeting_minutes(request: web.Request) -> web.Response:
    mid = request.match_info["mid"]
    await require_meeting_access(request, mid, OPERATORS)
    hub = hub_of(request)
    async with hub.db.read() as session:
        meeting = await directory.get_meeting(session, mid)
        people = {p.id: p.to_dict() for p in await directory.participants_of(session, mid)}
        log = await events.events_of(session, mid, types=ev.TYPES)
        votes = await closed_votes(session, mid)
    return web.json_response({
        "meeting": directory.meeting_dict(meeting),
        "topics": build_minutes(log, people, time.time()),
        "votes": votes,
    })


async def closed_votes(session, meeting_id: str) -> list[dict]:
    """Closed votes with their results, oldest first (the voting feature's views)."""
    closed = await voting_service.recent_closed_of(session, meeting_id, limit=MAX_VOTES)
    return [voting_service.result_view(vote) for vote in reversed(closed)]
