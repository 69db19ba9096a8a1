"""Terminal tokens' generations, terminal connections, and the directory.

A site is online while one of its terminal connections lives on a node
(process) whose heartbeat is fresh: the same rule, and the same node rows and
heartbeat, as participants' presence (sessions/presence.py). A node reaped
dead takes its terminal rows with it (ON DELETE CASCADE).

What clients were told is kept apart (`site_presence`: a row while a site is
announced online). `reconcile` compares the two and announces each change
once, under the directory row's lock, with the directory's next `seq`: any
process may run it (after a connect or a disconnect, and periodically, which
is how a dead process's sites go offline), and only the first to see a change
announces it.
"""
from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from sessions.errors import NotFound, Unauthorized
from sessions.models import Node, Site, utcnow
from sessions.presence import NODE_TIMEOUT
from sessions.sites.models import SiteDirectory, SitePresence, SiteTerminal, TerminalConnection

DIRECTORY_ROW = 1


@dataclass(frozen=True)
class PresenceChange:
    seq: int
    site_id: str
    online: bool

    def to_dict(self) -> dict:
        return {"seq": self.seq, "site_id": self.site_id, "online": self.online}


# -- tokens -------------------------------------------------------------------


async def current_generation(session: AsyncSession, site_id: str) -> int:
    return await session.scalar(select(SiteTerminal.generation).where(SiteTerminal.site_id == site_id)) or 0


async def generation_for_issue(session: AsyncSession, site_id: str) -> int:
    """The generation a new terminal token of the site carries."""
    if await session.get(Site, site_id) is None:
        raise NotFound("no such site")
    row = await session.get(SiteTerminal, site_id)
    if row is None:
        row = SiteTerminal(site_id=site_id, generation=0)
        session.add(row)
        await session.flush()
    return row.generation


async def revoke(session: AsyncSession, site_id: str) -> int:
    """Every terminal token issued for the site so far stops working; returns
    the new generation. The row's lock orders this against `admit`."""
    if await session.get(Site, site_id) is None:
        raise NotFound("no such site")
    result = await session.execute(
        update(SiteTerminal).where(SiteTerminal.site_id == site_id)
        .values(generation=SiteTerminal.generation + 1, revoked_at=utcnow())
        .returning(SiteTerminal.generation)
    )
    generation = result.scalar_one_or_none()
    if generation is None:  # never issued: nothing to revoke, but later tokens start above
        session.add(SiteTerminal(site_id=site_id, generation=1, revoked_at=utcnow()))
        await session.flush()
        generation = 1
    return generation


async def check_token(session: AsyncSession, site_id: str, generation: int, *, lock: bool = False) -> Site:
    """The terminal token's site, if the token still counts (else 401)."""
    query = select(SiteTerminal.generation).where(SiteTerminal.site_id == site_id)
    if lock:
        query = query.with_for_update()
    current = await session.scalar(query)
    site = await session.get(Site, site_id)
    if site is None:
        raise Unauthorized("terminal token names no site of this hub")
    if (current or 0) != generation:
        raise Unauthorized("this terminal token has been revoked; ask the hub's administrator for a new one")
    return site


# -- connections ----------------------------------------------------------------


async def admit(session: AsyncSession, sid: str, node_id: str, site_id: str, generation: int) -> Site:
    """Check the token against the site's generation and record the
    connection, in one transaction: a revocation either comes before (the
    token is refused) or after (it finds this row and closes it)."""
    site = await check_token(session, site_id, generation, lock=True)
    session.add(TerminalConnection(sid=sid, node_id=node_id, site_id=site_id, generation=generation))
    await session.flush()
    return site


async def leave(session: AsyncSession, sid: str) -> None:
    await session.execute(delete(TerminalConnection).where(TerminalConnection.sid == sid))


async def connection_sids(session: AsyncSession, site_id: str) -> list[str]:
    """Every live terminal connection of the site, on any process."""
    return list((await session.scalars(select(TerminalConnection.sid).where(TerminalConnection.site_id == site_id))).all())


async def node_rows(session: AsyncSession, node_id: str) -> dict[str, str]:
    """sid → site id of the terminal rows the node has."""
    rows = await session.execute(
        select(TerminalConnection.sid, TerminalConnection.site_id).where(TerminalConnection.node_id == node_id)
    )
    return dict(rows.all())


async def restore_node(
    session: AsyncSession, node_id: str, missing: Mapping[str, tuple[str, int]], stale: Collection[str]
) -> bool:
    """Make the node's terminal rows agree with what it holds: rows again for
    connections it holds whose rows went (its node was reaped while it could
    not reach the database), none for connections it no longer holds.
    `missing`: sid → (site id, generation). False while the node has no row
    (the hub's heartbeat registers it again first)."""
    if stale:
        await session.execute(delete(TerminalConnection).where(TerminalConnection.sid.in_(list(stale))))
    if not missing:
        return True
    if await session.get(Node, node_id) is None:
        return False
    present = set((await session.scalars(
        select(TerminalConnection.sid).where(TerminalConnection.sid.in_(list(missing)))
    )).all())
    sites = set((await session.scalars(select(Site.id).where(Site.id.in_({s for s, _ in missing.values()})))).all())
    for sid, (site_id, generation) in missing.items():
        if sid not in present and site_id in sites:
            session.add(TerminalConnection(sid=sid, node_id=node_id, site_id=site_id, generation=generation))
    await session.flush()
    return True


async def generations(session: AsyncSession, site_ids: Collection[str]) -> dict[str, int]:
    rows = await session.execute(
        select(SiteTerminal.site_id, SiteTerminal.generation).where(SiteTerminal.site_id.in_(list(site_ids)))
    )
    return dict(rows.all())


# -- presence and the directory -----------------------------------------------


async def live_site_ids(session: AsyncSession, site_ids: Collection[str] | None = None) -> set[str]:
    """Sites with a terminal connected on a node whose heartbeat is fresh."""
    query = (
        select(TerminalConnection.site_id)
        .join(Node, Node.id == TerminalConnection.node_id)
        .where(Node.heartbeat_at >= utcnow() - NODE_TIMEOUT)
        .distinct()
    )
    if site_ids is not None:
        query = query.where(TerminalConnection.site_id.in_(list(site_ids)))
    return set((await session.scalars(query)).all())


async def announced_site_ids(session: AsyncSession, site_ids: Collection[str] | None = None) -> set[str]:
    query = select(SitePresence.site_id)
    if site_ids is not None:
        query = query.where(SitePresence.site_id.in_(list(site_ids)))
    return set((await session.scalars(query)).all())


async def differs(session: AsyncSession, site_ids: Collection[str] | None = None) -> bool:
    """Whether what was announced differs from who is connected (a cheap
    read; `reconcile` takes the lock only then)."""
    return await live_site_ids(session, site_ids) != await announced_site_ids(session, site_ids)


async def reconcile(session: AsyncSession, site_ids: Collection[str] | None = None) -> list[PresenceChange]:
    """Announce every site (of `site_ids`, or all) whose online state changed
    since it was last announced; returns the changes with their seqs."""
    seq = await session.scalar(
        select(SiteDirectory.last_seq).where(SiteDirectory.id == DIRECTORY_ROW).with_for_update()
    )
    if seq is None:
        session.add(SiteDirectory(id=DIRECTORY_ROW, last_seq=0))
        await session.flush()
        seq = 0
    live = await live_site_ids(session, site_ids)
    announced = await announced_site_ids(session, site_ids)
    changes: list[PresenceChange] = []
    for site_id in sorted(live - announced):
        if await session.get(Site, site_id) is None:
            continue
        seq += 1
        session.add(SitePresence(site_id=site_id, since=utcnow()))
        changes.append(PresenceChange(seq, site_id, True))
    gone = sorted(announced - live)
    if gone:
        await session.execute(delete(SitePresence).where(SitePresence.site_id.in_(gone)))
        for site_id in gone:
            seq += 1
            changes.append(PresenceChange(seq, site_id, False))
    if changes:
        await session.execute(update(SiteDirectory).where(SiteDirectory.id == DIRECTORY_ROW).values(last_seq=seq))
        await session.flush()
    return changes


async def directory_seq(session: AsyncSession) -> int:
    return await session.scalar(select(SiteDirectory.last_seq).where(SiteDirectory.id == DIRECTORY_ROW)) or 0


async def directory(session: AsyncSession) -> dict:
    """`directory` → `{seq, sites: [{id, name, kind, parent_id, online}]}`.

    The seq is read first: a change committed between the two reads shows in
    `sites` and comes again with a higher seq, never the other way round."""
    seq = await directory_seq(session)
    online = await announced_site_ids(session)
    sites = (await session.scalars(select(Site).order_by(Site.created_at, Site.id))).all()
    return {
        "seq": seq,
        "sites": [
            {"id": s.id, "name": s.name, "kind": s.kind, "parent_id": s.parent_id, "online": s.id in online}
            for s in sites
        ],
    }
