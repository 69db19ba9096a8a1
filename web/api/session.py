"""REST for staff sign-in: `POST /api/session`, `DELETE /api/session`.

Contract (docs/contract.md, "Accounts for office staff"): `{username,
password}` → `{token, role, site_id?, expires_at}`; a wrong user name or
password is 401 with one message for both; repeated failures for one user
name or one address are 429 `rate_limited` for a while; DELETE signs the
token out on every process (its session row is revoked). The work is in
sessions/accounts/service.py.
"""
from __future__ import annotations

from aiohttp import web
from pydantic import Field

from sessions.accounts import service
from sessions.errors import Invalid
from sessions.text import EdgeModel, Line
from web.auth import hub_of, identify
from web.errors import read_json

routes = web.RouteTableDef()


class SignIn(EdgeModel):
    # Not narrowed to what `plenary user add` accepts: a name that cannot
    # exist is answered like any unknown one (401), not with a hint (400).
    username: Line = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=service.MAX_PASSWORD)


@routes.post("/api/session")
async def sign_in(request: web.Request) -> web.Response:
    body = await read_json(request, SignIn)
    hub = hub_of(request)
    signed_in = await service.sign_in(
        hub.db, hub.tokens, body.username, body.password, request.remote, hub.settings.session_hours
    )
    return web.json_response(signed_in.to_dict(), status=201)


@routes.delete("/api/session")
async def sign_out(request: web.Request) -> web.Response:
    identity = identify(request)
    if identity.session_id is None:
        raise Invalid("this token is not a staff session's (admin and join tokens expire by themselves)")
    async with hub_of(request).db.transaction() as tx:
        await service.sign_out(tx, identity.session_id)
    return web.json_response({"ok": True})
