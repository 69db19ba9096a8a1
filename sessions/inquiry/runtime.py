"""The inquiry's per-hub part: its folding service and its clock, run as one.

The hub makes one at start-up and starts its clock; every change, whether a
command or the clock's overtime, is published the same way: the folded state
as `inquiry:state` with the change's seq, then the SFU's floor applied here
(the other processes' clocks apply theirs on their next tick).
"""
from __future__ import annotations

import time

from sessions.events import LoggedEvent
from sessions.host import Host
from sessions.inquiry.machine import Command
from sessions.inquiry.service import InquiryService
from sessions.inquiry.state import InquiryState
from sessions.inquiry.timers import CHECK_INTERVAL_S, InquiryClock, SetAllowlist

WIRE_EVENT = "inquiry:state"


def state_body(state: InquiryState) -> dict:
    return state.to_dict(server_time=time.time())


class InquiryRuntime:
    def __init__(self, host: Host, set_allowlist: SetAllowlist) -> None:
        self.host = host
        self.service = InquiryService(host.db)
        self.clock = InquiryClock(self.service, self.announce, set_allowlist)

    def start(self) -> None:
        # Timers continue from their recorded start: the clock reads deadlines
        # from the database, so a restarted process picks them up on its first tick.
        self.host.every(CHECK_INTERVAL_S, self.clock.tick, "inquiry-clock")

    async def run(self, meeting_id: str, command: Command, actor_id: str | None) -> LoggedEvent | None:
        """Carry out one command; None when it changed nothing."""
        logged, state = await self.service.execute(meeting_id, command, actor_id)
        if logged is not None:
            await self.announce(logged, state)
        return logged

    async def current(self, meeting_id: str) -> InquiryState:
        return await self.service.current(meeting_id)

    async def announce(self, logged: LoggedEvent, state: InquiryState) -> None:
        await self.host.publish(logged, state_body(state), event=WIRE_EVENT)
        await self.clock.apply_media(logged.meeting_id, state)
