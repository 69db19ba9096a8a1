"""Tokens: HS256 JWTs with the contract's claims (sub, mid, role, exp).

Staff session tokens (sessions/accounts/) carry `sub` = `account:<id>`,
`role` = `admin` or `operator`, `site` (an operator's) and `sid` (the
session row, which the edges read on every use: signed out or expired
there, the token no longer counts)."""
from __future__ import annotations

import time
from dataclasses import dataclass

import jwt

from sessions.errors import Unauthorized
from sessions.roles import Role
from sessions.text import id_flaw

ADMIN_TTL_S = 12 * 3600
# Admin tokens name this subject; participant ids are uuid hex, never this.
ADMIN_SUB = "admin"
# Ours are ~250 bytes; anything far longer is not one of them, and decoding
# it would only cost time (the HTTP edge allows headers up to 128 KiB).
MAX_TOKEN_CHARS = 4096
# A join link is handed out before a meeting and used through a long day.
PARTICIPANT_TTL_S = 30 * 24 * 3600
# A site's terminal stays signed in all year (unless its site's tokens are revoked).
TERMINAL_TTL_S = 365 * 24 * 3600
TERMINAL_ROLE = "terminal"
ACCOUNT_SUB_PREFIX = "account:"
OPERATOR_ROLE = "operator"


@dataclass(frozen=True)
class Identity:
    """An admin's, a participant's or a staff session's token.

    A staff session has `session_id`. An operator's session has role ADMIN
    (within its scope it acts as the admin) and `operator_site`, the site
    whose subtree bounds it; `is_admin` (the whole hub) is false for it."""

    sub: str
    role: Role
    meeting_id: str | None
    session_id: str | None = None
    operator_site: str | None = None
    # A join token's link generation (`gen`; 0 when absent): it must still be
    # the participant's (sessions/meetings/invitations.py).
    generation: int = 0

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN and self.operator_site is None

    @property
    def is_staff(self) -> bool:
        """The admin token, or an admin's or an operator's session."""
        return self.role is Role.ADMIN

    @property
    def is_operator(self) -> bool:
        return self.operator_site is not None

    @property
    def account_id(self) -> str | None:
        return self.sub.removeprefix(ACCOUNT_SUB_PREFIX) if self.session_id is not None else None


@dataclass(frozen=True)
class TerminalIdentity:
    """A site's terminal token: `generation` must still be the site's (see
    sessions/sites/terminals.py) for the token to count."""

    site_id: str
    generation: int


class TokenService:
    def __init__(self, secret: str) -> None:
        if len(secret) < 32:
            raise ValueError("the signing secret must be at least 32 characters")
        self._secret = secret

    def issue(self, sub: str, role: Role, meeting_id: str | None = None, ttl_s: int | None = None) -> str:
        if ttl_s is None:
            ttl_s = ADMIN_TTL_S if role is Role.ADMIN else PARTICIPANT_TTL_S
        claims: dict = {"sub": sub, "role": role.value, "exp": int(time.time()) + ttl_s}
        if meeting_id is not None:
            claims["mid"] = meeting_id
        return jwt.encode(claims, self._secret, algorithm="HS256")

    def issue_link(self, sub: str, role: Role, meeting_id: str, generation: int, expires_at: int) -> str:
        """A participant's join token with its link generation and a fixed
        expiry: the same claims always sign to the same token."""
        claims = {"sub": sub, "role": role.value, "mid": meeting_id, "gen": generation, "exp": expires_at}
        return jwt.encode(claims, self._secret, algorithm="HS256")

    def admin_token(self) -> str:
        return self.issue(ADMIN_SUB, Role.ADMIN)

    def issue_terminal(self, site_id: str, generation: int) -> str:
        now = int(time.time())
        claims = {"sub": f"site:{site_id}", "site": site_id, "role": TERMINAL_ROLE, "gen": generation,
                  "iat": now, "exp": now + TERMINAL_TTL_S}
        return jwt.encode(claims, self._secret, algorithm="HS256")

    def issue_session(self, account_id: str, role: str, site_id: str | None, session_id: str, expires_at: int) -> str:
        """A staff session's token (`role`: admin or operator; `site_id`: an operator's)."""
        claims: dict = {"sub": f"{ACCOUNT_SUB_PREFIX}{account_id}", "role": role, "sid": session_id,
                        "iat": int(time.time()), "exp": expires_at}
        if role == OPERATOR_ROLE:
            claims["site"] = site_id
        return jwt.encode(claims, self._secret, algorithm="HS256")

    def verify(self, token: str | None) -> Identity:
        """An admin's or a participant's token (a terminal's is refused)."""
        identity = self.verify_any(token)
        if isinstance(identity, TerminalIdentity):
            raise Unauthorized("a terminal token is for a site's terminal (/sites and the call log); "
                               "join a meeting with the join link of a call")
        return identity

    def verify_any(self, token: str | None) -> Identity | TerminalIdentity:
        """Any of the hub's tokens, signature and claims checked (a terminal
        token's generation is checked against the database by the caller)."""
        if not token:
            raise Unauthorized("missing token")
        if len(token) > MAX_TOKEN_CHARS:
            raise Unauthorized(f"token is too long ({len(token)} characters; ours are far under {MAX_TOKEN_CHARS})")
        try:
            claims = jwt.decode(
                token, self._secret, algorithms=["HS256"], options={"require": ["sub", "role", "exp"]}
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("token expired") from None
        except jwt.InvalidSignatureError:
            raise Unauthorized("token signature is invalid") from None
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"token is invalid: {exc}") from None
        if claims["role"] == TERMINAL_ROLE:
            return _terminal_identity(claims)
        if isinstance(claims["sub"], str) and claims["sub"].startswith(ACCOUNT_SUB_PREFIX):
            return _session_identity(claims)
        try:
            role = Role(claims["role"])
        except ValueError:
            raise Unauthorized("token has an unknown role") from None
        mid = claims.get("mid")
        if role is not Role.ADMIN and not isinstance(mid, str):
            raise Unauthorized("participant token names no meeting")
        if not isinstance(claims["sub"], str) or id_flaw(claims["sub"]):
            raise Unauthorized("token subject is invalid")
        if isinstance(mid, str) and id_flaw(mid):
            raise Unauthorized("token meeting id is invalid")
        if role is Role.ADMIN and claims["sub"] != ADMIN_SUB:
            # Only admin_token() makes admin tokens: an admin claim over a
            # participant's id is a participant token with its role changed.
            raise Unauthorized("an admin token names no participant")
        if role is Role.ADMIN:
            return Identity(sub=claims["sub"], role=role, meeting_id=None)
        gen = claims.get("gen", 0)
        if not isinstance(gen, int) or isinstance(gen, bool) or gen < 0:
            raise Unauthorized("join token has no valid generation")
        return Identity(sub=claims["sub"], role=role, meeting_id=mid, generation=gen)


def _session_identity(claims: dict) -> Identity:
    """A staff session's claims; its row is checked by the caller
    (sessions/accounts/service.py `check_session`)."""
    sub, role, sid, site = claims["sub"], claims["role"], claims.get("sid"), claims.get("site")
    if id_flaw(sub) or len(sub) == len(ACCOUNT_SUB_PREFIX):
        raise Unauthorized("token subject is invalid")
    if not isinstance(sid, str) or id_flaw(sid):
        raise Unauthorized("session token names no session")
    if role == Role.ADMIN.value:
        if site is not None:
            raise Unauthorized("an admin's session names no site")
        return Identity(sub=sub, role=Role.ADMIN, meeting_id=None, session_id=sid)
    if role == OPERATOR_ROLE:
        if not isinstance(site, str) or id_flaw(site):
            raise Unauthorized("an operator's session token names no site")
        return Identity(sub=sub, role=Role.ADMIN, meeting_id=None, session_id=sid, operator_site=site)
    raise Unauthorized("token has an unknown role")


def _terminal_identity(claims: dict) -> TerminalIdentity:
    site, gen = claims.get("site"), claims.get("gen")
    if not isinstance(site, str) or id_flaw(site) or claims["sub"] != f"site:{site}":
        raise Unauthorized("terminal token names no site")
    if not isinstance(gen, int) or isinstance(gen, bool) or gen < 0:
        raise Unauthorized("terminal token has no valid generation")
    return TerminalIdentity(site_id=site, generation=gen)
