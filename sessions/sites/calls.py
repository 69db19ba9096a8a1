"""Ad-hoc calls between sites: who may call whom, each called site's state,
and the call log.

A call is a real meeting (made with the call, the caller in it as `chair`);
each called site rings until it accepts, declines, the caller cancels, or
its ring expires (`missed`, by the clock in signaling/sites.py, from
`expires_at` in the database, so a restart loses nothing). Every change of a
site's state takes the call row's lock first and hands out the call's next
`seq`: a site's state changes from `ringing` once, whoever races for it
(two pages of one station accepting at once, an accept against the clock).
"""
from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from sessions import directory
from sessions.errors import Closed, Forbidden, NotFound
from sessions.meetings.lifecycle import MeetingKind
from sessions.models import Site, utcnow
from sessions.roles import Role, SiteKind
from sessions.sites.models import Call, CallSite

RINGING, ACCEPTED, DECLINED, MISSED, CANCELLED = "ringing", "accepted", "declined", "missed", "cancelled"
STATES = (RINGING, ACCEPTED, DECLINED, MISSED, CANCELLED)
MAX_SITES = 200


def iso(value: datetime) -> str:
    return value.isoformat()


@dataclass(frozen=True)
class StateChange:
    """One `call:state`; `from_site_id` is the caller (who gets it too)."""

    seq: int
    call_id: str
    site_id: str
    state: str
    at: datetime
    from_site_id: str

    def to_dict(self) -> dict:
        return {"seq": self.seq, "call_id": self.call_id, "site_id": self.site_id, "state": self.state,
                "at": iso(self.at)}


@dataclass(frozen=True)
class Ring:
    """One `call:ring` for a called site."""

    call_id: str
    site_id: str
    from_site_id: str
    from_name: str
    title: str
    expires_at: datetime

    def to_dict(self) -> dict:
        return {"call_id": self.call_id, "from": {"site_id": self.from_site_id, "name": self.from_name},
                "title": self.title, "expires_at": iso(self.expires_at)}


@dataclass(frozen=True)
class Started:
    call_id: str
    meeting_id: str
    chair_id: str
    rings: list[Ring]
    changes: list[StateChange]


@dataclass(frozen=True)
class Accepted:
    change: StateChange
    participant_id: str
    role: Role
    meeting_id: str


# -- reach --------------------------------------------------------------------


def may_call(caller: Site, target: Site, parents: dict[str, str | None]) -> bool:
    """The contract's reach: the sites below the caller in the tree, its
    parent, and any site for the city's terminal (never itself)."""
    if target.id == caller.id:
        return False
    if caller.kind == SiteKind.CITY.value:
        return True
    if target.id == caller.parent_id:
        return True
    seen: set[str] = set()
    up = parents.get(target.id)
    while up is not None and up not in seen:
        if up == caller.id:
            return True
        seen.add(up)
        up = parents.get(up)
    return False


async def _parents(session: AsyncSession) -> dict[str, str | None]:
    return dict((await session.execute(select(Site.id, Site.parent_id))).all())


# -- changes --------------------------------------------------------------------


async def start(
    session: AsyncSession, caller_site_id: str, site_ids: list[str], title: str | None, ring_s: float
) -> Started:
    caller = await session.get(Site, caller_site_id)
    if caller is None:
        raise NotFound("the calling site no longer exists")
    targets = {s.id: s for s in (await session.scalars(select(Site).where(Site.id.in_(site_ids)))).all()}
    unknown = [sid for sid in site_ids if sid not in targets]
    if unknown:
        raise NotFound(f"no such site: {unknown[0]}")
    parents = await _parents(session)
    refused = [targets[sid] for sid in site_ids if not may_call(caller, targets[sid], parents)]
    if refused:
        raise Forbidden(
            f"{caller.name} may not call {refused[0].name}: a site's terminal calls the sites below it and its "
            "parent (the city's terminal: any site)"
        )
    title = title or f"{caller.name} 呼叫"
    meeting = await directory.create_meeting(session, title, None)
    meeting.kind = MeetingKind.ADHOC  # the console lists a call as 临时会议, not a committee's meeting
    chair = await directory.add_participant(session, meeting.id, caller.name, Role.CHAIR, caller.id)
    now = utcnow()
    expires_at = now + timedelta(seconds=ring_s)
    call = Call(meeting_id=meeting.id, title=title, from_site_id=caller.id, created_at=now, last_seq=len(site_ids))
    session.add(call)
    await session.flush()
    changes, rings = [], []
    for position, sid in enumerate(site_ids):
        session.add(CallSite(call_id=call.id, site_id=sid, position=position, state=RINGING, at=now,
                             expires_at=expires_at))
        changes.append(StateChange(position + 1, call.id, sid, RINGING, now, caller.id))
        rings.append(Ring(call.id, sid, caller.id, caller.name, title, expires_at))
    await session.flush()
    return Started(call.id, meeting.id, chair.id, rings, changes)


async def _lock(session: AsyncSession, call_id: str) -> Call:
    call = await session.scalar(select(Call).where(Call.id == call_id).with_for_update())
    if call is None:
        raise NotFound("no such call")
    return call


async def _change(session: AsyncSession, call: Call, row: CallSite, state: str, now: datetime) -> StateChange:
    call.last_seq += 1
    row.state, row.at = state, now
    await session.flush()
    return StateChange(call.last_seq, call.id, row.site_id, state, now, call.from_site_id)


async def _ringing_row(session: AsyncSession, call: Call, site_id: str, now: datetime) -> CallSite:
    row = await session.get(CallSite, (call.id, site_id))
    if row is None:
        raise NotFound("no such call for this site")
    if row.state != RINGING or _aware(row.expires_at) <= now:
        raise Closed(f"the call is no longer ringing here (it is {row.state if row.state != RINGING else MISSED})")
    return row


async def accept(session: AsyncSession, call_id: str, site_id: str) -> Accepted:
    """The site joins the call's meeting: a station as `deputy`, any other
    site as `member` (a participant made now, named after the site)."""
    now = utcnow()
    call = await _lock(session, call_id)
    row = await _ringing_row(session, call, site_id, now)
    site = await session.get(Site, site_id)
    assert site is not None  # call_sites rows go with their site
    role = Role.DEPUTY if site.kind == SiteKind.STATION.value else Role.MEMBER
    participant = await directory.add_participant(session, call.meeting_id, site.name, role, site.id)
    row.participant_id = participant.id
    change = await _change(session, call, row, ACCEPTED, now)
    return Accepted(change, participant.id, role, call.meeting_id)


async def decline(session: AsyncSession, call_id: str, site_id: str) -> StateChange:
    now = utcnow()
    call = await _lock(session, call_id)
    row = await _ringing_row(session, call, site_id, now)
    return await _change(session, call, row, DECLINED, now)


async def cancel(session: AsyncSession, call_id: str, caller_site_id: str) -> list[StateChange]:
    """The caller stops the rings still ringing; accepted sites stay in."""
    now = utcnow()
    call = await _lock(session, call_id)
    if call.from_site_id != caller_site_id:
        raise Forbidden("only the calling site may cancel a call")
    rows = (await session.scalars(
        select(CallSite).where(CallSite.call_id == call_id, CallSite.state == RINGING).order_by(CallSite.position)
    )).all()
    rows = [r for r in rows if _aware(r.expires_at) > now]
    if not rows:
        raise Closed("the call is no longer ringing anywhere")
    return [await _change(session, call, row, CANCELLED, now) for row in rows]


async def due(session: AsyncSession, now: datetime | None = None) -> list[tuple[str, str]]:
    """(call id, site id) of rings past their `expires_at`."""
    rows = await session.execute(
        select(CallSite.call_id, CallSite.site_id)
        .where(CallSite.state == RINGING, CallSite.expires_at <= (now or utcnow()))
        .order_by(CallSite.expires_at)
    )
    return [tuple(r) for r in rows.all()]  # type: ignore[misc]


async def expire(session: AsyncSession, call_id: str, site_ids: Iterable[str]) -> list[StateChange]:
    """Mark the call's due rings `missed` (those still ringing and due when
    the lock is held: another process may have been first)."""
    now = utcnow()
    call = await _lock(session, call_id)
    changes = []
    for site_id in site_ids:
        row = await session.get(CallSite, (call_id, site_id))
        if row is not None and row.state == RINGING and _aware(row.expires_at) <= now:
            changes.append(await _change(session, call, row, MISSED, now))
    return changes


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes (stored as UTC).
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


# -- reading --------------------------------------------------------------------


async def ringing_for(session: AsyncSession, site_id: str) -> list[Ring]:
    """The calls ringing at a site now (for a terminal that connects mid-ring)."""
    now = utcnow()
    rows = (await session.execute(
        select(CallSite, Call, Site)
        .join(Call, Call.id == CallSite.call_id)
        .join(Site, Site.id == Call.from_site_id)
        .where(CallSite.site_id == site_id, CallSite.state == RINGING, CallSite.expires_at > now)
        .order_by(Call.created_at)
    )).all()
    return [Ring(c.id, site_id, s.id, s.name, c.title, _aware(cs.expires_at)) for cs, c, s in rows]


async def log(
    session: AsyncSession, site_id: str | None = None, limit: int = 100, within: Collection[str] | None = None
) -> list[dict]:
    """The call log, newest first: `{id, meeting_id, title, from_site_id,
    created_at, sites: [{site_id, state, at}]}`; with `site_id`, the calls
    that site made or was called in; with `within` (an operator's sites),
    the calls one of those sites made or was called in."""
    query = select(Call)
    if site_id is not None:
        called = select(CallSite.call_id).where(CallSite.site_id == site_id)
        query = query.where(or_(Call.from_site_id == site_id, Call.id.in_(called)))
    if within is not None:
        called = select(CallSite.call_id).where(CallSite.site_id.in_(list(within)))
        query = query.where(or_(Call.from_site_id.in_(list(within)), Call.id.in_(called)))
    calls = (await session.scalars(query.order_by(Call.created_at.desc(), Call.id.desc()).limit(limit))).all()
    if not calls:
        return []
    sites: dict[str, list[dict]] = {c.id: [] for c in calls}
    rows = await session.scalars(
        select(CallSite).where(CallSite.call_id.in_(list(sites))).order_by(CallSite.call_id, CallSite.position)
    )
    for row in rows:
        sites[row.call_id].append({"site_id": row.site_id, "state": row.state, "at": iso(_aware(row.at))})
    return [
        {"id": c.id, "meeting_id": c.meeting_id, "title": c.title, "from_site_id": c.from_site_id,
         "created_at": iso(_aware(c.created_at)), "sites": sites[c.id]}
        for c in calls
    ]
