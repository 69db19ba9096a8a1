"""REST for sites, meetings and participants.

The admin (token or session) may do all of it; an operator's session only
under its site (sessions/accounts/scope.py) and in the meetings it created:
anything else is 403."""
from __future__ import annotations

from aiohttp import web
from pydantic import ConfigDict, Field

from sessions import directory, presence
from sessions.accounts import scope
from sessions.errors import Forbidden
from sessions.meetings import invitations, lifecycle
from sessions.meetings.lifecycle import MeetingKind
from sessions.roles import Role, SiteKind
from sessions.text import EdgeModel, Id, IsoDatetime, Line
from web.auth import hub_of, require_meeting_access, require_meeting_in_scope, require_staff
from web.errors import read_json

routes = web.RouteTableDef()


class Body(EdgeModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class SiteIn(Body):
    name: Line = Field(min_length=1, max_length=200)
    kind: SiteKind
    parent_id: Id | None = None


class MeetingIn(Body):
    title: Line = Field(min_length=1, max_length=300)
    starts_at: IsoDatetime | None = None
    # Extensions (sessions/meetings/lifecycle.py): the kind and the scheduled end.
    kind: MeetingKind = MeetingKind.COMMITTEE
    ends_at: IsoDatetime | None = None


class ParticipantIn(Body):
    name: Line = Field(min_length=1, max_length=200)
    role: Role
    site_id: Id | None = None


@routes.post("/api/sites")
async def create_site(request: web.Request) -> web.Response:
    identity = require_staff(request)
    body = await read_json(request, SiteIn)
    async with hub_of(request).db.transaction() as tx:
        if identity.is_operator:
            if body.parent_id is None:
                raise Forbidden("an operator adds sites under its own site")
            await scope.check_site(tx, identity, body.parent_id)
        site = await directory.create_site(tx, body.name, body.kind, body.parent_id)
    return web.json_response(site.to_dict(), status=201)


@routes.get("/api/sites")
async def list_sites(request: web.Request) -> web.Response:
    identity = require_staff(request)
    async with hub_of(request).db.read() as session:
        sites = await directory.list_sites(session)
        reach = await scope.sites_in_scope(session, identity)
    return web.json_response([s.to_dict() for s in sites if reach is None or s.id in reach])


@routes.post("/api/meetings")
async def create_meeting(request: web.Request) -> web.Response:
    identity = require_staff(request)
    body = await read_json(request, MeetingIn)
    async with hub_of(request).db.transaction() as tx:
        lifecycle.check_schedule(body.starts_at, body.ends_at)
        # As UTC: SQLite keeps no offset, so a +08:00 time would come back 8 h off.
        meeting = await directory.create_meeting(tx, body.title, lifecycle.utc(body.starts_at))
        lifecycle.schedule(meeting, kind=body.kind, starts_at=body.starts_at, ends_at=body.ends_at)
        meeting.created_by = identity.sub  # an operator reaches the meetings it created
    return web.json_response(directory.meeting_dict(meeting), status=201)


@routes.get("/api/meetings/{mid}")
async def get_meeting(request: web.Request) -> web.Response:
    mid = request.match_info["mid"]
    await require_meeting_access(request, mid)
    async with hub_of(request).db.read() as session:
        meeting = await directory.get_meeting(session, mid)
        participants = await presence.roster_of(session, mid, hub_of(request).people)
    return web.json_response({**directory.meeting_dict(meeting), "participants": participants})


@routes.post("/api/meetings/{mid}/participants")
async def add_participant(request: web.Request) -> web.Response:
    mid = request.match_info["mid"]
    identity = await require_meeting_in_scope(request, mid)
    body = await read_json(request, ParticipantIn)
    hub = hub_of(request)
    async with hub.db.transaction() as tx:
        if body.site_id is not None:
            await scope.check_site(tx, identity, body.site_id)
        participant = await directory.add_participant(tx, mid, body.name, body.role, body.site_id)
        # The link the invitation list shows (same claims, same token).
        link = await invitations.invitation(tx, hub.tokens, hub.settings.base_url, mid, participant.id)
    hub.request_roster(mid)
    return web.json_response({"id": participant.id, "token": link.token, "join_url": link.join_url}, status=201)


def join_url(base_url: str, token: str) -> str:
    return f"{base_url}/join?token={token}"
