"""Sites, meetings and participants: plain queries over the core tables."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from sessions.errors import Invalid, NotFound
from sessions.models import Meeting, Participant, Site
from sessions.roles import ALLOWED_PARENTS, Role, SiteKind


@dataclass(frozen=True)
class SiteView:
    id: str
    name: str
    kind: str
    parent_id: str | None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ParticipantView:
    id: str
    meeting_id: str
    name: str
    role: str
    site: SiteView | None

    def to_dict(self) -> dict:
        return {"id": self.id, "name": self.name, "role": self.role, "site": self.site.to_dict() if self.site else None}


def site_view(site: Site | None) -> SiteView | None:
    return SiteView(site.id, site.name, site.kind, site.parent_id) if site else None


def meeting_dict(meeting: Meeting) -> dict:
    return {
        "id": meeting.id,
        "title": meeting.title,
        "status": meeting.status,
        "starts_at": _iso(meeting.starts_at),
        # sessions/meetings/: the kind, the scheduled end, when the status moved.
        "kind": meeting.kind,
        "ends_at": _iso(meeting.ends_at),
        "opened_at": _iso(meeting.opened_at),
        "started_at": _iso(meeting.started_at),
        "closed_at": _iso(meeting.closed_at),
        "created_at": _iso(meeting.created_at),
    }


def _iso(value: datetime | None) -> str | None:
    # SQLite hands back naive datetimes; what is stored is UTC.
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.isoformat() if value else None


async def create_site(session: AsyncSession, name: str, kind: SiteKind, parent_id: str | None) -> SiteView:
    # `is not None`, not truthiness: "" is an id that names nothing, not "no parent".
    parent = await session.get(Site, parent_id) if parent_id is not None else None
    if parent_id is not None and parent is None:
        raise NotFound("no such parent site")
    parent_kind = SiteKind(parent.kind) if parent else None
    if parent_kind not in ALLOWED_PARENTS[kind]:
        under = parent_kind.value if parent_kind else "nothing"
        raise Invalid(f"a {kind.value} cannot sit under {under}")
    site = Site(name=name, kind=kind.value, parent_id=parent_id)
    session.add(site)
    await session.flush()
    return site_view(site)  # type: ignore[return-value]


async def list_sites(session: AsyncSession) -> list[SiteView]:
    rows = (await session.scalars(select(Site).order_by(Site.created_at, Site.id))).all()
    return [site_view(s) for s in rows]  # type: ignore[misc]


async def create_meeting(session: AsyncSession, title: str, starts_at: datetime | None) -> Meeting:
    meeting = Meeting(title=title, starts_at=starts_at, status="scheduled", last_seq=0)
    session.add(meeting)
    await session.flush()
    return meeting


async def get_meeting(session: AsyncSession, meeting_id: str) -> Meeting:
    meeting = await session.get(Meeting, meeting_id)
    if meeting is None:
        raise NotFound("no such meeting")
    return meeting


async def add_participant(
    session: AsyncSession, meeting_id: str, name: str, role: Role, site_id: str | None
) -> Participant:
    await get_meeting(session, meeting_id)
    if role is Role.ADMIN:
        raise Invalid("admin is not a meeting role")
    # `is not None`: an empty id reached the foreign key before and failed there (a 500).
    if site_id is not None and await session.get(Site, site_id) is None:
        raise NotFound("no such site")
    participant = Participant(meeting_id=meeting_id, name=name, role=role.value, site_id=site_id)
    session.add(participant)
    await session.flush()
    return participant


async def get_participant(session: AsyncSession, participant_id: str) -> ParticipantView:
    row = (
        await session.execute(
            select(Participant, Site).outerjoin(Site, Site.id == Participant.site_id).where(Participant.id == participant_id)
        )
    ).first()
    if row is None:
        raise NotFound("no such participant")
    p, site = row
    return ParticipantView(p.id, p.meeting_id, p.name, p.role, site_view(site))


async def participants_of(session: AsyncSession, meeting_id: str) -> list[ParticipantView]:
    rows = (
        await session.execute(
            select(Participant, Site)
            .outerjoin(Site, Site.id == Participant.site_id)
            .where(Participant.meeting_id == meeting_id)
            .order_by(Participant.created_at, Participant.id)
        )
    ).all()
    return [ParticipantView(p.id, p.meeting_id, p.name, p.role, site_view(s)) for p, s in rows]
