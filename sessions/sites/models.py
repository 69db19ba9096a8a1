"""Tables of sites' terminals and calls (on sessions.models.Base).

- `SiteTerminal`: one row per site that was ever issued a terminal token; its
  `generation` is written into every terminal token issued for the site, and
  revoking bumps it, so every token issued so far stops working on every
  process (checked on connect and on each REST call).
- `TerminalConnection`: one live `/sites` connection of a terminal, on a node
  (process). Like `connections` for participants it counts only while its
  node's heartbeat is fresh, and goes with its node (ON DELETE CASCADE) when
  a dead node is reaped.
- `SitePresence`: a row while a site is announced online. Processes flip it
  (and broadcast `directory:presence`) only under the `SiteDirectory` row's
  lock, so each change is announced once, whichever process sees it first.
- `SiteDirectory`: one row, the directory's `seq`.
- `Call`, `CallSite`: a call from one site to others, and each called site's
  state (`ringing` until `expires_at`, then `missed`).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from sessions.models import Base, new_id, utcnow


class SiteTerminal(Base):
    __tablename__ = "site_terminals"

    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True)
    generation: Mapped[int] = mapped_column(Integer, default=0)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class TerminalConnection(Base):
    __tablename__ = "terminal_connections"

    sid: Mapped[str] = mapped_column(String(64), primary_key=True)
    node_id: Mapped[str] = mapped_column(ForeignKey("nodes.id", ondelete="CASCADE"), index=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    generation: Mapped[int] = mapped_column(Integer, default=0)
    connected_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SitePresence(Base):
    __tablename__ = "site_presence"

    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True)
    since: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SiteDirectory(Base):
    __tablename__ = "site_directory"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)


class Call(Base):
    __tablename__ = "calls"
    __table_args__ = (Index("ix_calls_created_at", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    meeting_id: Mapped[str] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    from_site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # The last `call:state` seq handed out; bumped under the row's lock.
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)


class CallSite(Base):
    __tablename__ = "call_sites"
    __table_args__ = (Index("ix_call_sites_ringing", "state", "expires_at"),)

    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(16), default="ringing")
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The participant made for this site when it accepted.
    participant_id: Mapped[str | None] = mapped_column(ForeignKey("participants.id", ondelete="SET NULL"))
