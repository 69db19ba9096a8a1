"""The periodic side of the inquiry, run by every process.

- Overtime: a timer running out is an event (`inquiry.overtime`), appended
  by whichever process's checker gets the meeting lock first; the others
  re-fold under the lock, see it recorded and do nothing.
- Media: the SFU's audio allowlist is per process (each process has its own
  routers), so each process re-applies it when the folded seq of a meeting
  changed, whoever made the change.

Nothing here keeps state that matters beyond an optimisation: the deadline
comes from the database, the allowlist is recomputed from the fold.
"""
from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from sessions.events import LoggedEvent
from sessions.inquiry.service import InquiryService, chair_ids, floors
from sessions.inquiry.state import InquiryState

Publish = Callable[[LoggedEvent, InquiryState], Awaitable[None]]
RouterOf = Callable[[str], Any]  # meeting id -> a media Router with set_audio_allowlist, or None

CHECK_INTERVAL_S = 0.2


class InquiryClock:
    def __init__(self, service: InquiryService, publish: Publish, router_of: RouterOf) -> None:
        self.service = service
        self.publish = publish
        self.router_of = router_of
        # meeting id -> (router, seq) last applied, so an unchanged floor costs nothing.
        self._applied: dict[str, tuple[Any, int]] = {}

    async def tick(self) -> None:
        now = time.time()
        # One short read per tick (on SQLite every transaction takes the write lock).
        async with self.service.db.read() as session:
            known = await floors(session)
        for meeting_id, _seq, deadline in known:
            if deadline is not None and deadline <= now:
                logged, state = await self.service.record_overtime(meeting_id)
                if logged is not None:
                    await self.publish(logged, state)
        for meeting_id, seq, _deadline in known:
            router = self.router_of(meeting_id)
            applied = self._applied.get(meeting_id)
            if router is None or (applied is not None and applied[0] is router and applied[1] == seq):
                continue
            await self.apply_media(meeting_id, await self.service.current(meeting_id))

    async def apply_media(self, meeting_id: str, state: InquiryState) -> None:
        """With floor control on, forward only the chair's and the floor's microphones."""
        router = self.router_of(meeting_id)
        if router is None:
            return
        async with self.service.db.read() as session:
            chairs = await chair_ids(session, meeting_id)
        router.set_audio_allowlist(state.audio_allowlist(chairs))
        self._applied[meeting_id] = (router, state.seq)
