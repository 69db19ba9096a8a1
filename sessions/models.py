"""The hub's core tables: sites, meetings, participants, presence, events.

Features add their own tables in their own packages on the same `Base`, each
with its own Alembic migration.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

from sqlalchemy import JSON, BigInteger, DateTime, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def new_id() -> str:
    return uuid.uuid4().hex


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    pass


class Site(Base):
    __tablename__ = "sites"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("sites.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Meeting(Base):
    __tablename__ = "meetings"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    title: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(16), default="scheduled")
    starts_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # The last `seq` handed out; bumped with a row-locking UPDATE so that
    # processes sharing one database agree on a gapless order.
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    # The creator's token subject (`admin`, `account:<id>`): an operator
    # reaches the meetings it created (sessions/accounts/scope.py).
    created_by: Mapped[str | None] = mapped_column(String(32))
    # sessions/meetings/: committee/inquiry/adhoc, the scheduled end, and
    # when the status moved (scheduled → open → started → closed).
    kind: Mapped[str] = mapped_column(String(16), default="committee")
    ends_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    opened_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Participant(Base):
    __tablename__ = "participants"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    meeting_id: Mapped[str] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    site_id: Mapped[str | None] = mapped_column(ForeignKey("sites.id"))
    # The join link's generation (sessions/meetings/invitations.py): a token
    # of another `gen` is refused; re-issuing bumps it. `token_issued_at`
    # dates the link of a meeting with no schedule (its expiry counts from it).
    token_generation: Mapped[int] = mapped_column(Integer, default=0)
    token_issued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=utcnow)
    # The directory's person this participant is (sessions/people/): one
    # person's meetings are found through it. Null for an ad-hoc participant.
    person_id: Mapped[str | None] = mapped_column(ForeignKey("people.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Node(Base):
    """A running `plenary serve` process; its heartbeat keeps its presence rows alive."""

    __tablename__ = "nodes"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Connection(Base):
    """One live Socket.IO connection. A participant is online while one is."""

    __tablename__ = "connections"

    sid: Mapped[str] = mapped_column(String(64), primary_key=True)
    node_id: Mapped[str] = mapped_column(ForeignKey("nodes.id", ondelete="CASCADE"), index=True)
    meeting_id: Mapped[str] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    participant_id: Mapped[str] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"), index=True)
    connected_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class MeetingEvent(Base):
    """The append-only log every feature writes to; its `seq` is the contract's."""

    __tablename__ = "meeting_events"
    __table_args__ = (
        UniqueConstraint("meeting_id", "seq", name="uq_meeting_events_seq"),
        Index("ix_meeting_events_type", "meeting_id", "type"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    meeting_id: Mapped[str] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(BigInteger)
    type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    actor_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
