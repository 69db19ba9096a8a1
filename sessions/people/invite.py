"""Inviting from the directory: people, whole groups and the liaison
stations of a part of the city become a meeting's participants in one call.

What each pick adds:
- `people`: each person, named as in the directory, at their site.
- `group_ids`: each member of each group (people outside an operator's
  district are skipped and counted, not refused: a committee spans the city).
- `site_ids`: every liaison station at or below each site (a station given
  itself counts). Per station, each person of kind `deputy` whose site it is;
  a station with no deputy in the directory gets one participant named after
  the station (its terminal's seat). A site with no station at or below it
  is `invalid`.
The role is the one given, else the person's kind's (`DEFAULT_ROLE`: deputy
→ deputy, member → member, department_head → respondent, staff and other →
observer); a station's own seat is a `deputy`.

A person is added once, however many picks name them, and not at all when
they are in the meeting already (reported with their participant); a
station's seat likewise. The meeting row is locked for the call, so two
calls at once cannot add the same person twice.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from sessions.errors import Forbidden, Invalid, NotFound, TooLarge
from sessions.identity import TokenService
from sessions.meetings import invitations
from sessions.models import Meeting, Participant, Site, new_id, utcnow
from sessions.people.kinds import DEFAULT_ROLE, PersonKind
from sessions.people.models import Person, PersonGroup, PersonGroupMember
from sessions.people.service import OUT_OF_REACH, chunks
from sessions.roles import Role, SiteKind

# New participants per call: the city's whole congress fits; a slip that
# would make tens of thousands of links does not.
MAX_NEW = 10_000


@dataclass
class Seat:
    name: str
    role: Role
    site_id: str | None
    person_id: str | None


@dataclass
class Invited:
    created: list[dict] = field(default_factory=list)   # {id, name, role, site_id, person_id}
    already: list[dict] = field(default_factory=list)   # {participant_id, person_id | site_id}
    outside_reach: int = 0


async def add_from_directory(session: AsyncSession, meeting_id: str, *, person_ids: list[str], group_ids: list[str],
                             site_ids: list[str], role: Role | None, reach: set[str] | None) -> Invited:
    meeting = await session.scalar(select(Meeting).where(Meeting.id == meeting_id).with_for_update())
    if meeting is None:
        raise NotFound("no such meeting")
    result = Invited()
    seats: list[Seat] = []
    seen_people: set[str] = set()

    def seat_person(person: Person) -> None:
        if person.id not in seen_people:
            seen_people.add(person.id)
            seats.append(Seat(person.name, role or DEFAULT_ROLE[PersonKind(person.kind)], person.site_id, person.id))

    for person in await _people(session, person_ids):
        if reach is not None and person.site_id not in reach:
            raise Forbidden(f"{OUT_OF_REACH}: {person.id}")
        seat_person(person)
    for person in await _group_members(session, group_ids):
        if reach is not None and person.site_id not in reach:
            result.outside_reach += 1
            continue
        seat_person(person)
    stations = await _stations(session, site_ids, reach)
    deputies = await _deputies_at(session, [s.id for s in stations])
    for station in stations:
        if deputies[station.id]:
            for person in deputies[station.id]:
                seat_person(person)
        else:
            seats.append(Seat(station.name, role or Role.DEPUTY, station.id, None))

    seats = await _drop_present(session, meeting_id, seats, result)
    if len(seats) > MAX_NEW:
        raise TooLarge(f"this would add {len(seats)} participants; at most {MAX_NEW} are added per call")
    now = utcnow()
    rows = [{"id": new_id(), "meeting_id": meeting_id, "name": s.name, "role": s.role.value, "site_id": s.site_id,
             "person_id": s.person_id, "created_at": now} for s in seats]
    for part in chunks(rows):
        await session.execute(insert(Participant), part)
    result.created = [{k: row[k] for k in ("id", "name", "role", "site_id", "person_id")} for row in rows]
    return result


async def links(session: AsyncSession, tokens: TokenService, base_url: str, meeting_id: str,
                participant_ids: list[str]) -> dict[str, invitations.Invitation]:
    """Each new participant's join link, signed as the meeting's invitation
    list signs it (sessions/meetings/invitations.py): one link everywhere."""
    meeting = await session.get(Meeting, meeting_id)
    found: dict[str, invitations.Invitation] = {}
    for part in chunks(participant_ids):
        rows = await session.execute(
            select(Participant, Site).outerjoin(Site, Site.id == Participant.site_id).where(Participant.id.in_(part)))
        for participant, site in rows.all():
            found[participant.id] = invitations.sign(tokens, base_url, meeting, participant, site)
    return found


async def _people(session: AsyncSession, person_ids: list[str]) -> list[Person]:
    ids = list(dict.fromkeys(person_ids))
    found: dict[str, Person] = {}
    for part in chunks(ids):
        found.update({p.id: p for p in await session.scalars(select(Person).where(Person.id.in_(part)))})
    missing = [i for i in ids if i not in found]
    if missing:
        raise NotFound(f"no such person: {', '.join(missing[:5])}")
    return [found[i] for i in ids]


async def _group_members(session: AsyncSession, group_ids: list[str]) -> list[Person]:
    ids = list(dict.fromkeys(group_ids))
    if not ids:
        return []
    found = set(await session.scalars(select(PersonGroup.id).where(PersonGroup.id.in_(ids))))
    missing = [i for i in ids if i not in found]
    if missing:
        raise NotFound(f"no such group: {', '.join(missing[:5])}")
    members = await session.scalars(
        select(Person).join(PersonGroupMember, PersonGroupMember.person_id == Person.id)
        .where(PersonGroupMember.group_id.in_(ids)).order_by(Person.name, Person.id)
    )
    return list(members)


async def _stations(session: AsyncSession, site_ids: list[str], reach: set[str] | None) -> list[Site]:
    """The stations at or below each site, in the order the sites were given
    (then by name), each once."""
    ids = list(dict.fromkeys(site_ids))
    if not ids:
        return []
    sites = {s.id: s for s in await session.scalars(select(Site))}
    missing = [i for i in ids if i not in sites]
    if missing:
        raise NotFound(f"no such site: {', '.join(missing[:5])}")
    children: dict[str | None, list[Site]] = defaultdict(list)
    for site in sites.values():
        children[site.parent_id].append(site)
    stations: dict[str, Site] = {}
    for root in ids:
        if reach is not None and root not in reach:
            raise Forbidden(f"site {root} is outside your district (your site and the sites below it)")
        below, todo, seen = [], [sites[root]], {root}
        while todo:
            site = todo.pop()
            if site.kind == SiteKind.STATION.value:
                below.append(site)
            for child in children[site.id]:
                if child.id not in seen:
                    seen.add(child.id)
                    todo.append(child)
        if not below:
            raise Invalid(f"site_ids: {sites[root].name!r} has no liaison station at or below it")
        for station in sorted(below, key=lambda s: (s.name, s.id)):
            stations.setdefault(station.id, station)
    return list(stations.values())


async def _deputies_at(session: AsyncSession, station_ids: list[str]) -> dict[str, list[Person]]:
    found: dict[str, list[Person]] = defaultdict(list)
    for part in chunks(station_ids):
        people = await session.scalars(
            select(Person).where(Person.site_id.in_(part), Person.kind == PersonKind.DEPUTY.value)
            .order_by(Person.name, Person.id)
        )
        for person in people:
            found[person.site_id].append(person)  # type: ignore[index]
    return found


async def _drop_present(session: AsyncSession, meeting_id: str, seats: list[Seat], result: Invited) -> list[Seat]:
    """The seats not in the meeting yet; the others go to `result.already`."""
    present = (await session.execute(
        select(Participant.id, Participant.person_id, Participant.site_id, Participant.name)
        .where(Participant.meeting_id == meeting_id)
    )).all()
    by_person = {person_id: pid for pid, person_id, _, _ in present if person_id}
    by_station_seat = {(site_id, name): pid for pid, person_id, site_id, name in present if not person_id and site_id}
    new: list[Seat] = []
    for seat in seats:
        if seat.person_id is not None and seat.person_id in by_person:
            result.already.append({"participant_id": by_person[seat.person_id], "person_id": seat.person_id})
        elif seat.person_id is None and (seat.site_id, seat.name) in by_station_seat:
            result.already.append({"participant_id": by_station_seat[(seat.site_id, seat.name)],
                                   "site_id": seat.site_id})
        else:
            new.append(seat)
    return new
