"""Attendance (出席情况): who came to a meeting, when and for how long,
folded from its `roster` events (sessions/presence.py `record_roster`).

Each roster event lists who was online at its `created_at`; between two
events nothing changed. So a participant comes online at the first event
that lists them after one that did not, and leaves at the first event that
no longer lists them. Someone who came and went inside one roster debounce
(signaling/hub.py ROSTER_DEBOUNCE_S) is in no event and counts as absent:
the log is the record, and that is what it holds.

`Fold` is pure (events in seq order in, numbers out); `attendance_of` reads
the log as a stream: a long meeting of 2,000 has many roster events, each
listing the ids online, and holding them all at once is what it avoids.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from sessions import directory
from sessions.models import MeetingEvent
from sessions.roles import Role

# The meeting's members: they are expected (应到). Respondents, clerks and
# observers (the hall's big screen) are listed but not counted.
EXPECTED_ROLES = frozenset({Role.CHAIR, Role.MEMBER, Role.DEPUTY})

# Roster events read per round trip.
STREAM_CHUNK = 200


def utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; what is stored is UTC.
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


@dataclass
class Presence:
    """One participant's attendance so far."""

    first_joined_at: datetime | None = None
    last_left_at: datetime | None = None
    online_s: float = 0.0
    joins: int = 0
    online_since: datetime | None = None  # the open interval's start, while online

    @property
    def present(self) -> bool:
        return self.joins > 0


class Fold:
    """Roster events, in seq order, into each participant's `Presence`."""

    def __init__(self) -> None:
        self.people: dict[str, Presence] = {}
        self._online: set[str] = set()

    def add(self, at: datetime, payload: dict | None) -> None:
        at = utc(at)
        online = set((payload or {}).get("online") or ())
        for pid in online - self._online:
            p = self.people.setdefault(pid, Presence())
            p.joins += 1
            p.online_since = at
            if p.first_joined_at is None:
                p.first_joined_at = at
        for pid in self._online - online:
            p = self.people[pid]
            p.online_s += _span(p.online_since, at)
            p.online_since = None
            p.last_left_at = at
        self._online = online

    def finish(self, end: datetime) -> dict[str, Presence]:
        """Close the intervals still open at `end` (the meeting's close, or
        now) and return everyone who was ever online; who is still online
        has no `last_left_at`. Call once."""
        end = utc(end)
        for pid in self._online:
            p = self.people[pid]
            p.online_s += _span(p.online_since, end)
            p.online_since = None
            p.last_left_at = None  # they never left
        self._online = set()
        return self.people


def _span(start: datetime | None, end: datetime) -> float:
    return max(0.0, (end - start).total_seconds()) if start else 0.0


def fold(events: Iterable[tuple[datetime, dict]], end: datetime) -> dict[str, Presence]:
    """(created_at, payload) of roster events in seq order -> Presence by participant id."""
    folding = Fold()
    for at, payload in events:
        folding.add(at, payload)
    return folding.finish(end)


def _iso(value: datetime | None) -> str | None:
    return utc(value).isoformat() if value else None


async def attendance_of(session: AsyncSession, meeting_id: str, now: datetime) -> dict:
    """`{expected, present, absent, people: [{participant_id, name, role,
    site, present, first_joined_at, last_left_at, online_s, joins}]}`, people
    in roster order; the counts are over the members (EXPECTED_ROLES)."""
    meeting = await directory.get_meeting(session, meeting_id)
    participants = await directory.participants_of(session, meeting_id)
    folding = Fold()
    rows = await session.stream(
        select(MeetingEvent.created_at, MeetingEvent.payload)
        .where(MeetingEvent.meeting_id == meeting_id, MeetingEvent.type == "roster")
        .order_by(MeetingEvent.seq)
        .execution_options(yield_per=STREAM_CHUNK)
    )
    async for at, payload in rows:
        folding.add(at, payload)
    presence = folding.finish(utc(meeting.closed_at) if meeting.closed_at else now)
    people = []
    for p in participants:
        seen = presence.get(p.id) or Presence()
        people.append({
            "participant_id": p.id, "name": p.name, "role": p.role,
            "site": p.site.to_dict() if p.site else None, "present": seen.present,
            "first_joined_at": _iso(seen.first_joined_at),
            "last_left_at": _iso(seen.last_left_at),
            "online_s": round(seen.online_s, 3), "joins": seen.joins,
        })
    members = [p for p in people if p["role"] in EXPECTED_ROLES]
    present = sum(p["present"] for p in members)
    return {"expected": len(members), "present": present, "absent": len(members) - present, "people": people}
