"""Satisfaction voting (满意度测评) over Socket.IO.

Contract events: `vote:open`, `vote:cast`, `vote:close`; broadcasts
`vote:opened`, `vote:turnout`, `vote:result`; `state:sync` key `vote`.

Extensions (beyond docs/contract.md):
- `vote:cast` takes an optional `ballot_id` (8-64 chars of [A-Za-z0-9_-]),
  chosen by the client: the same voter resending the same ballot_id (after a
  reconnect) gets the same `receipt` back and is counted once, even after the
  vote closed. The ack also says `resent: true` then. A new cast (another or
  no ballot_id) while open replaces the voter's choice and returns a new
  receipt; only the latest receipt is in the published chain, and only the
  latest ballot_id is remembered (a client resends its last ballot only).
- `vote:open_batch {subject_prefix?, respondents: [participant_id…], options?,
  secret, eligible_roles?, base?, duration_s?}` (chair) → `{ok, batch_id,
  vote_ids}`: one vote per respondent department (subject = prefix +
  the department's site name, or the respondent's name without a site),
  opened in one transaction; one `vote:opened` each.
- `vote:close` takes `{vote_id}` or `{batch_id}` (chair). Closing is
  idempotent: the ack carries `result` (or `results` for a batch), the frozen
  result, also when the vote was already closed (`already_closed: true`).
- `vote:open` ack also has `closes_at`. `eligible_roles` may name member,
  deputy, chair, clerk; a respondent or observer never votes (`invalid`).
  `duration_s` is 1..86400; without it the vote stays open until closed.
- `vote:opened` also carries `eligible_roles, batch_id, respondent_id, opened_at`.
- `vote:result` also carries `subject, options, secret, batch_id,
  respondent_id, closed_at, chain_head` (the hash-chain head, see voting/audit.py).
  `satisfaction_rate` is null when nothing was cast; with non-default options
  the verdict is the option with more than half of the base, else null, and
  the rate is null.
- `state:sync` → `vote: {open: [opened fields + cast, eligible, voted,
  choice (named votes only)], results: [results, newest first, up to 20],
  server_time (epoch seconds)}`.
"""
from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated

from pydantic import Field, Strict, field_validator, model_validator
from sqlalchemy.ext.asyncio import AsyncSession

from sessions.models import new_id
from sessions.roles import Role
from sessions.text import Bool, Id, Int, Line
from signaling.registry import Caller, Events, Payload
from voting import rules, service

if TYPE_CHECKING:
    from signaling.hub import Hub

events = Events()

VOTING_ROLES = frozenset({Role.MEMBER, Role.DEPUTY, Role.CHAIR, Role.CLERK})
CHECK_INTERVAL_S = 0.5
VACUUM_DELAY_S = 1.0  # one VACUUM for a batch of closes
BALLOT_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


ParticipantId = Id


class VoteOptions(Payload):
    options: list[Line] | None = Field(default=None, min_length=2, max_length=10)
    secret: Bool
    eligible_roles: list[Role] | None = Field(default=None, min_length=1, max_length=4)
    base: rules.CountingBase = rules.CountingBase.ELIGIBLE
    duration_s: Int | None = Field(default=None, ge=1, le=86400)

    @field_validator("options")
    @classmethod
    def _options(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        cleaned = [o.strip() for o in value]
        if any(not o or len(o) > 100 for o in cleaned):
            raise ValueError("each option is 1 to 100 characters")
        if len(set(cleaned)) != len(cleaned):
            raise ValueError("options must differ")
        return cleaned

    @field_validator("eligible_roles")
    @classmethod
    def _roles(cls, value: list[Role] | None) -> list[Role] | None:
        if value is None:
            return None
        refused = [r.value for r in value if r not in VOTING_ROLES]
        if refused:
            raise ValueError(f"{', '.join(refused)} never vote")
        return sorted(set(value))

    def settings(self) -> service.VoteSettings:
        return service.VoteSettings(
            options=list(self.options or rules.DEFAULT_OPTIONS),
            secret=self.secret,
            eligible_roles=[r.value for r in (self.eligible_roles or [Role.MEMBER])],
            base=self.base,
            duration_s=self.duration_s,
        )


class OpenVote(VoteOptions):
    subject: Line = Field(min_length=1, max_length=300)


class OpenBatch(VoteOptions):
    subject_prefix: Line = Field(default="满意度测评：", max_length=100)
    respondents: list[ParticipantId] = Field(min_length=1, max_length=50)


class CastVote(Payload):
    vote_id: Id
    choice: Line = Field(min_length=1, max_length=100)
    ballot_id: Annotated[str, Strict()] | None = Field(default=None, pattern=BALLOT_ID.pattern)


class CloseVote(Payload):
    vote_id: Id | None = None
    batch_id: Id | None = None

    @model_validator(mode="after")
    def _one(self) -> "CloseVote":
        if (self.vote_id is None) == (self.batch_id is None):
            raise ValueError("give vote_id or batch_id")
        return self


def server_secret(hub: "Hub") -> bytes:
    return hub.settings.signing_secret().encode()


SubjectsOf = Callable[[AsyncSession], Awaitable[list[tuple[str, str | None]]]]


async def _open(
    hub: "Hub", caller: Caller, subjects_of: SubjectsOf, settings: service.VoteSettings, batch_id: str | None = None
) -> list:
    """Open the votes (their `vote:opened` logged with them), then announce."""
    async with hub.db.transaction() as tx:
        subjects = await subjects_of(tx)
        opened = await service.open_votes(tx, caller.meeting_id, caller.participant_id, subjects, settings,
                                          batch_id=batch_id)
    for logged in opened.events:
        await hub.publish(logged)
    return opened.votes


@events.on("vote:open", OpenVote, roles={Role.CHAIR})
async def open_vote(hub: "Hub", caller: Caller, payload: OpenVote) -> dict:
    async def single(_tx: AsyncSession) -> list[tuple[str, str | None]]:
        return [(payload.subject, None)]

    (vote,) = await _open(hub, caller, single, payload.settings())
    return {"vote_id": vote.id, "closes_at": service.iso(vote.closes_at)}


@events.on("vote:open_batch", OpenBatch, roles={Role.CHAIR})
async def open_batch(hub: "Hub", caller: Caller, payload: OpenBatch) -> dict:
    batch_id = new_id()
    async def departments(tx: AsyncSession) -> list[tuple[str, str | None]]:
        return await service.respondent_subjects(tx, caller.meeting_id, payload.respondents, payload.subject_prefix)

    votes = await _open(hub, caller, departments, payload.settings(), batch_id)
    return {"batch_id": batch_id, "vote_ids": [v.id for v in votes]}


@events.on("vote:cast", CastVote)
async def cast_vote(hub: "Hub", caller: Caller, payload: CastVote) -> dict:
    outcome = await service.cast_ballot(
        hub.db, server_secret(hub), vote_id=payload.vote_id, meeting_id=caller.meeting_id,
        voter_id=caller.participant_id, role=caller.role.value, choice=payload.choice, ballot_id=payload.ballot_id,
    )
    if outcome.first:
        hub.turnout.mark(caller.meeting_id, payload.vote_id)
    return {"receipt": outcome.receipt, "resent": outcome.resent}


async def close_and_announce(hub: "Hub", vote_id: str, meeting_id: str | None, closed_by: str | None):
    """Close one vote; the process that wins the close broadcasts the result once."""
    async with hub.db.transaction() as tx:
        outcome = await service.close(tx, vote_id, meeting_id, closed_by)
    if outcome.event is not None:
        await hub.publish(outcome.event)
        hub.debounce("vote-vacuum", VACUUM_DELAY_S, lambda: service.vacuum_ballots(hub.db))
    return outcome


@events.on("vote:close", CloseVote, roles={Role.CHAIR})
async def close_vote(hub: "Hub", caller: Caller, payload: CloseVote) -> dict:
    if payload.vote_id is not None:
        outcome = await close_and_announce(hub, payload.vote_id, caller.meeting_id, caller.participant_id)
        return {"result": service.result_view(outcome.vote), "already_closed": not outcome.won}
    async with hub.db.read() as session:
        ids = [v.id for v in await service.votes_of_batch(session, payload.batch_id, caller.meeting_id)]
    results = []
    for vote_id in ids:
        outcome = await close_and_announce(hub, vote_id, caller.meeting_id, caller.participant_id)
        results.append(service.result_view(outcome.vote))
    return {"results": results}


async def close_due_votes(hub: "Hub") -> None:
    async with hub.db.read() as session:
        due = await service.due_votes(session)
    for vote_id, meeting_id in due:
        await close_and_announce(hub, vote_id, meeting_id, None)


@events.on_close
async def close_open_votes(hub: "Hub", meeting_id: str, closed_by: str | None) -> None:
    # At once, so the result reaches the sites before they are let go; the
    # auto-close sweep (due_votes) catches any this misses.
    async with hub.db.read() as session:
        open_now = [v.id for v in await service.open_votes_of(session, meeting_id)]
    for vote_id in open_now:
        await close_and_announce(hub, vote_id, meeting_id, closed_by)


@events.on_start
async def start_auto_close(hub: "Hub") -> None:
    # Every process checks; the conditional close lets exactly one win.
    hub.every(CHECK_INTERVAL_S, lambda: close_due_votes(hub), "vote-auto-close")


@events.state("vote")
async def vote_state(hub: "Hub", caller: Caller, session) -> dict:
    open_now = []
    for vote in await service.open_votes_of(session, caller.meeting_id):
        cast, eligible = await service.turnout(session, vote)
        open_now.append({
            **service.opened_view(vote),
            "cast": cast,
            "eligible": eligible,
            "voted": await service.has_voted(session, vote.id, caller.participant_id),
            "choice": await service.named_choice(session, vote, caller.participant_id),
        })
    results = [service.result_view(v) for v in await service.recent_closed_of(session, caller.meeting_id)]
    # server_time lets a client count down to closes_at whatever its own clock says.
    return {"open": open_now, "results": results, "server_time": time.time()}
