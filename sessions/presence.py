"""Who is online, kept in the database so that every process agrees.

Each process is a node with a heartbeat. A connection row counts only while
its node's heartbeat is fresh, so a node that dies takes its clients offline
after `NODE_TIMEOUT` without anyone cleaning up after it.
"""
from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from sessions import directory, events
from sessions.events import LoggedEvent
from sessions.models import Connection, MeetingEvent, Node, Participant, utcnow

# How long a silent node's clients still count as online. Operators on a
# flaky network may raise it; tests lower it to watch a node die quickly.
NODE_TIMEOUT = timedelta(seconds=float(os.environ.get("PLENARY_NODE_TIMEOUT_S", "20")))
HEARTBEAT_INTERVAL = NODE_TIMEOUT / 4


async def register_node(session: AsyncSession, node_id: str) -> None:
    now = utcnow()
    session.add(Node(id=node_id, started_at=now, heartbeat_at=now))
    await session.flush()


async def heartbeat(session: AsyncSession, node_id: str) -> bool:
    """Refresh the node's heartbeat; False when its row is gone (another node
    reaped it while this one could not reach the database)."""
    result = await session.execute(update(Node).where(Node.id == node_id).values(heartbeat_at=utcnow()))
    return result.rowcount > 0


# (meeting_id, participant_id) of a connection this node holds, by sid.
Held = Mapping[str, tuple[str, str]]


async def restore_node(
    session: AsyncSession, node_id: str, held_before: Held, held_now: Callable[[], Collection[str]]
) -> tuple[set[str], set[str]]:
    """Make the database agree with what a node holds, after it could not
    reach the database for a while: its node row back if another node reaped
    it meanwhile, a row for each connection it still holds whose row is gone,
    and none for a connection that closed while its delete could not run.

    `held_before` is the node's connections taken before this call (each one's
    row was committed by then); `held_now()` the sids it holds (or is
    admitting) at the moment it is called, after the rows are read. Returns
    the sids given rows again and the meetings whose online set changed.
    """
    if await session.get(Node, node_id) is None:
        now = utcnow()
        session.add(Node(id=node_id, started_at=now, heartbeat_at=now))
        await session.flush()
    rows = dict((await session.execute(
        select(Connection.sid, Connection.meeting_id).where(Connection.node_id == node_id)
    )).all())
    now_held = set(held_now())
    changed: set[str] = set()
    stale = [sid for sid in rows if sid not in now_held]
    for chunk in _chunks(stale):
        await session.execute(delete(Connection).where(Connection.sid.in_(chunk)))
    changed.update(rows[sid] for sid in stale)
    missing = {sid: held for sid, held in held_before.items() if sid in now_held and sid not in rows}
    restored: set[str] = set()
    if missing:
        existing: set[str] = set()
        for chunk in _chunks(sorted({pid for _, pid in missing.values()})):
            existing.update(await session.scalars(select(Participant.id).where(Participant.id.in_(chunk))))
        for sid, (meeting_id, participant_id) in missing.items():
            if participant_id in existing:  # not removed from the meeting meanwhile
                session.add(Connection(sid=sid, node_id=node_id, meeting_id=meeting_id, participant_id=participant_id))
                restored.add(sid)
                changed.add(meeting_id)
        await session.flush()
    return restored, changed


def _chunks(items: list[str], size: int = 500):
    for start in range(0, len(items), size):
        yield items[start:start + size]


async def forget_node(session: AsyncSession, node_id: str) -> None:
    await session.execute(delete(Connection).where(Connection.node_id == node_id))
    await session.execute(delete(Node).where(Node.id == node_id))


async def reap_dead_nodes(session: AsyncSession) -> list[Connection]:
    """Delete nodes whose heartbeat stopped; returns the connections they had
    (detached rows: sid, meeting_id, participant_id)."""
    cutoff = utcnow() - NODE_TIMEOUT
    dead = (await session.scalars(select(Node.id).where(Node.heartbeat_at < cutoff))).all()
    if not dead:
        return []
    lost = list((await session.scalars(select(Connection).where(Connection.node_id.in_(dead)))).all())
    for connection in lost:
        session.expunge(connection)
    await session.execute(delete(Connection).where(Connection.node_id.in_(dead)))
    await session.execute(delete(Node).where(Node.id.in_(dead)))
    return lost


async def connect(session: AsyncSession, sid: str, node_id: str, meeting_id: str, participant_id: str) -> None:
    session.add(Connection(sid=sid, node_id=node_id, meeting_id=meeting_id, participant_id=participant_id))
    await session.flush()


async def disconnect(session: AsyncSession, sid: str) -> Connection | None:
    conn = await session.get(Connection, sid)
    if conn is not None:
        await session.delete(conn)
        await session.flush()
    return conn


async def online_ids(session: AsyncSession, meeting_id: str) -> set[str]:
    cutoff = utcnow() - NODE_TIMEOUT
    rows = await session.scalars(
        select(Connection.participant_id)
        .join(Node, Node.id == Connection.node_id)
        .where(Connection.meeting_id == meeting_id, Node.heartbeat_at >= cutoff)
        .distinct()
    )
    return set(rows.all())


async def connection_count(session: AsyncSession, participant_id: str) -> int:
    return await session.scalar(select(func.count()).where(Connection.participant_id == participant_id)) or 0


async def live_meeting_ids(session: AsyncSession) -> list[str]:
    cutoff = utcnow() - NODE_TIMEOUT
    rows = await session.scalars(
        select(Connection.meeting_id).join(Node, Node.id == Connection.node_id).where(Node.heartbeat_at >= cutoff).distinct()
    )
    return list(rows.all())


# -- the roster ---------------------------------------------------------------


class PeopleCache:
    """The people of each meeting (the roster without presence), kept while
    they stay the same. Rosters go out for every join and leave, and a
    state:sync per joining page: at 2,000 participants, reading and shaping
    them each time was most of a join's cost.

    Participants are only ever added (there is no rename or removal), so
    their count and the newest one's creation time name a version of the
    people; one aggregate query checks it. Per process, bounded, and always
    checked against the database: nothing in it can be stale or lost."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._entries: OrderedDict[str, tuple[str, list[dict]]] = OrderedDict()

    async def people(self, session: AsyncSession, meeting_id: str) -> tuple[str, list[dict]]:
        """(version, people in roster order) of the meeting."""
        count, newest = (
            await session.execute(
                select(func.count(), func.max(Participant.created_at)).where(Participant.meeting_id == meeting_id)
            )
        ).one()
        version = f"{count}:{newest.isoformat() if newest else ''}"
        hit = self._entries.get(meeting_id)
        if hit is not None and hit[0] == version:
            self._entries.move_to_end(meeting_id)
            return hit
        entry = (version, [p.to_dict() for p in await directory.participants_of(session, meeting_id)])
        self._entries[meeting_id] = entry
        self._entries.move_to_end(meeting_id)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)
        return entry


async def roster_of(session: AsyncSession, meeting_id: str, cache: PeopleCache | None = None) -> list[dict]:
    return (await _roster(session, meeting_id, cache))[1]


async def _roster(session: AsyncSession, meeting_id: str, cache: PeopleCache | None) -> tuple[str, list[dict]]:
    version, people = await (cache or PeopleCache(size=0)).people(session, meeting_id)
    online = await online_ids(session, meeting_id)
    return version, [{**p, "online": p["id"] in online} for p in people]


@dataclass(frozen=True)
class PresenceChange:
    """What a roster event changed when only presence changed: who came
    online and who went offline since the meeting's previous roster event."""

    online: list[str]
    offline: list[str]


async def record_roster(
    session: AsyncSession, meeting_id: str, cache: PeopleCache | None = None
) -> tuple[LoggedEvent, list[dict], PresenceChange | None]:
    """Log a `roster` event (who is online) and return it with the roster it
    describes: one transaction, so a client that compares seqs never sees an
    older roster carry a newer number.

    The third value is the change since the previous roster event when only
    presence changed (None when people joined the meeting, left it or were
    renamed, or there is no previous roster event): a meeting of thousands
    then sends a few ids per join instead of the whole roster to everyone."""
    people, participants = await _roster(session, meeting_id, cache)
    online = sorted(p["id"] for p in participants if p["online"])
    logged = await events.append(session, meeting_id, "roster", {"online": online, "people": people})
    # Read after the append: it holds the meeting row's lock, so the roster
    # event before ours is final and no other can land between the two.
    previous = await session.scalar(
        select(MeetingEvent.payload)
        .where(MeetingEvent.meeting_id == meeting_id, MeetingEvent.type == "roster", MeetingEvent.seq < logged.seq)
        .order_by(MeetingEvent.seq.desc())
        .limit(1)
    )
    if not isinstance(previous, dict) or previous.get("people") != people:
        return logged, participants, None
    before, now = set(previous.get("online") or ()), set(online)
    return logged, participants, PresenceChange(online=sorted(now - before), offline=sorted(before - now))
