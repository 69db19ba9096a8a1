"""Who is calling a REST endpoint, and may they."""
from __future__ import annotations

from collections.abc import Iterable

from aiohttp import web

from sessions import directory
from sessions.accounts import scope
from sessions.accounts.service import check_session
from sessions.errors import Forbidden, HubError, NotFound, Unauthorized
from sessions.identity import Identity
from sessions.meetings import invitations
from sessions.roles import Role
from signaling.hub import Hub

HUB_KEY = web.AppKey("hub", Hub)
# What `staff_session_middleware` found of the request's staff session: the
# Identity when its row still counts, else the refusal `identify` raises.
SESSION_CHECK = web.RequestKey("staff_session_check", object)


def hub_of(request: web.Request) -> Hub:
    return request.app[HUB_KEY]


def token_of(request: web.Request) -> str | None:
    """The request's token: `Authorization: Bearer`, or `?token=`."""
    header = request.headers.get("Authorization", "")
    token = None
    if header.lower().startswith("bearer "):
        token = header[7:].strip()
    elif "token" in request.query:
        # A join link carries the token once; page images may use it too.
        token = request.query["token"]
    elif header:
        raise Unauthorized("the Authorization header must be 'Bearer <token>'")
    return token


@web.middleware
async def staff_session_middleware(request: web.Request, handler) -> web.StreamResponse:
    """A staff session token's row is read once per REST call, before the
    handler, so that `identify` (synchronous, called everywhere) can refuse a
    session signed out or expired on any process of the hub."""
    if request.path.startswith("/api/"):
        await _check_staff_session(request)
    return await handler(request)


async def _check_staff_session(request: web.Request) -> None:
    try:
        identity = hub_of(request).tokens.verify_any(token_of(request))
    except HubError:
        return  # refused by `identify` if the route wants a token at all
    if not isinstance(identity, Identity) or identity.session_id is None:
        return
    try:
        async with hub_of(request).db.read() as session:
            await check_session(session, identity)
    except HubError as refusal:
        request[SESSION_CHECK] = refusal
    else:
        request[SESSION_CHECK] = identity


def identify(request: web.Request) -> Identity:
    """The token's claims, signature checked, and a staff session's row
    (read by `staff_session_middleware`); `require_meeting_access` also
    checks a participant's claims against the database (as Socket.IO's
    connect does)."""
    identity = hub_of(request).tokens.verify(token_of(request))
    if identity.session_id is not None:
        checked = request.get(SESSION_CHECK)
        if isinstance(checked, HubError):
            raise checked
        if checked != identity:
            raise Unauthorized("this session could not be checked")
    return identity


def require_admin(request: web.Request) -> Identity:
    """The whole hub's admin: the admin token or an admin's session."""
    identity = identify(request)
    if not identity.is_admin:
        raise Forbidden("only an admin may do this")
    return identity


def require_staff(request: web.Request) -> Identity:
    """The admin, or an operator (whose scope the caller then checks)."""
    identity = identify(request)
    if not identity.is_staff:
        raise Forbidden("only an admin or an operator may do this")
    return identity


async def require_site_in_scope(request: web.Request, site_id: str) -> Identity:
    """The admin, or an operator of this site or of one above it."""
    identity = require_staff(request)
    if identity.is_operator:
        async with hub_of(request).db.read() as session:
            await scope.check_site(session, identity, site_id)
    return identity


async def require_meeting_in_scope(request: web.Request, meeting_id: str) -> Identity:
    """The admin, or the operator that created this meeting."""
    identity = require_staff(request)
    if identity.is_operator:
        async with hub_of(request).db.read() as session:
            await scope.check_meeting(session, identity, meeting_id)
    return identity


async def require_meeting_access(
    request: web.Request, meeting_id: str, roles: Iterable[Role] | None = None
) -> Identity:
    """Admin, the operator that created the meeting, or a participant of this
    meeting (with one of `roles` if given).

    A participant token for another meeting is refused with 401, as the
    contract says: it is the wrong credential, not a lack of rights.
    """
    identity = identify(request)
    if identity.is_staff:
        return await require_meeting_in_scope(request, meeting_id)
    if identity.meeting_id != meeting_id:
        raise Unauthorized("token is for another meeting")
    hub = hub_of(request)
    async with hub.db.read() as session:
        try:
            participant = await directory.get_participant(session, identity.sub)
        except NotFound:
            raise Unauthorized("token names no participant of this hub") from None
    if participant.meeting_id != meeting_id:
        raise Unauthorized("token is for another meeting")
    # The same rule as on connect: the database's role decides, and a token
    # that claims another one is refused rather than trusted.
    if participant.role != identity.role.value:
        raise Unauthorized("token's role no longer matches the participant")
    async with hub.db.read() as session:
        # A re-issued link's old token; a meeting closed past the grace.
        await invitations.check_link(session, identity, connecting=False)
    if roles is not None and identity.role not in set(roles):
        raise Forbidden(f"a {identity.role.value} may not do this")
    return identity
