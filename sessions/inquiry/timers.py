"""The periodic side of the inquiry, run by every process.

- Overtime: a timer running out is an event (`inquiry:overtime`), appended
  by whichever process's checker gets the meeting lock first; the others
  re-fold under the lock, see it recorded and do nothing.
- A meeting closed with its topic open (the process that closed it died
  before closing the topic) gets its `inquiry:topic_closed` here.
- Media: the SFU's audio allowlist is per process (each process has its own
  routers), so each process re-applies it when the folded seq of a meeting
  changed, whoever made the change.  It goes to the media service, not to a
  router, so a router made later starts with it (no moment with every
  microphone open).

Nothing here keeps state that matters beyond an optimisation: the deadline
comes from the database, the allowlist is recomputed from the fold.
"""
from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from sessions.events import LoggedEvent
from sessions.errors import StateError
from sessions.inquiry.machine import CloseTopic
from sessions.inquiry.service import InquiryService, chair_ids, floors, open_topics_of_closed_meetings
from sessions.inquiry.state import InquiryState

Publish = Callable[[LoggedEvent, InquiryState], Awaitable[None]]
# (meeting id, participant ids or None for "everyone"): MediaService.set_audio_allowlist
SetAllowlist = Callable[[str, "set[str] | None"], None]

CHECK_INTERVAL_S = 0.2


class InquiryClock:
    def __init__(self, service: InquiryService, publish: Publish, set_allowlist: SetAllowlist) -> None:
        self.service = service
        self.publish = publish
        self.set_allowlist = set_allowlist
        # meeting id -> seq last applied, so an unchanged floor costs nothing.
        self._applied: dict[str, int] = {}
        # Meetings this process gave an allowlist: the only ones where
        # floor control going off needs telling the SFU.
        self._controlled: set[str] = set()

    async def tick(self) -> None:
        now = time.time()
        # One short read per tick (on SQLite every transaction takes the write lock).
        async with self.service.db.read() as session:
            known = await floors(session)
            orphaned = await open_topics_of_closed_meetings(session)
        for meeting_id in orphaned:
            try:
                logged, state = await self.service.execute(meeting_id, CloseTopic(), None)
            except StateError:
                continue  # closed meanwhile by another process
            if logged is not None:
                await self.publish(logged, state)
        for meeting_id, _seq, deadline, _control in known:
            if deadline is not None and deadline <= now:
                logged, state = await self.service.record_overtime(meeting_id)
                if logged is not None:
                    await self.publish(logged, state)
        # Past meetings stay in the table for good: fold only those whose
        # floor is (or was, here) under control, and only when they changed.
        for meeting_id, seq, _deadline, control in known:
            if self._applied.get(meeting_id) != seq and (control or meeting_id in self._controlled):
                await self.apply_media(meeting_id, await self.service.current(meeting_id))

    async def apply_media(self, meeting_id: str, state: InquiryState) -> None:
        """With floor control on, forward only the chair's and the floor's microphones."""
        async with self.service.db.read() as session:
            chairs = await chair_ids(session, meeting_id)
        # A tick that read the log before a command's own apply must not undo it.
        if state.seq < self._applied.get(meeting_id, -1):
            return
        allowlist = state.audio_allowlist(chairs)
        self.set_allowlist(meeting_id, allowlist)
        self._applied[meeting_id] = state.seq
        if allowlist is None:
            self._controlled.discard(meeting_id)
        else:
            self._controlled.add(meeting_id)
