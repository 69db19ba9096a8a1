"""The append-only meeting event log and the `seq` it hands out."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from sessions.errors import NotFound
from sessions.models import Meeting, MeetingEvent, utcnow


@dataclass(frozen=True)
class LoggedEvent:
    meeting_id: str
    seq: int
    type: str
    payload: dict
    created_at: datetime


async def append(
    session: AsyncSession, meeting_id: str, type: str, payload: dict, *, actor_id: str | None = None
) -> LoggedEvent:
    """Append one event in the caller's transaction and return it with its seq.

    The UPDATE ... RETURNING takes the meeting row's lock, so concurrent
    appenders (in any process) queue and each gets the next number.
    """
    result = await session.execute(
        update(Meeting)
        .where(Meeting.id == meeting_id)
        .values(last_seq=Meeting.last_seq + 1)
        .returning(Meeting.last_seq)
    )
    seq = result.scalar_one_or_none()
    if seq is None:
        raise NotFound("no such meeting")
    now = utcnow()
    session.add(
        MeetingEvent(meeting_id=meeting_id, seq=seq, type=type, payload=payload, actor_id=actor_id, created_at=now)
    )
    await session.flush()
    return LoggedEvent(meeting_id, seq, type, payload, now)


async def current_seq(session: AsyncSession, meeting_id: str) -> int:
    seq = await session.scalar(select(Meeting.last_seq).where(Meeting.id == meeting_id))
    if seq is None:
        raise NotFound("no such meeting")
    return seq


async def events_of(
    session: AsyncSession, meeting_id: str, *, types: tuple[str, ...] | None = None, after_seq: int = 0
) -> list[LoggedEvent]:
    query = select(MeetingEvent).where(MeetingEvent.meeting_id == meeting_id, MeetingEvent.seq > after_seq)
    if types:
        query = query.where(MeetingEvent.type.in_(types))
    rows = (await session.scalars(query.order_by(MeetingEvent.seq))).all()
    return [LoggedEvent(r.meeting_id, r.seq, r.type, r.payload, r.created_at) for r in rows]
