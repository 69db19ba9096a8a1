"""Tokens: HS256 JWTs with the contract's claims (sub, mid, role, exp)."""
from __future__ import annotations

import time
from dataclasses import dataclass

import jwt

from sessions.errors import Unauthorized
from sessions.roles import Role

ADMIN_TTL_S = 12 * 3600
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
        return self.issue("admin", Role.ADMIN)

    def verify(self, token: str | None) -> Identity:
        if not token:
            raise Unauthorized("missing token")
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
        if not isinstance(claims["sub"], str):
            raise Unauthorized("token subject is invalid")
        return Identity(sub=claims["sub"], role=role, meeting_id=mid if role is not Role.ADMIN else None)
