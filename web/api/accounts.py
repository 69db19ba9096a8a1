"""REST for staff accounts: signing in and out, and the admins' management of
accounts (the console's 账号 tab).

- `POST /api/session` `{username, password}` → 201 `{token, role, site_id?,
  expires_at}` (docs/contract.md, "Accounts for office staff"); a wrong user
  name or password is 401 with one message for both; repeated failures for
  one user name or one address are 429 `rate_limited` for a while.
- `DELETE /api/session` → `{ok}`: signs the token out on every process (its
  session row is revoked).

- `GET /api/accounts` → `[{id, username, role, site_id, created_at}]`, by user name.
- `POST /api/accounts` `{username, password, role: operator|admin, site_id?}`
  → 201 account; a taken user name is 409 `conflict`.
- `DELETE /api/accounts/{aid}` → `{ok}`: the account and its sessions go;
  its tokens are refused from then on (401).
Admins only (the admin token or an admin's session); an operator is 403.
Password rules and hashing are sessions/accounts/ (service, passwords).
"""
from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import Field

from sessions.accounts import manage, service
from sessions.accounts.passwords import hash_password_async
from sessions.errors import Conflict, Invalid
from sessions.text import EdgeModel, Id, Line
from web.auth import hub_of, identify, require_admin
from web.errors import read_json

routes = web.RouteTableDef()


class AccountIn(EdgeModel):
    username: Line = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=service.MAX_PASSWORD)
    role: Literal["operator", "admin"] = "operator"
    site_id: Id | None = None


@routes.get("/api/accounts")
async def list_accounts(request: web.Request) -> web.Response:
    require_admin(request)
    async with hub_of(request).db.read() as session:
        accounts = await manage.list_accounts(session)
    return web.json_response([manage.account_dict(a) for a in accounts], headers={"Cache-Control": "no-store"})


@routes.post("/api/accounts")
async def create_account(request: web.Request) -> web.Response:
    require_admin(request)
    body = await read_json(request, AccountIn)
    service.check_username(body.username)
    service.check_password(body.password)
    password_hash = await hash_password_async(body.password)  # off the loop
    async with hub_of(request).db.transaction() as tx:
        account = await manage.create(tx, body.username, body.role, body.site_id, password_hash)
        answer = manage.account_dict(account)
    return web.json_response(answer, status=201)


@routes.delete("/api/accounts/{aid}")
async def delete_account(request: web.Request) -> web.Response:
    identity = require_admin(request)
    account_id = request.match_info["aid"]
    if identity.account_id == account_id:
        raise Conflict("an admin does not delete the account it is signed in with")
    async with hub_of(request).db.transaction() as tx:
        await manage.remove(tx, account_id)
    return web.json_response({"ok": True})


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
