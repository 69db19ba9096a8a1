"""Join links: their generation, their expiry, and the checks made of them.

A participant's join token carries `gen`, the participant's
`token_generation` when it was signed (a token without `gen`, issued before
this module, is generation 0). Re-issuing bumps the generation in the
database, so every older link of that participant is refused from then on,
on REST (401) and on Socket.IO connect (`connect_error`), by every process;
the connections it had are closed by the caller (web/api/meetings.py).

Links are not stored: a link is re-signed from stored claims (`sub`, `role`,
`mid`, `gen`, `exp`), and HS256 over the same claims gives the same token, so
the console's list, the printed sheet and the QR code of a participant show
one and the same link until it is re-issued or the meeting is rescheduled.
Storing tokens would keep a credential in the database for anyone who reads
a backup; storing the generation keeps only what revocation needs.

Expiry (`exp`): the scheduled end (`ends_at`; else `starts_at` + 1 day) +
LINK_GRACE, or, once the meeting is closed, whichever comes first of that
and `closed_at` + LINK_GRACE. A meeting with no schedule: 30 days from when
the participant's link was last issued (`token_issued_at`), as join links
always were. Rescheduling changes the `exp` of links signed afterwards;
links handed out before keep their own (re-send them when a meeting moves
by more than the grace). Whatever a token's `exp` says, a closed meeting's
links stop on REST LINK_GRACE after `closed_at` (the database is checked),
and a closed meeting refuses every connect at once.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from sessions.directory import SiteView, site_view
from sessions.errors import Closed, NotFound, Unauthorized
from sessions.identity import PARTICIPANT_TTL_S, Identity, TokenService
from sessions.meetings.lifecycle import MeetingStatus, status_of, utc
from sessions.models import Meeting, Participant, Site, utcnow
from sessions.roles import Role

# Long enough for a meeting that overruns its scheduled end by an evening,
# and for reading papers and results after the close; short enough that a
# link found on a desk next morning opens nothing.
LINK_GRACE = timedelta(hours=12)
# A meeting with a start but no end is taken to last a day.
DEFAULT_LENGTH = timedelta(days=1)
UNSCHEDULED_TTL = timedelta(seconds=PARTICIPANT_TTL_S)
MEETING_CLOSED = "the meeting is closed (会议已结束)"
REPLACED = "this join link has been replaced by a newer one; ask the congress office for the new link"


def join_url(base_url: str, token: str) -> str:
    return f"{base_url}/join?token={token}"


def link_expiry(meeting: Meeting, issued_at: datetime | None) -> datetime:
    """When a link signed now for this meeting expires (see the module's docstring)."""
    end = utc(meeting.ends_at)
    if end is None and meeting.starts_at is not None:
        end = utc(meeting.starts_at) + DEFAULT_LENGTH  # type: ignore[operator]
    if end is None:
        expires = (utc(issued_at) or utcnow()) + UNSCHEDULED_TTL
    else:
        expires = end + LINK_GRACE
    if meeting.closed_at is not None:
        expires = min(expires, utc(meeting.closed_at) + LINK_GRACE)  # type: ignore[operator]
    return expires


@dataclass(frozen=True)
class Invitation:
    participant_id: str
    name: str
    role: str
    site: SiteView | None
    generation: int
    token: str
    join_url: str
    expires_at: datetime

    def to_dict(self) -> dict:
        return {
            "participant_id": self.participant_id,
            "name": self.name,
            "role": self.role,
            "site": self.site.to_dict() if self.site else None,
            "generation": self.generation,
            "join_url": self.join_url,
            "expires_at": self.expires_at.isoformat(),
        }


def sign(tokens: TokenService, base_url: str, meeting: Meeting, participant: Participant, site: Site | None) -> Invitation:
    expires = link_expiry(meeting, participant.token_issued_at or participant.created_at)
    token = tokens.issue_link(participant.id, Role(participant.role), meeting.id, participant.token_generation,
                              int(expires.timestamp()))
    return Invitation(participant.id, participant.name, participant.role, site_view(site),
                      participant.token_generation, token, join_url(base_url, token), expires)


async def _meeting(session: AsyncSession, meeting_id: str) -> Meeting:
    meeting = await session.get(Meeting, meeting_id)
    if meeting is None:
        raise NotFound("no such meeting")
    return meeting


async def invitations(session: AsyncSession, tokens: TokenService, base_url: str, meeting_id: str) -> list[Invitation]:
    """Every participant's current link, in the order they were added."""
    meeting = await _meeting(session, meeting_id)
    rows = (await session.execute(
        select(Participant, Site).outerjoin(Site, Site.id == Participant.site_id)
        .where(Participant.meeting_id == meeting_id).order_by(Participant.created_at, Participant.id)
    )).all()
    return [sign(tokens, base_url, meeting, p, s) for p, s in rows]


async def invitation(session: AsyncSession, tokens: TokenService, base_url: str, meeting_id: str,
                     participant_id: str) -> Invitation:
    """One participant's current link (its row read afresh: after a re-issue
    in the same transaction, the new generation)."""
    meeting = await _meeting(session, meeting_id)
    row = (await session.execute(
        select(Participant, Site).outerjoin(Site, Site.id == Participant.site_id)
        .where(Participant.id == participant_id, Participant.meeting_id == meeting_id)
        .execution_options(populate_existing=True)
    )).first()
    if row is None:
        raise NotFound("no such participant in this meeting")
    return sign(tokens, base_url, meeting, *row)


async def reissue(session: AsyncSession, tokens: TokenService, base_url: str, meeting_id: str,
                  participant_id: str) -> Invitation:
    """A new link for the participant; every older one stops working. The
    UPDATE locks the participant's row, which a connect locks too while it
    admits (`check_link`), so a connect is either refused or admitted early
    enough for the caller to find and close its connection."""
    meeting = await _meeting(session, meeting_id)
    if status_of(meeting) is MeetingStatus.CLOSED:
        raise Closed("the meeting is closed (会议已结束); its links are not re-issued")
    result = await session.execute(
        update(Participant)
        .where(Participant.id == participant_id, Participant.meeting_id == meeting_id)
        .values(token_generation=Participant.token_generation + 1, token_issued_at=utcnow())
        .returning(Participant.id)
    )
    if result.scalar_one_or_none() is None:
        raise NotFound("no such participant in this meeting")
    return await invitation(session, tokens, base_url, meeting_id, participant_id)


async def check_link(session: AsyncSession, identity: Identity, *, connecting: bool) -> None:
    """A participant's token against the database: its generation must be
    the participant's, and its meeting not closed (connect) or not closed
    longer than LINK_GRACE ago (REST). `connecting` also locks the
    participant's row until the caller's transaction ends (see `reissue`)."""
    query = (
        select(Participant.token_generation, Meeting.status, Meeting.closed_at)
        .join(Meeting, Meeting.id == Participant.meeting_id)
        .where(Participant.id == identity.sub)
    )
    if connecting:
        query = query.with_for_update(of=Participant)
    row = (await session.execute(query)).first()
    if row is None:
        raise Unauthorized("token names no participant of this hub")
    generation, status, closed_at = row
    if generation != identity.generation:
        raise Unauthorized(REPLACED)
    if status == MeetingStatus.CLOSED.value:
        if connecting:
            raise Closed(MEETING_CLOSED)
        if closed_at is None or utcnow() > utc(closed_at) + LINK_GRACE:  # type: ignore[operator]
            raise Unauthorized(f"{MEETING_CLOSED}; its links have expired")
