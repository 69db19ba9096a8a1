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

from sessions.host import Host
from voting import service


INTERVAL = 0.5  # two updates a second keep the bar live; each costs a send per client


class TurnoutPump:
    """The hub's one pump: its task is the hub's, cancelled at close."""

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


async def broadcast_turnout(hub: Host, meeting_id: str, vote_id: str) -> None:
    async with hub.db.transaction() as tx:
        logged = await service.record_turnout(tx, meeting_id, vote_id)
    if logged is not None:
        await hub.publish(logged)
