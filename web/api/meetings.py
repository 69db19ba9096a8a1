"""REST for running meetings and their invitations (the console's 会议 and
邀请 tabs). Staff only: the admin (token or session) for every meeting, an
operator's session for the meetings it created (web/auth.py
`require_meeting_in_scope`); anyone else is 403 (a join token too).

- `GET /api/meetings` `?status=&limit=` → `[meeting]`, newest first.
- `PATCH /api/meetings/{mid}` `{title?, kind?, starts_at?, ends_at?}` → meeting.
- `POST /api/meetings/{mid}/status` `{status: open/started/closed}` → meeting;
  only forward moves (else 409 `conflict`); broadcasts `meeting:status`;
  closing also closes the meeting's connections.
- `POST /api/meetings/{mid}/participants/{pid}/reissue` `{}` → `{participant_id,
  token, join_url, expires_at, generation}`: older links stop working, the
  participant's connections close.
- `GET /api/meetings/{mid}/invitations` → `[invitation]`.
- `GET /api/meetings/{mid}/participants/{pid}/qr.svg` → the link as a QR code.
- `GET /api/meetings/{mid}/invitations.html` `?tz=` → the printable list.
- `POST /api/qr` `{text}` → any text (a terminal's link) as a QR code.
The work is in sessions/meetings/ and web/invitation_sheet.py.
"""
from __future__ import annotations

import asyncio

from aiohttp import web
from pydantic import Field

from sessions import directory
from sessions.errors import Closed, Invalid
from sessions.meetings import invitations, lifecycle
from sessions.meetings.lifecycle import MeetingKind, MeetingStatus
from sessions.text import EdgeModel, IsoDatetime, Line, Text
from signaling.hub import NAMESPACE
from signaling.registry import Empty
from web import invitation_sheet, minutes_page
from web.auth import hub_of, require_meeting_in_scope, require_staff
from web.errors import read_json

routes = web.RouteTableDef()

DEFAULT_LIMIT = 200
MAX_LIMIT = 1000
NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
SVG = "image/svg+xml"
CLOSE_SWEEP_S = 2.0


class MeetingPatch(EdgeModel):
    title: Line | None = Field(default=None, min_length=1, max_length=300)
    kind: MeetingKind | None = None
    starts_at: IsoDatetime | None = None  # null: no scheduled start
    ends_at: IsoDatetime | None = None  # null: no scheduled end


class StatusIn(EdgeModel):
    status: MeetingStatus


class QrIn(EdgeModel):
    text: Text = Field(min_length=1, max_length=invitation_sheet.MAX_QR_TEXT)


def _limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_LIMIT
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise Invalid(f"limit: must be a whole number from 1 to {MAX_LIMIT}")
    return int(raw)


@routes.get("/api/meetings")
async def list_meetings(request: web.Request) -> web.Response:
    identity = require_staff(request)
    raw_status = request.query.get("status")
    try:
        status = MeetingStatus(raw_status) if raw_status is not None else None
    except ValueError:
        raise Invalid(f"status: must be one of {', '.join(s.value for s in MeetingStatus)}") from None
    limit = _limit(request.query.get("limit"))
    async with hub_of(request).db.read() as session:
        meetings = await lifecycle.list_meetings(
            session, status=status, created_by=identity.sub if identity.is_operator else None, limit=limit
        )
    return web.json_response([directory.meeting_dict(m) for m in meetings])


@routes.patch("/api/meetings/{mid}")
async def patch_meeting(request: web.Request) -> web.Response:
    mid = request.match_info["mid"]
    await require_meeting_in_scope(request, mid)
    body = await read_json(request, MeetingPatch)
    given = body.model_fields_set
    if "title" in given and body.title is None:
        raise Invalid("title: a meeting keeps a title")
    if "kind" in given and body.kind is None:
        raise Invalid("kind: a meeting keeps a kind")
    async with hub_of(request).db.transaction() as tx:
        meeting = await directory.get_meeting(tx, mid)
        if lifecycle.status_of(meeting) is MeetingStatus.CLOSED:
            raise Closed("the meeting is closed (会议已结束); it is no longer changed")
        if body.title is not None:
            meeting.title = body.title
        unset = frozenset(name for name in ("starts_at", "ends_at") if name in given and getattr(body, name) is None)
        lifecycle.schedule(meeting, kind=body.kind, starts_at=body.starts_at, ends_at=body.ends_at, unset=unset)
        await tx.flush()
        answer = directory.meeting_dict(meeting)
    return web.json_response(answer)


@routes.post("/api/meetings/{mid}/status")
async def move_status(request: web.Request) -> web.Response:
    mid = request.match_info["mid"]
    identity = await require_meeting_in_scope(request, mid)
    body = await read_json(request, StatusIn)
    hub = hub_of(request)
    async with hub.db.transaction() as tx:
        moved = await lifecycle.move(tx, mid, body.status, actor=identity.sub)
        answer = directory.meeting_dict(moved.meeting)
    await hub.publish(moved.logged)
    if body.status is MeetingStatus.CLOSED:
        # Open votes get their results and an open topic closes while the
        # sites are still connected to see it; the recording ends after them.
        await hub.meeting_closed(mid, identity.sub)
        # After `meeting:status`, so every client learns why it was let go.
        await _disconnect(hub, mid)
        # A connect admitted in the very moment of the close (it read the
        # status before the commit) writes its row after that read: once more
        # a little later (admitting takes milliseconds).
        hub.spawn(_disconnect_later(hub, mid), f"close-sweep:{mid}")
    return web.json_response(answer)


async def _disconnect_later(hub, meeting_id: str) -> None:
    await asyncio.sleep(CLOSE_SWEEP_S)
    await _disconnect(hub, meeting_id)


@routes.post("/api/meetings/{mid}/participants/{pid}/reissue")
async def reissue(request: web.Request) -> web.Response:
    mid, pid = request.match_info["mid"], request.match_info["pid"]
    await require_meeting_in_scope(request, mid)
    await read_json(request, Empty)
    hub = hub_of(request)
    async with hub.db.transaction() as tx:
        link = await invitations.reissue(tx, hub.tokens, hub.settings.base_url, mid, pid)
    await _disconnect(hub, mid, pid)
    return web.json_response({**link.to_dict(), "token": link.token}, status=201)


async def _disconnect(hub, meeting_id: str, participant_id: str | None = None) -> None:
    """Close the meeting's (or one participant's) `/meeting` connections on
    whichever process holds them (through the Socket.IO manager)."""
    async with hub.db.read() as session:
        sids = await lifecycle.connection_sids(session, meeting_id, participant_id)
    for sid in sids:
        await hub.sio.disconnect(sid, namespace=NAMESPACE)


@routes.get("/api/meetings/{mid}/invitations")
async def list_invitations(request: web.Request) -> web.Response:
    mid = request.match_info["mid"]
    await require_meeting_in_scope(request, mid)
    hub = hub_of(request)
    async with hub.db.read() as session:
        found = await invitations.invitations(session, hub.tokens, hub.settings.base_url, mid)
    return web.json_response([i.to_dict() for i in found], headers=NO_STORE)


@routes.get("/api/meetings/{mid}/participants/{pid}/qr.svg")
async def participant_qr(request: web.Request) -> web.Response:
    mid, pid = request.match_info["mid"], request.match_info["pid"]
    await require_meeting_in_scope(request, mid)
    hub = hub_of(request)
    async with hub.db.read() as session:
        link = await invitations.invitation(session, hub.tokens, hub.settings.base_url, mid, pid)
    svg = await invitation_sheet.in_pool(invitation_sheet.qr_document, link.join_url, link.name)
    return web.Response(body=svg, content_type=SVG, headers=NO_STORE)


@routes.get("/api/meetings/{mid}/invitations.html")
async def invitation_page(request: web.Request) -> web.Response:
    mid = request.match_info["mid"]
    await require_meeting_in_scope(request, mid)
    zone = minutes_page.zone_of(request.query.get("tz"))
    hub = hub_of(request)
    async with hub.db.read() as session:
        meeting = await directory.get_meeting(session, mid)
        found = await invitations.invitations(session, hub.tokens, hub.settings.base_url, mid)
        facts = {"title": meeting.title, "kind": meeting.kind, "starts_at": lifecycle.utc(meeting.starts_at),
                 "ends_at": lifecycle.utc(meeting.ends_at)}
    page = await invitation_sheet.in_pool(invitation_sheet.render, facts, found, zone)
    return web.Response(text=page, content_type="text/html", charset="utf-8", headers=NO_STORE)


@routes.post("/api/qr")
async def any_qr(request: web.Request) -> web.Response:
    require_staff(request)
    body = await read_json(request, QrIn)
    svg = await invitation_sheet.in_pool(invitation_sheet.qr_document, body.text, None)
    return web.Response(body=svg, content_type=SVG, headers=NO_STORE)
