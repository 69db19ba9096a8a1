"""Tables of staff accounts (on sessions.models.Base).

- `Account`: one person of the congress office. `password_hash` is argon2id
  (never the password); `role` is `admin` (the whole hub) or `operator`
  (`site_id` and the sites below it).
- `AccountSession`: one sign-in. Its id is the session token's `sid` claim;
  every REST call and Socket.IO connect with the token reads this row, so
  signing out (`revoked_at`) stops the token on every process of the hub.
- `SignInThrottle`: failed sign-ins per user name and per client address,
  kept in the database because several processes form one hub.
"""
from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from sessions.models import Base, utcnow

ACCOUNT_ROLES = ("admin", "operator")


def new_account_id() -> str:
    # 24 hex characters: the token's subject `account:<id>` is then 32, the
    # width of the columns that record who did something (`created_by`,
    # `started_by`, `uploaded_by`).
    return secrets.token_hex(12)


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_account_id)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    site_id: Mapped[str | None] = mapped_column(ForeignKey("sites.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AccountSession(Base):
    __tablename__ = "account_sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SignInThrottle(Base):
    """`key` is `user:<name>` or `addr:<address>`. Failures count from
    `window_start`; reaching the limit sets `locked_until`."""

    __tablename__ = "sign_in_throttle"

    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
