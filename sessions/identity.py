"""Tokens: HS256 JWTs with the contract's claims (sub, mid, role, exp)."""
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


@dataclass(frozen=True)
class Identity:
    sub: str
    role: Role
    meeting_id: str | None

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


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

    def admin_token(self) -> str:
        return self.issue(ADMIN_SUB, Role.ADMIN)

    def verify(self, token: str | None) -> Identity:
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
        return Identity(sub=claims["sub"], role=role, meeting_id=mid if role is not Role.ADMIN else None)
