"""REST for sites, meetings and participants."""
from __future__ import annotations

from aiohttp import web
from pydantic import ConfigDict, Field

from sessions import directory, presence
from sessions.roles import Role, SiteKind
from sessions.text import EdgeModel, Id, IsoDatetime, Line
from web.auth import hub_of, require_admin, require_meeting_access
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


class ParticipantIn(Body):
    name: Line = Field(min_length=1, max_length=200)
    role: Role
    site_id: Id | None = None


@routes.post("/api/sites")
async def create_site(request: web.Request) -> web.Response:
    require_admin(request)
    body = await read_json(request, SiteIn)
    async with hub_of(request).db.transaction() as tx:
        site = await directory.create_site(tx, body.name, body.kind, body.parent_id)
    return web.json_response(site.to_dict(), status=201)


@routes.get("/api/sites")
async def list_sites(request: web.Request) -> web.Response:
    require_admin(request)
    async with hub_of(request).db.read() as session:
        sites = await directory.list_sites(session)
    return web.json_response([s.to_dict() for s in sites])


@routes.post("/api/meetings")
async def create_meeting(request: web.Request) -> web.Response:
    require_admin(request)
    body = await read_json(request, MeetingIn)
    async with hub_of(request).db.transaction() as tx:
        meeting = await directory.create_meeting(tx, body.title, body.starts_at)
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
    require_admin(request)
    mid = request.match_info["mid"]
    body = await read_json(request, ParticipantIn)
    hub = hub_of(request)
    async with hub.db.transaction() as tx:
        participant = await directory.add_participant(tx, mid, body.name, body.role, body.site_id)
    token = hub.tokens.issue(participant.id, body.role, mid)
    hub.request_roster(mid)
    return web.json_response(
        {"id": participant.id, "token": token, "join_url": join_url(hub.settings.base_url, token)}, status=201
    )


def join_url(base_url: str, token: str) -> str:
    return f"{base_url}/join?token={token}"
