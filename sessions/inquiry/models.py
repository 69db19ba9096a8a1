"""Inquiry tables (on sessions.models.Base).

The inquiry's truth is the meeting event log (`inquiry.*` events, folded by
`sessions.inquiry.fold`). `InquiryFloor` is only an index over it, written in
the same transaction as each inquiry event, so that the periodic checker of
every process can find due timers and changed floors with one cheap query
instead of folding every meeting's log five times a second.
"""
from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from sessions.models import Base


class InquiryFloor(Base):
    __tablename__ = "inquiry_floors"
    __table_args__ = (Index("ix_inquiry_floors_deadline", "deadline"),)

    meeting_id: Mapped[str] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), primary_key=True)
    # Seq of the last inquiry event folded into this row.
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    # Epoch seconds at which the running timer runs out; NULL when no timer
    # runs or its overtime has already been recorded.
    deadline: Mapped[float | None] = mapped_column(Float)
    topic_open: Mapped[bool] = mapped_column(Boolean, default=False)
    floor_control: Mapped[bool] = mapped_column(Boolean, default=False)
    stage: Mapped[str] = mapped_column(String(16), default="idle")
