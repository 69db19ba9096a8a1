"""Tables of the people directory (on sessions.models.Base).

- `Person`: a deputy, a committee member, a department head, an office's
  staff: someone the office invites, kept across meetings. `site_id` is their
  station, hall or department; `code` is the city's own number for them
  (a deputy's number), unique when given; (`name`, `phone`) is unique too,
  so the same person cannot be entered twice under one phone.
- `PersonGroup`: a named set of people (a committee, a delegation), so that
  "every member of the committee" is one pick.
- `PersonGroupMember`: who is in which group.

A meeting's participant may name its person (`participants.person_id`,
declared on `Participant` in sessions/models.py), which is how a person's
history across meetings is found.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sessions.models import Base, new_id, utcnow


class Person(Base):
    __tablename__ = "people"
    __table_args__ = (
        UniqueConstraint("name", "phone", name="uq_people_name_phone"),
        Index("ix_people_site_id", "site_id"),
        Index("ix_people_phone", "phone"),
        Index("ix_people_name", "name"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(24))
    site_id: Mapped[str | None] = mapped_column(ForeignKey("sites.id"))
    level: Mapped[str | None] = mapped_column(String(16))
    phone: Mapped[str | None] = mapped_column(String(32))
    code: Mapped[str | None] = mapped_column(String(64), unique=True)
    note: Mapped[str | None] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PersonGroup(Base):
    __tablename__ = "person_groups"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PersonGroupMember(Base):
    __tablename__ = "person_group_members"

    group_id: Mapped[str] = mapped_column(ForeignKey("person_groups.id", ondelete="CASCADE"), primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), primary_key=True, index=True)
