"""Satisfaction votes in the database: open, cast, close, and what to show.

Every function here works inside the caller's transaction (an AsyncSession
from `hub.db.transaction()`), so integrity lives in the database:

- cast takes a shared lock on the vote row (FOR SHARE on PostgreSQL) and
  checks `status = 'open'`; close takes the exclusive lock (FOR UPDATE), so a
  close waits for the casts in flight and a cast that comes after it sees
  `closed`. On SQLite, BEGIN IMMEDIATE serializes writers, which gives the
  same outcome. A cast racing a close is therefore either counted or refused.
- one counted ballot per voter: the primary key (vote_id, voter_id) of
  `vote_participation` and the unique (vote_id, slot) of `vote_ballots`.
- close freezes the entitled roster, who voted and the count, builds the hash
  chain and flips the status with `UPDATE ... WHERE status = 'open'`, all in
  one transaction: exactly one closer wins; the others read the frozen result.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, delete, func, insert, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from sessions import events as event_log, presence
from sessions.db import Database
from sessions.errors import Closed, Forbidden, Invalid, NotFound
from sessions.events import LoggedEvent
from sessions.meetings.lifecycle import MeetingStatus
from sessions.models import Meeting, Participant, new_id, utcnow
from voting import audit, rules, secrecy
from voting.models import Vote, VoteBallot, VoteParticipation

OPEN, CLOSED = "open", "closed"


@dataclass(frozen=True)
class VoteSettings:
    options: list[str]
    secret: bool
    eligible_roles: list[str]
    base: rules.CountingBase
    duration_s: int | None


@dataclass(frozen=True)
class CastOutcome:
    receipt: str
    first: bool  # a new voter (turnout grew)
    resent: bool  # the same client ballot id again: nothing changed


@dataclass(frozen=True)
class Opened:
    votes: list[Vote]
    events: list[LoggedEvent]  # one `vote:opened` per vote, to publish after commit


@dataclass(frozen=True)
class CloseOutcome:
    vote: Vote
    won: bool  # this call closed it (False: it was closed already)
    event: LoggedEvent | None = None  # the `vote:result` the winner logged


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


# -- open ----------------------------------------------------------------------


async def entitled_ids(session: AsyncSession, meeting_id: str, roles: list[str]) -> list[str]:
    rows = await session.scalars(
        select(Participant.id).where(Participant.meeting_id == meeting_id, Participant.role.in_(roles))
    )
    return sorted(rows.all())


async def eligible_count(session: AsyncSession, meeting_id: str, roles: list[str]) -> int:
    return await session.scalar(
        select(func.count()).select_from(Participant).where(
            Participant.meeting_id == meeting_id, Participant.role.in_(roles)
        )
    ) or 0


async def open_votes(
    session: AsyncSession,
    meeting_id: str,
    opened_by: str,
    subjects: list[tuple[str, str | None]],
    settings: VoteSettings,
    *,
    batch_id: str | None = None,
) -> Opened:
    """Open one vote per (subject, respondent_id) and log a `vote:opened`
    for each; the present roster is snapshotted now."""
    now = utcnow()
    entitled = set(await entitled_ids(session, meeting_id, settings.eligible_roles))
    present = sorted(entitled & await presence.online_ids(session, meeting_id))
    closes_at = now + timedelta(seconds=settings.duration_s) if settings.duration_s else None
    votes = []
    for subject, respondent_id in subjects:
        vote = Vote(
            id=new_id(),
            meeting_id=meeting_id,
            batch_id=batch_id,
            respondent_id=respondent_id,
            subject=subject,
            options=list(settings.options),
            secret=settings.secret,
            eligible_roles=list(settings.eligible_roles),
            base=settings.base.value,
            status=OPEN,
            opened_by=opened_by,
            opened_at=now,
            closes_at=closes_at,
            key_salt=secrecy.new_salt(),
            present_ids=present,
        )
        session.add(vote)
        votes.append(vote)
    await session.flush()
    logged = [
        await event_log.append(session, meeting_id, "vote:opened", opened_view(vote), actor_id=opened_by)
        for vote in votes
    ]
    return Opened(votes, logged)


async def respondent_subjects(
    session: AsyncSession, meeting_id: str, respondent_ids: list[str], prefix: str
) -> list[tuple[str, str]]:
    """(subject, respondent_id) per respondent department of this meeting."""
    from sessions import directory

    if len(set(respondent_ids)) != len(respondent_ids):
        raise Invalid("respondents: each department once")
    subjects = []
    for pid in respondent_ids:
        try:
            person = await directory.get_participant(session, pid)
        except NotFound:
            raise NotFound(f"no respondent {pid} in this meeting") from None
        if person.meeting_id != meeting_id:
            raise NotFound(f"no respondent {pid} in this meeting")
        if person.role != "respondent":
            raise Invalid(f"{person.name} is not a respondent department")
        department = person.site.name if person.site else person.name
        subjects.append((f"{prefix}{department}", pid))
    return subjects


# -- cast ----------------------------------------------------------------------


async def _vote_of(session: AsyncSession, vote_id: str, meeting_id: str | None, *, lock: str | None) -> Vote:
    query = select(Vote).where(Vote.id == vote_id)
    if lock == "share":
        query = query.with_for_update(read=True)
    elif lock == "update":
        query = query.with_for_update()
    vote = (await session.scalars(query.execution_options(populate_existing=True))).one_or_none()
    # A vote of another meeting is as unknown as a forged id: nothing leaks.
    if vote is None or (meeting_id is not None and vote.meeting_id != meeting_id):
        raise NotFound("no such vote")
    return vote


# The hot path's statements, built once (construction and cache-key work are
# a good part of a cast's CPU time).
_CAST_READ = (
    select(Vote.meeting_id, Vote.status, Vote.options, Vote.secret, Vote.eligible_roles, Vote.key_salt,
           VoteParticipation.ballot_key, VoteParticipation.receipt_box)
    .outerjoin(VoteParticipation, and_(VoteParticipation.vote_id == Vote.id,
                                       VoteParticipation.voter_id == bindparam("voter_id")))
    .where(Vote.id == bindparam("vote_id"))
    .with_for_update(read=True, of=Vote)
)
_INSERT_PARTICIPATION = insert(VoteParticipation)
_INSERT_BALLOT = insert(VoteBallot)


async def cast(
    session: AsyncSession | AsyncConnection,
    server_secret: bytes,
    *,
    vote_id: str,
    meeting_id: str,
    voter_id: str,
    role: str,
    choice: str,
    ballot_id: str | None,
) -> CastOutcome:
    """Record or change one voter's ballot. Raises Closed once the vote is closed.

    Core statements rather than the ORM's unit of work: this is the hot path
    (hundreds of ballots within a second), and every row it writes is known.
    An IntegrityError (two casts of one voter racing) propagates; the caller
    retries the whole transaction, which then takes the change path.
    """
    # One round trip: the vote (shared lock: casts run side by side, a close
    # waits for them) and this voter's participation, if any.
    vote = (await session.execute(_CAST_READ, {"vote_id": vote_id, "voter_id": voter_id})).one_or_none()
    if vote is None or vote.meeting_id != meeting_id:
        raise NotFound("no such vote")
    if role not in vote.eligible_roles:
        raise Forbidden(f"a {role} does not vote in this vote")
    participation = vote if vote.ballot_key is not None else None
    if participation is not None and ballot_id is not None:
        if participation.ballot_key == secrecy.ballot_key(server_secret, vote_id, voter_id, ballot_id):
            # The same ballot resent (e.g. after a reconnect): same receipt,
            # counted once - also after the vote closed.
            receipt = secrecy.unbox_receipt(server_secret, vote_id, voter_id, ballot_id, participation.receipt_box)
            return CastOutcome(receipt, first=False, resent=True)
    if vote.status != OPEN:
        raise Closed("this vote is closed")
    if choice not in vote.options:
        raise Invalid(f"choice must be one of {vote.options}")
    ballot_id = ballot_id or secrecy.new_ballot_id()
    receipt = secrecy.new_receipt()
    key = secrecy.ballot_key(server_secret, vote_id, voter_id, ballot_id)
    box = secrecy.box_receipt(server_secret, vote_id, voter_id, ballot_id, receipt)
    assert vote.key_salt is not None, "an open vote keeps its salt"
    slot = secrecy.slot_of(secrecy.vote_key(server_secret, vote.key_salt), voter_id)
    if participation is None:
        await session.execute(
            _INSERT_PARTICIPATION, {"vote_id": vote_id, "voter_id": voter_id, "ballot_key": key, "receipt_box": box}
        )
        await session.execute(_INSERT_BALLOT, {
            "id": new_id(),
            "vote_id": vote_id,
            "slot": slot,
            "voter_id": None if vote.secret else voter_id,
            "choice": choice,
            "receipt_hash": audit.receipt_hash(receipt),
        })
        return CastOutcome(receipt, first=True, resent=False)
    await session.execute(
        update(VoteParticipation)
        .where(VoteParticipation.vote_id == vote_id, VoteParticipation.voter_id == voter_id)
        .values(ballot_key=key, receipt_box=box)
    )
    changed = await session.execute(
        update(VoteBallot)
        .where(VoteBallot.vote_id == vote_id, VoteBallot.slot == slot)
        .values(choice=choice, receipt_hash=audit.receipt_hash(receipt))
    )
    if changed.rowcount != 1:
        raise RuntimeError(f"vote {vote_id}: participation without its ballot")
    return CastOutcome(receipt, first=False, resent=False)


async def cast_ballot(db: Database, server_secret: bytes, **ballot) -> CastOutcome:
    """`cast` in its own transaction, retried when the same voter's other
    cast won the insert race (the retry takes the change or resend path)."""
    for attempt in range(3):
        try:
            # A bare connection: the cast path needs no ORM session.
            async with db.engine.begin() as conn:
                return await cast(conn, server_secret, **ballot)
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


# -- close ---------------------------------------------------------------------


async def close(session: AsyncSession, vote_id: str, meeting_id: str | None, closed_by: str | None) -> CloseOutcome:
    """Close the vote, freeze everything and log its `vote:result`, or return
    the frozen vote if it was closed already (then nothing is logged)."""
    vote = await _vote_of(session, vote_id, meeting_id, lock="update")
    if vote.status != OPEN:
        return CloseOutcome(vote, won=False)
    entitled = await entitled_ids(session, vote.meeting_id, vote.eligible_roles)
    voters = sorted((await session.scalars(
        select(VoteParticipation.voter_id).where(VoteParticipation.vote_id == vote_id)
    )).all())
    ballots = (await session.execute(
        select(VoteBallot.receipt_hash, VoteBallot.choice, VoteBallot.voter_id).where(VoteBallot.vote_id == vote_id)
    )).all()
    if len(ballots) != len(voters):
        raise RuntimeError(f"vote {vote_id}: {len(voters)} voters but {len(ballots)} ballots")
    tally = rules.tally(
        vote.options,
        [b.choice for b in ballots],
        eligible=len(entitled),
        present=len(vote.present_ids),
        base=rules.CountingBase(vote.base),
    )
    records = audit.build_chain(vote_id, [(b.receipt_hash, b.choice, b.voter_id) for b in ballots])
    # Rewrite the ballots in chain order with fresh random ids and no locator:
    # whatever the storage kept of arrival order or of the slot is gone.
    await session.execute(delete(VoteBallot).where(VoteBallot.vote_id == vote_id))
    if records:
        await session.execute(_INSERT_BALLOT, [
            {
                "id": new_id(),
                "vote_id": vote_id,
                "slot": None,
                "voter_id": record.voter_id,
                "choice": record.choice,
                "receipt_hash": record.receipt_hash,
                "position": record.position,
                "prev_hash": record.prev_hash,
                "record_hash": record.record_hash,
            }
            for record in records
        ])
    now = utcnow()
    won = await session.execute(
        update(Vote)
        .where(Vote.id == vote_id, Vote.status == OPEN)
        .values(
            status=CLOSED,
            closed_at=now,
            closed_by=closed_by,
            key_salt=None,
            entitled_ids=entitled,
            voter_ids=voters,
            counts=tally.counts,
            cast=tally.cast,
            eligible=tally.eligible,
            present=tally.present,
            verdict=tally.verdict,
            satisfaction_rate=tally.satisfaction_rate,
            valid=tally.valid,
            chain_head=audit.head_of(vote_id, records),
        )
        .execution_options(synchronize_session=False)
    )
    if won.rowcount != 1:
        raise RuntimeError(f"vote {vote_id} changed under its lock")
    await session.flush()
    closed = await _vote_of(session, vote_id, None, lock=None)
    logged = await event_log.append(session, closed.meeting_id, "vote:result", result_view(closed), actor_id=closed_by)
    return CloseOutcome(closed, won=True, event=logged)


async def record_turnout(session: AsyncSession, meeting_id: str, vote_id: str) -> LoggedEvent | None:
    """Log the open vote's `vote:turnout` (None once it is closed: the result says it all)."""
    # Lock the meeting row first (it is what append locks too), so that
    # the count read below includes every ballot an earlier seq counted.
    await session.execute(select(Meeting.id).where(Meeting.id == meeting_id).with_for_update())
    vote = await get_vote(session, vote_id)
    if vote.status != OPEN:
        return None
    cast, eligible = await turnout(session, vote)
    return await event_log.append(session, meeting_id, "vote:turnout",
                                  {"vote_id": vote_id, "cast": cast, "eligible": eligible})


async def vacuum_ballots(db: Database) -> None:
    """PostgreSQL keeps the rewritten ballots' old versions (arrival order,
    slot, the casting transaction's xmin) as dead tuples until VACUUM; run it
    after a close so that they are reclaimed now rather than some day."""
    if db.is_sqlite:
        return
    async with db.engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("VACUUM vote_ballots"))


async def due_votes(session: AsyncSession, now: datetime | None = None) -> list[tuple[str, str]]:
    """(vote_id, meeting_id) of open votes whose closes_at has passed, or
    whose meeting was closed: a closed meeting leaves no vote without its
    result, even when the process that closed it died before it could close
    the vote itself."""
    rows = await session.execute(
        select(Vote.id, Vote.meeting_id)
        .join(Meeting, Meeting.id == Vote.meeting_id)
        .where(Vote.status == OPEN, or_(Vote.closes_at <= (now or utcnow()), Meeting.status == MeetingStatus.CLOSED))
    )
    return [(r[0], r[1]) for r in rows.all()]


# -- reading -------------------------------------------------------------------


async def get_vote(session: AsyncSession, vote_id: str, meeting_id: str | None = None) -> Vote:
    return await _vote_of(session, vote_id, meeting_id, lock=None)


async def turnout(session: AsyncSession, vote: Vote) -> tuple[int, int]:
    """(cast, eligible) now; frozen figures once closed."""
    if vote.status == CLOSED:
        return vote.cast or 0, vote.eligible or 0
    cast = await session.scalar(
        select(func.count()).select_from(VoteParticipation).where(VoteParticipation.vote_id == vote.id)
    ) or 0
    return cast, await eligible_count(session, vote.meeting_id, vote.eligible_roles)


async def has_voted(session: AsyncSession, vote_id: str, voter_id: str) -> bool:
    return await session.get(VoteParticipation, (vote_id, voter_id)) is not None


async def named_choice(session: AsyncSession, vote: Vote, voter_id: str) -> str | None:
    """A voter's own choice, for named votes only (a secret vote never says)."""
    if vote.secret:
        return None
    return await session.scalar(
        select(VoteBallot.choice).where(VoteBallot.vote_id == vote.id, VoteBallot.voter_id == voter_id)
    )


async def chain_of(session: AsyncSession, vote_id: str) -> list[audit.BallotRecord]:
    rows = (await session.scalars(
        select(VoteBallot).where(VoteBallot.vote_id == vote_id).order_by(VoteBallot.position)
    )).all()
    return [
        audit.BallotRecord(r.position if r.position is not None else -1, r.receipt_hash, r.choice, r.voter_id,
                           r.prev_hash or "", r.record_hash or "")
        for r in rows
    ]


async def open_votes_of(session: AsyncSession, meeting_id: str) -> list[Vote]:
    rows = await session.scalars(
        select(Vote).where(Vote.meeting_id == meeting_id, Vote.status == OPEN).order_by(Vote.opened_at, Vote.id)
    )
    return list(rows.all())


async def recent_closed_of(session: AsyncSession, meeting_id: str, limit: int = 20) -> list[Vote]:
    rows = await session.scalars(
        select(Vote)
        .where(Vote.meeting_id == meeting_id, Vote.status == CLOSED)
        .order_by(Vote.closed_at.desc(), Vote.id)
        .limit(limit)
    )
    return list(rows.all())


async def votes_of_batch(session: AsyncSession, batch_id: str, meeting_id: str) -> list[Vote]:
    rows = await session.scalars(
        select(Vote).where(Vote.batch_id == batch_id, Vote.meeting_id == meeting_id).order_by(Vote.subject, Vote.id)
    )
    votes = list(rows.all())
    if not votes:
        raise NotFound("no such batch")
    return votes


def opened_view(vote: Vote) -> dict:
    """The `vote:opened` payload (contract fields, then extensions)."""
    return {
        "vote_id": vote.id,
        "subject": vote.subject,
        "options": list(vote.options),
        "secret": vote.secret,
        "base": vote.base,
        "closes_at": iso(vote.closes_at),
        "eligible_roles": list(vote.eligible_roles),
        "batch_id": vote.batch_id,
        "respondent_id": vote.respondent_id,
        "opened_at": iso(vote.opened_at),
    }


def result_view(vote: Vote) -> dict:
    """The `vote:result` payload of a closed vote (contract fields, then extensions)."""
    return {
        "vote_id": vote.id,
        "counts": dict(vote.counts or {}),
        "cast": vote.cast,
        "eligible": vote.eligible,
        "present": vote.present,
        "base": vote.base,
        "verdict": vote.verdict,
        "satisfaction_rate": vote.satisfaction_rate,
        "valid": vote.valid,
        "subject": vote.subject,
        "options": list(vote.options),
        "secret": vote.secret,
        "batch_id": vote.batch_id,
        "respondent_id": vote.respondent_id,
        "closed_at": iso(vote.closed_at),
        "chain_head": vote.chain_head,
    }
