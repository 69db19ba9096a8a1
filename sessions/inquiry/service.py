"""The inquiry against the database: serialized commands over the event log.

A command is read-fold-validate-append inside ONE transaction that first
locks the meeting row. Why the lock comes first: `events.append` would take
the same lock, but only at its UPDATE, after we had read and validated an
older state; two processes could then both grant the floor from the same
`idle`. Locking before reading makes the fold we validate against the latest
one. On PostgreSQL that is `SELECT ... FOR UPDATE` on the meeting row; on
SQLite the dialect drops FOR UPDATE, and `BEGIN IMMEDIATE` (sessions.db)
already holds the database's write lock from the start of the transaction.

Each process caches the folded state per meeting; the cache is only a start
point for `fold`, which reads every event after its seq, so a stale cache
(another process appended) is brought up to date, never trusted blindly.
"""
from __future__ import annotations

import time
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from sessions import events
from sessions.db import Database
from sessions.errors import NotFound
from sessions.events import LoggedEvent
from sessions.inquiry import fold as ev
from sessions.inquiry.fold import fold
from sessions.inquiry.machine import Command, decide, named_participants
from sessions.inquiry.models import InquiryFloor
from sessions.inquiry.state import EMPTY, InquiryState
from sessions.meetings.lifecycle import MeetingStatus
from sessions.models import Meeting, Participant
from sessions.roles import Role

Outcome = tuple[LoggedEvent | None, InquiryState]


class InquiryService:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._cache: dict[str, InquiryState] = {}

    async def state_in(self, session: AsyncSession, meeting_id: str) -> InquiryState:
        """The current state, folded from the cache point on (in the caller's transaction)."""
        cached = self._cache.get(meeting_id, EMPTY)
        newer = await events.events_of(session, meeting_id, types=ev.TYPES, after_seq=cached.seq)
        return fold(newer, cached)

    async def current(self, meeting_id: str) -> InquiryState:
        async with self.db.read() as session:
            state = await self.state_in(session, meeting_id)
        self._remember(meeting_id, state)
        return state

    async def execute(self, meeting_id: str, command: Command, actor_id: str | None) -> Outcome:
        async with self.db.transaction() as tx:
            await lock_meeting(tx, meeting_id)
            state = await self.state_in(tx, meeting_id)
            roles = await roles_of(tx, meeting_id, named_participants(command))
            decision = decide(state, command, time.time(), roles)
            if decision is None:
                logged, new_state = None, state
            else:
                logged, new_state = await _append(tx, meeting_id, state, *decision, actor_id=actor_id)
        self._remember(meeting_id, new_state)
        return logged, new_state

    async def record_overtime(self, meeting_id: str) -> Outcome:
        """Append `inquiry:overtime` if the running timer is past its end and
        none was recorded; re-checked under the lock, so across processes
        exactly one appends it."""
        now = time.time()
        async with self.db.transaction() as tx:
            await lock_meeting(tx, meeting_id)
            state = await self.state_in(tx, meeting_id)
            timer = state.timer
            if timer is None or state.overtime or now < timer.ends_at:
                await save_floor(tx, meeting_id, state)  # the index was stale; mend it
                logged, new_state = None, state
            else:
                payload = {"stage": state.stage.value, "started_at": timer.started_at,
                           "duration_s": timer.duration_s, "at": now}
                logged, new_state = await _append(tx, meeting_id, state, ev.OVERTIME, payload, actor_id=None)
        self._remember(meeting_id, new_state)
        return logged, new_state

    def _remember(self, meeting_id: str, state: InquiryState) -> None:
        cached = self._cache.get(meeting_id)
        if cached is None or cached.seq <= state.seq:
            self._cache[meeting_id] = state


async def _append(
    tx: AsyncSession, meeting_id: str, state: InquiryState, type: str, payload: dict, *, actor_id: str | None
) -> tuple[LoggedEvent, InquiryState]:
    logged = await events.append(tx, meeting_id, type, payload, actor_id=actor_id)
    new_state = fold([logged], state)
    await save_floor(tx, meeting_id, new_state)
    return logged, new_state


async def lock_meeting(session: AsyncSession, meeting_id: str) -> None:
    found = await session.scalar(select(Meeting.id).where(Meeting.id == meeting_id).with_for_update())
    if found is None:
        raise NotFound("no such meeting")


async def roles_of(session: AsyncSession, meeting_id: str, ids: Iterable[str]) -> dict[str, str]:
    wanted = set(ids)
    if not wanted:
        return {}
    rows = await session.execute(
        select(Participant.id, Participant.role).where(Participant.meeting_id == meeting_id, Participant.id.in_(wanted))
    )
    return {pid: role for pid, role in rows.all()}


async def chair_ids(session: AsyncSession, meeting_id: str) -> set[str]:
    rows = await session.scalars(
        select(Participant.id).where(Participant.meeting_id == meeting_id, Participant.role == Role.CHAIR.value)
    )
    return set(rows.all())


async def save_floor(session: AsyncSession, meeting_id: str, state: InquiryState) -> None:
    """Keep the checker's index in step with the state (same transaction)."""
    floor = await session.get(InquiryFloor, meeting_id)
    if floor is None:
        floor = InquiryFloor(meeting_id=meeting_id)
        session.add(floor)
    floor.last_seq = state.seq
    floor.deadline = state.timer.ends_at if state.timer is not None and not state.overtime else None
    floor.topic_open = state.topic is not None
    floor.floor_control = state.floor_control
    floor.stage = state.stage.value
    await session.flush()


async def open_topics_of_closed_meetings(session: AsyncSession) -> list[str]:
    """Meetings closed with a topic still open: the process that closed the
    meeting closes the topic at once; this finds those it could not (it died)."""
    return list(await session.scalars(
        select(InquiryFloor.meeting_id)
        .join(Meeting, Meeting.id == InquiryFloor.meeting_id)
        .where(InquiryFloor.topic_open.is_(True), Meeting.status == MeetingStatus.CLOSED)
    ))


async def floors(session: AsyncSession) -> list[tuple[str, int, float | None, bool]]:
    """(meeting id, last inquiry seq, deadline, floor control on) of every
    meeting that ever had an inquiry."""
    rows = await session.execute(
        select(InquiryFloor.meeting_id, InquiryFloor.last_seq, InquiryFloor.deadline, InquiryFloor.floor_control)
    )
    return [tuple(row) for row in rows.all()]
