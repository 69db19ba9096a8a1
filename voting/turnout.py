"""Turnout broadcasts, coalesced: at most one `vote:turnout` per vote per
`INTERVAL` from each process, however fast ballots arrive.

A cast only marks its vote as changed here; the figures themselves are read
from the database inside the transaction that appends the event, after the
meeting row's lock is taken, so the numbers never go backwards in seq order,
even with several processes. Losing a pending mark (a process dies) loses a
broadcast, never a ballot: the next cast or `state:sync` shows the truth.
"""
from __future__ import annotations

import asyncio
import weakref

from sqlalchemy import select

from sessions import events as event_log
from sessions.host import Host
from sessions.models import Meeting
from voting import service


INTERVAL = 0.5  # two updates a second keep the bar live; each costs a send per client


class TurnoutPump:
    def __init__(self, hub: Host) -> None:
        self.hub = hub
        self.pending: dict[str, str] = {}  # vote_id -> meeting_id
        self.task: asyncio.Task | None = None

    def mark(self, meeting_id: str, vote_id: str) -> None:
        self.pending[vote_id] = meeting_id
        if self.task is None or self.task.done():
            self.task = self.hub.spawn(self._run(), "vote-turnout")

    async def _run(self) -> None:
        # The first change goes out at once; later ones ride the next tick.
        while self.pending:
            batch, self.pending = self.pending, {}
            for vote_id, meeting_id in batch.items():
                await broadcast_turnout(self.hub, meeting_id, vote_id)
            await asyncio.sleep(INTERVAL)


_pumps: "weakref.WeakKeyDictionary[Host, TurnoutPump]" = weakref.WeakKeyDictionary()


def pump_of(hub: Host) -> TurnoutPump:
    pump = _pumps.get(hub)
    if pump is None:
        pump = _pumps[hub] = TurnoutPump(hub)
    return pump


async def broadcast_turnout(hub: Host, meeting_id: str, vote_id: str) -> None:
    async with hub.db.transaction() as tx:
        # Lock the meeting row first (it is what append locks too), so that
        # the count read below includes every ballot an earlier seq counted.
        await tx.execute(select(Meeting.id).where(Meeting.id == meeting_id).with_for_update())
        vote = await service.get_vote(tx, vote_id)
        if vote.status != service.OPEN:
            return  # the result says it all now
        cast, eligible = await service.turnout(tx, vote)
        logged = await event_log.append(
            tx, meeting_id, "vote:turnout", {"vote_id": vote_id, "cast": cast, "eligible": eligible}
        )
    await hub.broadcast(logged, "vote:turnout")
