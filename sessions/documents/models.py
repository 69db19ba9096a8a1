"""Document tables (on sessions.models.Base).

A document is one upload into one meeting; its bytes live content-addressed
on disk (`sha256`), so the same file uploaded twice is stored once. Sharing
is kept on the row: no roles and no participants means everyone.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, DateTime, ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sessions.models import Base, new_id, utcnow


class Document(Base):
    __tablename__ = "documents"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    meeting_id: Mapped[str] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    sha256: Mapped[str] = mapped_column(String(64))
    pages: Mapped[int] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    # Empty lists on both means "everyone in the meeting".
    share_roles: Mapped[list] = mapped_column(JSON, default=list)
    share_participants: Mapped[list] = mapped_column(JSON, default=list)
    uploaded_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DocumentStage(Base):
    """What the meeting's screens show: one row per meeting.

    Written in the same transaction as the `doc:page` / `doc:presenter` event
    (after the event took the meeting row's lock), so it always matches the
    newest event and a late joiner reads it in one query.
    """

    __tablename__ = "document_stages"

    meeting_id: Mapped[str] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), primary_key=True)
    document_id: Mapped[str | None] = mapped_column(ForeignKey("documents.id", ondelete="SET NULL"))
    page: Mapped[int | None] = mapped_column(Integer)
    # Who turned the page last (the `presenter` of doc:page).
    presenter_id: Mapped[str | None] = mapped_column(String(32))
    # The participant the chair handed the presenter role to, if any.
    designated_id: Mapped[str | None] = mapped_column(ForeignKey("participants.id", ondelete="SET NULL"))
    seq: Mapped[int] = mapped_column(BigInteger, default=0)


class DocumentReceipt(Base):
    """签收: the first time a participant opened a document."""

    __tablename__ = "document_receipts"

    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True)
    participant_id: Mapped[str] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"), primary_key=True)
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DocumentAnnotation(Base):
    """A participant's private ink and notes on one page."""

    __tablename__ = "document_annotations"
    __table_args__ = (UniqueConstraint("document_id", "participant_id", "page", name="uq_document_annotations_page"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    participant_id: Mapped[str] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"))
    page: Mapped[int] = mapped_column(Integer)
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DocumentFile(Base):
    """The uploaded bytes, once per content, so that every process of the hub can render them.

    The data dir holds the working copy; a process whose data dir lacks it
    (another machine, a fresh disk) fetches it from here once.
    """

    __tablename__ = "document_files"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
