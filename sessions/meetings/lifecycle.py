"""A meeting's kind, schedule and status life cycle.

Status moves only forward: `scheduled → open → started → closed` (a step
may be skipped: a meeting may be closed straight from `scheduled`). Each
move stamps its time (`opened_at`, `started_at`, `closed_at`; a skipped
step stays null) and logs `meeting:status` in the meeting's event log, in
the transaction of the change, so every client learns it with its `seq`.

What a participant may do in each status (checked in
sessions/meetings/invitations.py):
- `scheduled`, `open`, `started`: join and act as before this module (a
  meeting made before it, or by a call, is `scheduled` and joinable: the
  hub never refused a join for a status, and links are tried out before
  the day). `open` and `started` are the office's marks for the console
  and the clients; they admit the same.
- `closed`: every connect is refused ("the meeting is closed (会议已结束)"),
  and the connections it had are closed after `meeting:status` reaches
  them; REST with a join link still works for LINK_GRACE after closing (to
  read papers, results, minutes), then stops.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from sessions import events
from sessions.errors import Conflict, Invalid, NotFound
from sessions.events import LoggedEvent
from sessions.models import Connection, Meeting, utcnow

STATUS_EVENT = "meeting:status"


class MeetingKind(StrEnum):
    COMMITTEE = "committee"  # 常委会/委员会会议
    INQUIRY = "inquiry"  # 专题询问
    ADHOC = "adhoc"  # 临时会议


class MeetingStatus(StrEnum):
    SCHEDULED = "scheduled"
    OPEN = "open"
    STARTED = "started"
    CLOSED = "closed"


ORDER = {status: position for position, status in enumerate(MeetingStatus)}
# The column each status stamps when the meeting moves into it.
STAMPS = {MeetingStatus.OPEN: "opened_at", MeetingStatus.STARTED: "started_at", MeetingStatus.CLOSED: "closed_at"}


def utc(value: datetime | None) -> datetime | None:
    """A time as UTC: SQLite stores no offset (and hands back naive values),
    so what is stored is always UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def iso(value: datetime | None) -> str | None:
    return utc(value).isoformat() if value is not None else None  # type: ignore[union-attr]


def check_schedule(starts_at: datetime | None, ends_at: datetime | None) -> None:
    if starts_at is not None and ends_at is not None and utc(ends_at) <= utc(starts_at):
        raise Invalid("ends_at: must be after starts_at")


def schedule(meeting: Meeting, *, kind: MeetingKind | None = None, starts_at: datetime | None = None,
             ends_at: datetime | None = None, unset: frozenset[str] = frozenset()) -> None:
    """Set the kind and times given (`unset`: fields set to null), checking
    that the end stays after the start."""
    start = None if "starts_at" in unset else utc(starts_at) if starts_at is not None else utc(meeting.starts_at)
    end = None if "ends_at" in unset else utc(ends_at) if ends_at is not None else utc(meeting.ends_at)
    check_schedule(start, end)
    if kind is not None:
        meeting.kind = kind.value
    meeting.starts_at, meeting.ends_at = start, end


def status_of(meeting: Meeting) -> MeetingStatus:
    try:
        return MeetingStatus(meeting.status)
    except ValueError:  # a status written by hand: treat it as not yet opened
        return MeetingStatus.SCHEDULED


def status_payload(meeting: Meeting) -> dict:
    return {
        "status": status_of(meeting).value,
        "opened_at": iso(meeting.opened_at),
        "started_at": iso(meeting.started_at),
        "closed_at": iso(meeting.closed_at),
    }


@dataclass(frozen=True)
class Moved:
    meeting: Meeting
    logged: LoggedEvent


async def move(session: AsyncSession, meeting_id: str, target: MeetingStatus, *, actor: str | None = None) -> Moved:
    """Move the meeting's status forward to `target` (else 409 `conflict`)
    and log `meeting:status`. The meeting row is locked first, so two
    offices moving one meeting at once are ordered and the second is
    refused if it would not move forward any more."""
    # populate_existing: another transaction's move, committed while we
    # waited for the lock, must be what we compare with.
    row = await session.scalar(
        select(Meeting).where(Meeting.id == meeting_id).with_for_update().execution_options(populate_existing=True)
    )
    if row is None:
        raise NotFound("no such meeting")
    current = status_of(row)
    if target is MeetingStatus.SCHEDULED or ORDER[target] <= ORDER[current]:
        raise Conflict(f"the meeting is {current.value}; its status only moves forward "
                       f"(scheduled → open → started → closed), not to {target.value}")
    now = utcnow()
    row.status = target.value
    setattr(row, STAMPS[target], now)
    if target is MeetingStatus.STARTED and row.opened_at is None:
        row.opened_at = now  # started without being opened first: its doors opened then
    await session.flush()
    logged = await events.append(session, meeting_id, STATUS_EVENT, status_payload(row), actor_id=actor)
    return Moved(row, logged)


async def list_meetings(session: AsyncSession, *, status: MeetingStatus | None = None,
                        created_by: str | None = None, limit: int = 200) -> list[Meeting]:
    """Newest first (by creation); `created_by`: only that creator's."""
    query = select(Meeting)
    if status is not None:
        query = query.where(Meeting.status == status.value)
    if created_by is not None:
        query = query.where(Meeting.created_by == created_by)
    return list((await session.scalars(query.order_by(Meeting.created_at.desc(), Meeting.id).limit(limit))).all())


async def connection_sids(session: AsyncSession, meeting_id: str, participant_id: str | None = None) -> list[str]:
    """The live `/meeting` connections of the meeting (or of one participant
    of it), on any process."""
    query = select(Connection.sid).where(Connection.meeting_id == meeting_id)
    if participant_id is not None:
        query = query.where(Connection.participant_id == participant_id)
    return list((await session.scalars(query)).all())
