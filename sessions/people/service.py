"""The people directory in the database: people, groups, imports written
from a plan, search, and a person's meetings.

`reach` everywhere is the set of site ids the caller may touch (an
operator's subtree, sessions/accounts/scope.py), or None for the whole hub.
An operator sees and edits only the people whose site is in its reach (so
never one without a site); groups are the hub's, their members shown as far
as the reach goes.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Text, cast, delete, func, insert, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from sessions.errors import Conflict, Forbidden, Invalid, NotFound
from sessions.models import Connection, Meeting, MeetingEvent, Node, Participant, Site, new_id, utcnow
from sessions.people.fields import PHONE_DECOR
from sessions.people.importer import PersonRow
from sessions.people.kinds import GroupKind, Level, PersonKind
from sessions.people.models import Person, PersonGroup, PersonGroupMember
from sessions.people.plan import KnownPeople, KnownSite, NewPerson, NewSite, Plan
from sessions.presence import NODE_TIMEOUT

# IN lists are cut to this many values (SQLite's bound-parameter limit is 32,766 since 3.32, older 999).
CHUNK = 500
OUT_OF_REACH = "this person's site is outside your district (your site and the sites below it)"


def chunks(items: Sequence, size: int = CHUNK):
    for start in range(0, len(items), size):
        yield items[start:start + size]


# -- views ------------------------------------------------------------------------------------


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def site_dict(site: Site | None) -> dict | None:
    return {"id": site.id, "name": site.name, "kind": site.kind, "parent_id": site.parent_id} if site else None


def group_dict(group: PersonGroup, members: int | None = None) -> dict:
    out = {"id": group.id, "name": group.name, "kind": group.kind}
    if members is not None:
        out["members"] = members
    return out


def person_dict(person: Person, site: Site | None, groups: Iterable[PersonGroup]) -> dict:
    return {
        "id": person.id, "name": person.name, "kind": person.kind, "site_id": person.site_id,
        "site": site_dict(site), "level": person.level, "phone": person.phone, "code": person.code,
        "note": person.note, "groups": [group_dict(g) for g in sorted(groups, key=lambda g: g.name)],
        "created_at": _iso(person.created_at), "updated_at": _iso(person.updated_at),
    }


async def _views(session: AsyncSession, people: Sequence[Person]) -> list[dict]:
    """People as `person_dict`s, their sites and groups read in a few queries."""
    site_ids = sorted({p.site_id for p in people if p.site_id})
    sites: dict[str, Site] = {}
    for part in chunks(site_ids):
        sites.update({s.id: s for s in await session.scalars(select(Site).where(Site.id.in_(part)))})
    groups: dict[str, list[PersonGroup]] = defaultdict(list)
    for part in chunks([p.id for p in people]):
        rows = await session.execute(
            select(PersonGroupMember.person_id, PersonGroup)
            .join(PersonGroup, PersonGroup.id == PersonGroupMember.group_id)
            .where(PersonGroupMember.person_id.in_(part))
        )
        for person_id, group in rows.all():
            groups[person_id].append(group)
    return [person_dict(p, sites.get(p.site_id or ""), groups[p.id]) for p in people]


# -- the snapshot an import is planned against ------------------------------------------------


async def known_sites(session: AsyncSession) -> list[KnownSite]:
    rows = await session.execute(select(Site.id, Site.name, Site.kind, Site.parent_id))
    return [KnownSite(*row) for row in rows.all()]


async def known_people(session: AsyncSession, rows: Sequence[PersonRow]) -> KnownPeople:
    """The directory's people whose code, or name and phone, a row repeats; all groups."""
    codes = sorted({r.code for r in rows if r.code})
    names = sorted({r.name for r in rows if r.phone})
    by_code: dict[str, str] = {}
    for part in chunks(codes):
        by_code.update((await session.execute(select(Person.code, Person.id).where(Person.code.in_(part)))).all())
    by_name_phone: dict[tuple[str, str], str] = {}
    for part in chunks(names):
        found = await session.execute(
            select(Person.name, Person.phone, Person.id).where(Person.name.in_(part), Person.phone.is_not(None))
        )
        by_name_phone.update({(name, phone): pid for name, phone, pid in found.all()})
    groups = dict((await session.execute(select(PersonGroup.name, PersonGroup.id))).all())
    return KnownPeople(by_code, by_name_phone, groups)


def check_plan_reach(plan: Plan, reach: set[str] | None) -> None:
    """An operator imports only into its own district: every new site under
    a site in its reach (or under another new one), every person at one."""
    if reach is None:
        return
    inside = set(reach)
    for create in plan.creates:
        if isinstance(create, NewSite):
            if create.parent_id is None or create.parent_id not in inside:
                plan.refuse(create.line, "parent: outside your district (an operator adds sites below its own site)")
            else:
                inside.add(create.id)
        elif isinstance(create, NewPerson) and (create.site_id is None or create.site_id not in inside):
            plan.refuse(create.line, "site: outside your district (an operator adds people to its own sites)")
    plan.errors.sort(key=lambda e: e.line)


async def apply_sites(session: AsyncSession, plan: Plan) -> None:
    now = utcnow()
    values = [{"id": s.id, "name": s.name, "kind": s.kind.value, "parent_id": s.parent_id, "created_at": now}
              for s in plan.creates]
    # In plan order, parents first: the foreign key holds at each row.
    for part in chunks(values):
        await session.execute(insert(Site), part)


async def apply_people(session: AsyncSession, plan: Plan) -> None:
    now = utcnow()
    if plan.new_groups:
        await session.execute(insert(PersonGroup), [
            {"id": gid, "name": name, "kind": GroupKind.COMMITTEE.value, "created_at": now}
            for name, gid in plan.new_groups.items()
        ])
    people = [{"id": p.id, "name": p.name, "kind": p.kind.value, "site_id": p.site_id,
               "level": p.level.value if p.level else None, "phone": p.phone, "code": p.code, "note": p.note,
               "created_at": now, "updated_at": now} for p in plan.creates]
    members = [{"group_id": gid, "person_id": p.id} for p in plan.creates for gid in p.group_ids]
    for part in chunks(people):
        await session.execute(insert(Person), part)
    for part in chunks(members):
        await session.execute(insert(PersonGroupMember), part)


# -- people -----------------------------------------------------------------------------------


@dataclass
class PersonFields:
    """A person's fields from a REST body; only the ones `given` change on an update."""

    given: set[str]
    name: str | None = None
    kind: PersonKind | None = None
    site_id: str | None = None
    level: Level | None = None
    phone: str | None = None
    code: str | None = None
    note: str | None = None
    group_ids: list[str] | None = None


async def _check_site(session: AsyncSession, site_id: str | None, reach: set[str] | None) -> None:
    if site_id is None:
        if reach is not None:
            raise Forbidden("an operator's people belong to a site of its district: give site_id")
        return
    if await session.get(Site, site_id) is None:
        raise NotFound(f"no such site: {site_id}")
    if reach is not None and site_id not in reach:
        raise Forbidden("this site is outside your district (your site and the sites below it)")


async def _check_groups(session: AsyncSession, group_ids: list[str]) -> None:
    found = set(await session.scalars(select(PersonGroup.id).where(PersonGroup.id.in_(group_ids)))) if group_ids else set()
    missing = [g for g in group_ids if g not in found]
    if missing:
        raise NotFound(f"no such group: {', '.join(missing[:5])}")


async def _check_unique(session: AsyncSession, name: str, phone: str | None, code: str | None,
                        own_id: str | None) -> None:
    """The duplicate an import would skip is a 409 here, naming the one that exists."""
    if code is not None:
        other = await session.scalar(select(Person.id).where(Person.code == code, Person.id != (own_id or "")))
        if other:
            raise Conflict(f"code {code!r} is already person {other}'s")
    if phone is not None:
        other = await session.scalar(
            select(Person.id).where(Person.name == name, Person.phone == phone, Person.id != (own_id or "")))
        if other:
            raise Conflict(f"person {other} already has this name and phone")


async def _set_groups(session: AsyncSession, person_id: str, group_ids: list[str]) -> None:
    await session.execute(delete(PersonGroupMember).where(PersonGroupMember.person_id == person_id))
    if group_ids:
        await session.execute(insert(PersonGroupMember),
                              [{"group_id": g, "person_id": person_id} for g in dict.fromkeys(group_ids)])


async def create_person(session: AsyncSession, fields: PersonFields, reach: set[str] | None) -> dict:
    assert fields.name is not None
    await _check_site(session, fields.site_id, reach)
    await _check_groups(session, fields.group_ids or [])
    await _check_unique(session, fields.name, fields.phone, fields.code, None)
    now = utcnow()
    person = Person(id=new_id(), name=fields.name, kind=(fields.kind or PersonKind.DEPUTY).value,
                    site_id=fields.site_id, level=fields.level.value if fields.level else None, phone=fields.phone,
                    code=fields.code, note=fields.note, created_at=now, updated_at=now)
    session.add(person)
    await session.flush()
    await _set_groups(session, person.id, fields.group_ids or [])
    return (await _views(session, [person]))[0]


async def _person_in_reach(session: AsyncSession, person_id: str, reach: set[str] | None,
                           *, lock: bool = False) -> Person:
    query = select(Person).where(Person.id == person_id)
    person = await session.scalar(query.with_for_update() if lock else query)
    if person is None:
        raise NotFound("no such person")
    if reach is not None and person.site_id not in reach:
        raise Forbidden(OUT_OF_REACH)
    return person


async def update_person(session: AsyncSession, person_id: str, fields: PersonFields, reach: set[str] | None) -> dict:
    person = await _person_in_reach(session, person_id, reach, lock=True)
    given = fields.given
    if "name" in given and fields.name is None:
        raise Invalid("name: cannot be null")
    if "kind" in given and fields.kind is None:
        raise Invalid("kind: cannot be null")
    if "site_id" in given:
        await _check_site(session, fields.site_id, reach)
    if "group_ids" in given:
        if fields.group_ids is None:
            raise Invalid("group_ids: cannot be null (send [] for none)")
        await _check_groups(session, fields.group_ids)
    name = fields.name if "name" in given else person.name
    phone = fields.phone if "phone" in given else person.phone
    code = fields.code if "code" in given else person.code
    await _check_unique(session, name, phone, code, person.id)  # type: ignore[arg-type]
    for key in ("name", "site_id", "phone", "code", "note"):
        if key in given:
            setattr(person, key, getattr(fields, key))
    if "kind" in given:
        person.kind = fields.kind.value  # type: ignore[union-attr]
    if "level" in given:
        person.level = fields.level.value if fields.level else None
    person.updated_at = utcnow()
    await session.flush()
    if "group_ids" in given:
        await _set_groups(session, person.id, fields.group_ids or [])
    return (await _views(session, [person]))[0]


async def delete_person(session: AsyncSession, person_id: str, reach: set[str] | None) -> None:
    person = await _person_in_reach(session, person_id, reach, lock=True)
    meetings = await session.scalar(select(func.count()).where(Participant.person_id == person.id))
    if meetings:
        raise Conflict(f"this person is a participant of {meetings} meeting(s): their history is kept, "
                       "so they cannot be deleted")
    await session.execute(delete(PersonGroupMember).where(PersonGroupMember.person_id == person.id))
    await session.delete(person)
    await session.flush()


async def get_person(session: AsyncSession, person_id: str, reach: set[str] | None) -> dict:
    """The person and their meetings, newest first: each with the role they
    had, whether they are online in it now and whether they ever were
    (`attended`, from the meeting's roster events)."""
    person = await _person_in_reach(session, person_id, reach)
    view = (await _views(session, [person]))[0]
    rows = (await session.execute(
        select(Participant.id, Participant.role, Participant.created_at, Meeting)
        .join(Meeting, Meeting.id == Participant.meeting_id)
        .where(Participant.person_id == person.id)
        .order_by(func.coalesce(Meeting.starts_at, Meeting.created_at).desc(), Meeting.id)
    )).all()
    online = await online_participants(session, [row[0] for row in rows])
    attended = await attended_participants(session, [row[0] for row in rows])
    meetings = [{
        "meeting_id": meeting.id, "title": meeting.title, "status": meeting.status,
        "starts_at": _iso(meeting.starts_at), "participant_id": participant_id, "role": role,
        "invited_at": _iso(added_at), "online": participant_id in online,
        "attended": participant_id in attended,
    } for participant_id, role, added_at, meeting in rows]
    return {**view, "meetings": meetings}


async def online_participants(session: AsyncSession, participant_ids: list[str]) -> set[str]:
    """Which of these participants have a live connection (the rule of
    sessions/presence.py: on a process whose heartbeat is fresh)."""
    cutoff = utcnow() - NODE_TIMEOUT
    online: set[str] = set()
    for part in chunks(participant_ids):
        online.update(await session.scalars(
            select(Connection.participant_id).join(Node, Node.id == Connection.node_id)
            .where(Connection.participant_id.in_(part), Node.heartbeat_at >= cutoff)
        ))
    return online


async def attended_participants(session: AsyncSession, participant_ids: list[str]) -> set[str]:
    """Which of these participants a roster event of their meeting lists as
    online (sessions/attendance.py's `present`). A roster payload is
    `{"online": [ids], "people": version}` and only the online list can hold
    a quoted id, so a LIKE on the stored JSON's text answers it: no JSON
    parsing, both databases, and EXISTS stops at the first roster event that
    names them (one query for the few meetings of a person)."""
    quoted = literal('%"') + Participant.id + literal('"%')
    listed = (
        select(MeetingEvent.id)
        .where(MeetingEvent.meeting_id == Participant.meeting_id, MeetingEvent.type == "roster",
               cast(MeetingEvent.payload, Text).like(quoted))
        .exists()
    )
    attended: set[str] = set()
    for part in chunks(participant_ids):
        attended.update(await session.scalars(select(Participant.id).where(Participant.id.in_(part), listed)))
    return attended


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


async def search(session: AsyncSession, *, q: str | None, site_ids: set[str] | None, group_id: str | None,
                 kind: PersonKind | None, limit: int, offset: int) -> dict:
    """People matching every filter given, by name then id: `q` in the name
    or the code, or, when it is written as a phone number (digits, spaces,
    dashes, brackets), in the phone (as stored: digits); `site_ids` the sites they may
    be at (a subtree, already cut to the caller's reach)."""
    query = select(Person)
    if q:
        pattern = _like(q.strip())
        matches = [Person.name.ilike(pattern, escape="\\"), Person.code.ilike(pattern, escape="\\")]
        digits = PHONE_DECOR.sub("", q).removeprefix("+")
        if digits.isascii() and digits.isdigit():  # written as a phone: "0013-8002" finds 13800138002
            matches.append(Person.phone.like(_like(digits), escape="\\"))
        query = query.where(or_(*matches))
    if site_ids is not None:
        query = query.where(Person.site_id.in_(sorted(site_ids)) if site_ids else Person.id.is_(None))
    if group_id is not None:
        query = query.where(Person.id.in_(select(PersonGroupMember.person_id).where(PersonGroupMember.group_id == group_id)))
    if kind is not None:
        query = query.where(Person.kind == kind.value)
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    people = (await session.scalars(query.order_by(Person.name, Person.id).limit(limit).offset(offset))).all()
    return {"total": total, "limit": limit, "offset": offset, "people": await _views(session, people)}


# -- groups -----------------------------------------------------------------------------------


async def list_groups(session: AsyncSession, reach: set[str] | None) -> list[dict]:
    counted = select(PersonGroupMember.group_id, func.count().label("n")).join(
        Person, Person.id == PersonGroupMember.person_id)
    if reach is not None:
        counted = counted.where(Person.site_id.in_(sorted(reach)) if reach else Person.id.is_(None))
    counts = dict((await session.execute(counted.group_by(PersonGroupMember.group_id))).all())
    groups = (await session.scalars(select(PersonGroup).order_by(PersonGroup.name, PersonGroup.id))).all()
    return [group_dict(g, counts.get(g.id, 0)) for g in groups]


async def create_group(session: AsyncSession, name: str, kind: GroupKind, members: list[str],
                       reach: set[str] | None) -> dict:
    if await session.scalar(select(PersonGroup.id).where(PersonGroup.name == name)):
        raise Conflict(f"a group named {name!r} exists already")
    members = list(dict.fromkeys(members))
    found = {p.id: p for part in chunks(members)
             for p in await session.scalars(select(Person).where(Person.id.in_(part)))}
    missing = [m for m in members if m not in found]
    if missing:
        raise NotFound(f"no such person: {', '.join(missing[:5])}")
    if reach is not None and any(found[m].site_id not in reach for m in members):
        raise Forbidden(OUT_OF_REACH)
    group = PersonGroup(id=new_id(), name=name, kind=kind.value, created_at=utcnow())
    session.add(group)
    await session.flush()
    for part in chunks(members):
        await session.execute(insert(PersonGroupMember), [{"group_id": group.id, "person_id": m} for m in part])
    return group_dict(group, len(members))
