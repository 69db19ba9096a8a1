"""Voting tables (on sessions.models.Base).

Three tables, split so that a secret vote's rows never link a voter to a choice:

- `votes`: the vote, its frozen roster and its result once closed.
- `vote_participation`: WHO voted (one row per voter; the primary key
  (vote_id, voter_id) is the unique constraint that makes a second counted
  ballot impossible). No timestamp, no choice, no ballot reference.
- `vote_ballots`: WHAT was chosen. Random primary key, no timestamp; in a
  secret vote no voter id either. `slot` (a keyed hash of the voter under a
  per-vote key that is destroyed at close) lets a voter change their choice
  while the vote is open; at close the rows are rewritten in hash-chain
  order with `slot` cleared. On SQLite both tables are WITHOUT ROWID so no
  hidden sequential id records insertion order.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from sessions.models import Base, new_id, utcnow


class Vote(Base):
    __tablename__ = "votes"
    __table_args__ = (Index("ix_votes_status_closes_at", "status", "closes_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    meeting_id: Mapped[str] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    batch_id: Mapped[str | None] = mapped_column(String(32), index=True)
    respondent_id: Mapped[str | None] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(300))
    options: Mapped[list] = mapped_column(JSON)
    secret: Mapped[bool] = mapped_column(Boolean)
    eligible_roles: Mapped[list] = mapped_column(JSON)
    base: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="open")
    opened_by: Mapped[str | None] = mapped_column(String(32))
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    closes_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Random per-vote salt of the key that locates a voter's ballot row while
    # the vote is open; set to NULL at close, after which nobody can link.
    key_salt: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    # Entitled and online when the vote opened (the `present` base).
    present_ids: Mapped[list] = mapped_column(JSON, default=list)
    # Frozen at close, in the closing transaction.
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_by: Mapped[str | None] = mapped_column(String(32))
    entitled_ids: Mapped[list | None] = mapped_column(JSON)
    voter_ids: Mapped[list | None] = mapped_column(JSON)
    counts: Mapped[dict | None] = mapped_column(JSON)
    cast: Mapped[int | None] = mapped_column(Integer)
    eligible: Mapped[int | None] = mapped_column(Integer)
    present: Mapped[int | None] = mapped_column(Integer)
    verdict: Mapped[str | None] = mapped_column(String(100))
    satisfaction_rate: Mapped[float | None] = mapped_column(Float)
    valid: Mapped[bool | None] = mapped_column(Boolean)
    chain_head: Mapped[str | None] = mapped_column(String(64))


class VoteParticipation(Base):
    __tablename__ = "vote_participation"
    __table_args__ = (
        PrimaryKeyConstraint("vote_id", "voter_id", name="pk_vote_participation"),
        {"sqlite_with_rowid": False},
    )

    vote_id: Mapped[str] = mapped_column(ForeignKey("votes.id", ondelete="CASCADE"))
    voter_id: Mapped[str] = mapped_column(String(32))
    # Keyed hash of the client's last ballot id (the idempotency key).
    ballot_key: Mapped[str] = mapped_column(String(64))
    # The receipt, encrypted under a key derived from (server secret, voter,
    # ballot id): a resend can be answered with the same receipt, but the row
    # alone does not reveal the receipt (which would point at the ballot).
    receipt_box: Mapped[str] = mapped_column(String(64))


class VoteBallot(Base):
    __tablename__ = "vote_ballots"
    __table_args__ = (
        UniqueConstraint("vote_id", "slot", name="uq_vote_ballots_slot"),
        UniqueConstraint("vote_id", "receipt_hash", name="uq_vote_ballots_receipt"),
        Index("ix_vote_ballots_vote_position", "vote_id", "position"),
        {"sqlite_with_rowid": False},
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    vote_id: Mapped[str] = mapped_column(ForeignKey("votes.id", ondelete="CASCADE"))
    slot: Mapped[str | None] = mapped_column(String(64))
    voter_id: Mapped[str | None] = mapped_column(String(32))  # named votes only
    choice: Mapped[str] = mapped_column(String(100))
    receipt_hash: Mapped[str] = mapped_column(String(64))
    # The hash chain, written at close.
    position: Mapped[int | None] = mapped_column(Integer)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    record_hash: Mapped[str | None] = mapped_column(String(64))
