"""REST for the people directory, its groups, imports, and inviting from it
(docs/protocol.md, "People, groups and imports").

- `POST /api/sites/import`, `POST /api/people/import` (multipart field
  `file`: XLSX or CSV; `?dry_run=1` reports without writing): all or
  nothing; a bad row refuses the file with every bad line listed.
- `GET /api/people`, `POST /api/people`, `GET|PATCH|DELETE /api/people/{pid}`.
- `GET /api/groups`, `POST /api/groups`.
- `POST /api/meetings/{mid}/participants/bulk`: people, groups and stations
  as participants, with their join links.

Who: the admin (token or session); an operator within its district (its
site and the sites below it: people whose site is there, sites added there)
and, for the bulk add, in the meetings it created. Anyone else: 403.
"""
from __future__ import annotations

import asyncio
from typing import Annotated

from aiohttp import BodyPartReader, web
from pydantic import AfterValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

from sessions.accounts import scope
from sessions.errors import Forbidden, Invalid, NotFound, TooLarge
from sessions.identity import Identity
from sessions.people import importer, invite, reading, service
from sessions.people.fields import CODE_MAX, GROUP_NAME_MAX, NAME_MAX, NOTE_MAX, normalize_phone
from sessions.people.kinds import GroupKind, Level, PersonKind
from sessions.people.plan import Plan, plan_people, plan_sites
from sessions.roles import Role
from sessions.text import EdgeModel, Id, Line, Text, check_id
from web.auth import hub_of, require_meeting_in_scope, require_staff
from web.errors import read_json

routes = web.RouteTableDef()

DEFAULT_LIMIT, MAX_LIMIT, MAX_OFFSET = 50, 500, 1_000_000
MAX_QUERY = 100
# A refusal lists this many bad rows at most (the message gives the count).
MAX_LISTED_ROWS = 1000
# The multipart envelope around the file.
ENVELOPE = 64 * 1024


def _phone(value: str) -> str:
    try:
        return normalize_phone(value)
    except ValueError as exc:
        raise PydanticCustomError("phone", "{reason}", {"reason": str(exc)}) from None


Phone = Annotated[Line, Field(min_length=1, max_length=64), AfterValidator(_phone)]


class Body(EdgeModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PersonIn(Body):
    name: Line = Field(min_length=1, max_length=NAME_MAX)
    kind: PersonKind = PersonKind.DEPUTY
    site_id: Id | None = None
    level: Level | None = None
    phone: Phone | None = None
    code: Line | None = Field(None, min_length=1, max_length=CODE_MAX)
    note: Text | None = Field(None, max_length=NOTE_MAX)
    group_ids: list[Id] = Field(default_factory=list, max_length=200)


class PersonPatch(Body):
    name: Line | None = Field(None, min_length=1, max_length=NAME_MAX)
    kind: PersonKind | None = None
    site_id: Id | None = None
    level: Level | None = None
    phone: Phone | None = None
    code: Line | None = Field(None, min_length=1, max_length=CODE_MAX)
    note: Text | None = Field(None, max_length=NOTE_MAX)
    group_ids: list[Id] | None = Field(None, max_length=200)


class GroupIn(Body):
    name: Line = Field(min_length=1, max_length=GROUP_NAME_MAX)
    kind: GroupKind = GroupKind.COMMITTEE
    members: list[Id] = Field(default_factory=list, max_length=invite.MAX_NEW)


class BulkIn(Body):
    people: list[Id] = Field(default_factory=list, max_length=invite.MAX_NEW)
    group_ids: list[Id] = Field(default_factory=list, max_length=200)
    site_ids: list[Id] = Field(default_factory=list, max_length=200)
    role: Role | None = None


def _fields(body: PersonIn | PersonPatch) -> service.PersonFields:
    return service.PersonFields(given=set(body.model_fields_set), **body.model_dump())


async def _reach(identity: Identity, session) -> set[str] | None:
    return await scope.sites_in_scope(session, identity)


# -- people -----------------------------------------------------------------------------------


@routes.get("/api/people")
async def search_people(request: web.Request) -> web.Response:
    identity = require_staff(request)
    query = request.query
    q = query.get("q", "").strip() or None
    if q is not None and len(q) > MAX_QUERY:
        raise Invalid(f"q: at most {MAX_QUERY} characters")
    site_id = _id_param(query, "site_id")
    group_id = _id_param(query, "group_id")
    kind = _enum_param(query, "kind", PersonKind)
    limit = _int_param(query, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    offset = _int_param(query, "offset", 0, 0, MAX_OFFSET)
    async with hub_of(request).db.read() as session:
        reach = await _reach(identity, session)
        site_ids = reach
        if site_id is not None:
            site_ids = await scope.subtree(session, site_id)
            if not site_ids:
                raise NotFound("no such site")
            if reach is not None:
                if site_id not in reach:
                    raise Forbidden("this site is outside your district (your site and the sites below it)")
                site_ids &= reach
        found = await service.search(session, q=q, site_ids=site_ids, group_id=group_id, kind=kind,
                                     limit=limit, offset=offset)
    return web.json_response(found)


@routes.post("/api/people")
async def create_person(request: web.Request) -> web.Response:
    identity = require_staff(request)
    body = await read_json(request, PersonIn)
    async with hub_of(request).db.transaction() as tx:
        person = await service.create_person(tx, _fields(body), await _reach(identity, tx))
    return web.json_response(person, status=201)


@routes.get("/api/people/{pid}")
async def get_person(request: web.Request) -> web.Response:
    identity = require_staff(request)
    async with hub_of(request).db.read() as session:
        person = await service.get_person(session, request.match_info["pid"], await _reach(identity, session))
    return web.json_response(person)


@routes.patch("/api/people/{pid}")
async def update_person(request: web.Request) -> web.Response:
    identity = require_staff(request)
    body = await read_json(request, PersonPatch)
    async with hub_of(request).db.transaction() as tx:
        person = await service.update_person(tx, request.match_info["pid"], _fields(body), await _reach(identity, tx))
    return web.json_response(person)


@routes.delete("/api/people/{pid}")
async def delete_person(request: web.Request) -> web.Response:
    identity = require_staff(request)
    async with hub_of(request).db.transaction() as tx:
        await service.delete_person(tx, request.match_info["pid"], await _reach(identity, tx))
    return web.json_response({"ok": True})


# -- groups -----------------------------------------------------------------------------------


@routes.get("/api/groups")
async def list_groups(request: web.Request) -> web.Response:
    identity = require_staff(request)
    async with hub_of(request).db.read() as session:
        groups = await service.list_groups(session, await _reach(identity, session))
    return web.json_response(groups)


@routes.post("/api/groups")
async def create_group(request: web.Request) -> web.Response:
    identity = require_staff(request)
    body = await read_json(request, GroupIn)
    async with hub_of(request).db.transaction() as tx:
        group = await service.create_group(tx, body.name, body.kind, body.members, await _reach(identity, tx))
    return web.json_response(group, status=201)


# -- inviting ---------------------------------------------------------------------------------


@routes.post("/api/meetings/{mid}/participants/bulk")
async def add_participants(request: web.Request) -> web.Response:
    mid = request.match_info["mid"]
    identity = await require_meeting_in_scope(request, mid)
    body = await read_json(request, BulkIn)
    if not (body.people or body.group_ids or body.site_ids):
        raise Invalid("name at least one of people, group_ids, site_ids")
    if body.role is Role.ADMIN:
        raise Invalid("role: admin is not a meeting role")
    hub = hub_of(request)
    async with hub.db.transaction() as tx:
        invited = await invite.add_from_directory(
            tx, mid, person_ids=body.people, group_ids=body.group_ids, site_ids=body.site_ids, role=body.role,
            reach=await _reach(identity, tx))
        links = await invite.links(tx, hub.tokens, hub.settings.base_url, mid, [p["id"] for p in invited.created])
    created = [{**p, "token": links[p["id"]].token, "join_url": links[p["id"]].join_url} for p in invited.created]
    if created:
        hub.request_roster(mid)
    return web.json_response(
        {"created": created, "already": invited.already, "outside_reach": invited.outside_reach}, status=201)


# -- imports ----------------------------------------------------------------------------------


@routes.post("/api/sites/import")
async def import_sites(request: web.Request) -> web.Response:
    identity = require_staff(request)
    dry_run = _dry_run(request)
    data = await _read_upload(request)
    parsed = await reading.read_rows(data, "sites")
    hub = hub_of(request)
    async with hub.db.transaction() as tx:
        reach = await _reach(identity, tx)
        known = await service.known_sites(tx)
        plan = await asyncio.to_thread(plan_sites, parsed.rows, known)
        service.check_plan_reach(plan, reach)
        refusal = _refusal(parsed, plan)
        if refusal is not None:
            return refusal
        if not dry_run:
            await service.apply_sites(tx, plan)
    created = [{"line": s.line, "id": None if dry_run else s.id, "name": s.name, "kind": s.kind.value}
               for s in sorted(plan.creates, key=lambda s: s.line)]
    return _report(dry_run, parsed, plan, created)


@routes.post("/api/people/import")
async def import_people(request: web.Request) -> web.Response:
    identity = require_staff(request)
    dry_run = _dry_run(request)
    data = await _read_upload(request)
    parsed = await reading.read_rows(data, "people")
    hub = hub_of(request)
    async with hub.db.transaction() as tx:
        reach = await _reach(identity, tx)
        sites = await service.known_sites(tx)
        known = await service.known_people(tx, parsed.rows)
        plan = await asyncio.to_thread(plan_people, parsed.rows, sites, known)
        service.check_plan_reach(plan, reach)
        refusal = _refusal(parsed, plan)
        if refusal is not None:
            return refusal
        if not dry_run:
            await service.apply_people(tx, plan)
    created = [{"line": p.line, "id": None if dry_run else p.id, "name": p.name} for p in plan.creates]
    groups = [{"id": None if dry_run else gid, "name": name} for name, gid in plan.new_groups.items()]
    return _report(dry_run, parsed, plan, created, groups_created=groups)


def _refusal(parsed: importer.Parsed, plan: Plan) -> web.Response | None:
    rows = sorted([*parsed.errors, *plan.errors], key=lambda r: r.line)
    if not rows:
        return None
    total = len(parsed.rows) + len(parsed.errors)
    listed = rows[:MAX_LISTED_ROWS]
    more = f" (the first {MAX_LISTED_ROWS} are listed)" if len(rows) > MAX_LISTED_ROWS else ""
    message = f"{len(rows)} of {total} rows have errors{more}; nothing was imported"
    return web.json_response({
        "error": {"code": "invalid", "message": message},
        "rows": [r.to_dict() for r in listed],
        "duplicates": [d.to_dict() for d in plan.duplicates],
    }, status=400)


def _report(dry_run: bool, parsed: importer.Parsed, plan: Plan, created: list[dict], **more) -> web.Response:
    return web.json_response({
        "dry_run": dry_run,
        "created": created,
        "duplicates": [d.to_dict() for d in plan.duplicates],
        "ignored_columns": parsed.ignored_columns,
        **more,
    }, status=200 if dry_run else 201)


async def _read_upload(request: web.Request) -> bytes:
    """The multipart field `file`, at most `importer.MAX_BYTES`."""
    limit = importer.MAX_BYTES
    if request.content_length is not None and request.content_length > limit + ENVELOPE:
        raise TooLarge(f"the file is larger than {limit} bytes")
    if not request.content_type.startswith("multipart/form-data"):
        raise Invalid("send the spreadsheet as multipart/form-data with the field 'file'")
    data: bytes | None = None
    try:
        reader = await request.multipart()
        async for part in reader:
            if not isinstance(part, BodyPartReader):
                raise Invalid("nested multipart bodies are not accepted")
            if part.name != "file":
                raise Invalid(f"unknown field {part.name!r} (send the spreadsheet as 'file')")
            if data is not None:
                raise Invalid("send one file per import")
            chunks, size = [], 0
            while chunk := await part.read_chunk(64 * 1024):
                size += len(chunk)
                if size > limit:
                    raise TooLarge(f"the file is larger than {limit} bytes")
                chunks.append(chunk)
            data = b"".join(chunks)
    except (ValueError, AssertionError, RuntimeError) as exc:
        # aiohttp's multipart reader reports a malformed body this way.
        raise Invalid(f"malformed multipart body: {exc}") from None
    except web.HTTPRequestEntityTooLarge:
        raise TooLarge(f"the file is larger than {limit} bytes") from None
    if data is None:
        raise Invalid("the field 'file' is missing")
    return data


# -- query values -----------------------------------------------------------------------------


def _dry_run(request: web.Request) -> bool:
    raw = request.query.get("dry_run")
    if raw is None:
        return False
    if raw not in ("0", "1", "true", "false"):
        raise Invalid("dry_run: must be 1 or 0")
    return raw in ("1", "true")


def _id_param(query, name: str) -> str | None:
    value = query.get(name)
    return check_id(value, name) if value is not None else None


def _enum_param(query, name: str, enum):
    value = query.get(name)
    if value is None:
        return None
    try:
        return enum(value)
    except ValueError:
        raise Invalid(f"{name}: must be one of {', '.join(e.value for e in enum)}") from None


def _int_param(query, name: str, default: int, low: int, high: int) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    # isascii: "²".isdigit() is true too; the length keeps int() from a 4300-digit refusal.
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 9) or not low <= int(raw) <= high:
        raise Invalid(f"{name}: must be a whole number from {low} to {high}")
    return int(raw)
