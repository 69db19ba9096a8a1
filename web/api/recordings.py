"""REST for recordings: the list, one recording, its files (with ranges).

- `GET /api/meetings/{mid}/recordings` (admin, chair, clerk) → `[recording]`.
- `GET /api/recordings/{rid}` (the same) → recording (see recordings/service.py
  `recording_view`).
- `POST /api/recordings/{rid}/export` (the same) → 202 `{export}`: the
  composed file is made by a background job (recordings/exports.py).
- `GET /api/recordings/{rid}/files/{name}` (the same) → the file, with HTTP
  range requests (aiohttp's FileResponse answers 206 and `Accept-Ranges`),
  so a browser's `<video>` can seek. A name is served only if it is in the
  recording's own list and resolves inside the recording's folder:
  `../`, encoded traversal and unknown names are 404.
"""
from __future__ import annotations

import re

from aiohttp import web

from recordings import service
from sessions import directory
from sessions.errors import Invalid, NotFound
from sessions.roles import OPERATORS
from web.auth import hub_of, identify, require_meeting_access

routes = web.RouteTableDef()

# What the recorder names files: ids, digits, dashes, one extension.
FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,150}\.[a-z0-9]{2,5}$")
ID = re.compile(r"^[A-Za-z0-9]{1,64}$")


def _recording_id(request: web.Request) -> str:
    rid = request.match_info["rid"]
    if not ID.match(rid):
        raise NotFound("no such recording")
    return rid


async def _views(session, recordings: list) -> list[dict]:
    files = await service.files_of(session, [r.id for r in recordings])
    return [service.recording_view(r, files[r.id]) for r in recordings]


@routes.get("/api/meetings/{mid}/recordings")
async def meeting_recordings(request: web.Request) -> web.Response:
    mid = request.match_info["mid"]
    await require_meeting_access(request, mid, OPERATORS)
    async with hub_of(request).db.read() as session:
        await directory.get_meeting(session, mid)  # an admin asking about no meeting: 404, not []
        return web.json_response(await _views(session, await service.recordings_of(session, mid)))


async def _load(request: web.Request):
    identify(request)  # 401 before anything about the recording is revealed
    rid = _recording_id(request)
    async with hub_of(request).db.read() as session:
        recording = await service.get(session, rid)
    await require_meeting_access(request, recording.meeting_id, OPERATORS)
    return recording


@routes.get("/api/recordings/{rid}")
async def get_recording(request: web.Request) -> web.Response:
    recording = await _load(request)
    async with hub_of(request).db.read() as session:
        (view,) = await _views(session, [recording])
    return web.json_response(view)


@routes.post("/api/recordings/{rid}/export")
async def export_recording(request: web.Request) -> web.Response:
    recording = await _load(request)
    export = await hub_of(request).exports.request(recording.id)
    return web.json_response({"export": export}, status=202)


@routes.get("/api/recordings/{rid}/files/{name}")
async def get_file(request: web.Request) -> web.StreamResponse:
    recording = await _load(request)
    name = request.match_info["name"]
    if not FILE_NAME.match(name):
        raise NotFound("no such file in this recording")
    async with hub_of(request).db.read() as session:
        row = await service.get_file(session, recording.id, name)
    folder = (hub_of(request).settings.recordings_path / recording.id).resolve()
    path = (folder / row.name).resolve()
    if path.parent != folder:
        raise Invalid("bad file name")
    if not path.is_file():
        # Written by a process on another machine whose recordings folder is
        # not shared with this one (docs/deploy.md).
        raise NotFound("the file is not on this server's disk")
    return web.FileResponse(
        path, headers={"Content-Type": service.media_type(row.name), "Cache-Control": "private, no-store"}
    )

