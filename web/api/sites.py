"""REST for sites' terminals and the call log.

Contract (docs/contract.md, "Sites, terminals and calls"):
- `POST /api/sites/{sid}/terminal` (admin) `{}` → `{token, join_url}`.
- `DELETE /api/sites/{sid}/terminal` (admin) → `{ok}`: the site's terminal
  tokens issued so far stop working; its open connections close.
- `GET /api/calls` (admin; a terminal: its own site's calls) `?site_id=` →
  `[call]`, newest first.

Extensions: `GET /api/calls?limit=` (1–500, default 100); a terminal asking
for another site's calls is `403 forbidden`; the DELETE reads no body.

An operator's session (sessions/accounts/) does the admin's part for the
sites of its subtree only: other sites' terminals, or calls, are 403.
"""
from __future__ import annotations

from aiohttp import web

from sessions.accounts import scope
from sessions.errors import Forbidden, Invalid
from sessions.identity import TerminalIdentity
from sessions.sites import calls, terminals
from sessions.text import check_id
from signaling.registry import Empty
from signaling.sites import join_url, revoke_terminals
from web.auth import hub_of, identify, require_site_in_scope, token_of
from web.errors import read_json

routes = web.RouteTableDef()

DEFAULT_LIMIT = 100
MAX_LIMIT = 500


@routes.post("/api/sites/{sid}/terminal")
async def issue_terminal(request: web.Request) -> web.Response:
    site_id = request.match_info["sid"]
    await require_site_in_scope(request, site_id)
    await read_json(request, Empty)
    hub = hub_of(request)
    async with hub.db.transaction() as tx:
        generation = await terminals.generation_for_issue(tx, site_id)
    token = hub.tokens.issue_terminal(site_id, generation)
    return web.json_response({"token": token, "join_url": f"{hub.settings.base_url}/terminal?token={token}"},
                             status=201)


@routes.delete("/api/sites/{sid}/terminal")
async def revoke_terminal(request: web.Request) -> web.Response:
    await require_site_in_scope(request, request.match_info["sid"])
    await revoke_terminals(hub_of(request), request.match_info["sid"])
    return web.json_response({"ok": True})


@routes.get("/api/calls")
async def call_log(request: web.Request) -> web.Response:
    hub = hub_of(request)
    identity = hub.tokens.verify_any(token_of(request))
    if not isinstance(identity, TerminalIdentity):
        identity = identify(request)  # a staff session's row, too
    site_id = request.query.get("site_id")
    if site_id is not None:
        check_id(site_id, "site_id")
    limit = _limit(request.query.get("limit"))
    async with hub.db.read() as session:
        if isinstance(identity, TerminalIdentity):
            await terminals.check_token(session, identity.site_id, identity.generation)
            if site_id is not None and site_id != identity.site_id:
                raise Forbidden("a terminal sees its own site's calls only")
            site_id = identity.site_id
        elif not identity.is_staff:
            raise Forbidden("only an admin, an operator or a site's terminal may read the call log")
        within = await scope.sites_in_scope(session, identity) if not isinstance(identity, TerminalIdentity) else None
        if within is not None and site_id is not None:
            await scope.check_site(session, identity, site_id)
        log = await calls.log(session, site_id, limit, within=within)
    return web.json_response(log)


def _limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_LIMIT
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise Invalid(f"limit: must be a whole number from 1 to {MAX_LIMIT}")
    return int(raw)


__all__ = ["routes", "join_url"]
