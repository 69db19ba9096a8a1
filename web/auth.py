"""Who is calling a REST endpoint, and may they."""
from __future__ import annotations

from collections.abc import Iterable

from aiohttp import web

from sessions import directory
from sessions.errors import Forbidden, NotFound, Unauthorized
from sessions.identity import Identity
from sessions.roles import Role
from signaling.hub import Hub

HUB_KEY = web.AppKey("hub", Hub)


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


def identify(request: web.Request) -> Identity:
    """The token's claims, signature checked; `require_meeting_access` also
    checks them against the database (as Socket.IO's connect does)."""
    return hub_of(request).tokens.verify(token_of(request))


def require_admin(request: web.Request) -> Identity:
    identity = identify(request)
    if not identity.is_admin:
        raise Forbidden("only an admin may do this")
    return identity


async def require_meeting_access(
    request: web.Request, meeting_id: str, roles: Iterable[Role] | None = None
) -> Identity:
    """Admin, or a participant of this meeting (with one of `roles` if given).

    A participant token for another meeting is refused with 401, as the
    contract says: it is the wrong credential, not a lack of rights.
    """
    identity = identify(request)
    if identity.is_admin:
        return identity
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
    if roles is not None and identity.role not in set(roles):
        raise Forbidden(f"a {identity.role.value} may not do this")
    return identity
