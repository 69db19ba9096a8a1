"""Shared set-up for the voting tests: a meeting with a chair and members."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest
from sqlalchemy import func, select

from voting.models import VoteBallot, VoteParticipation


@dataclass
class Committee:
    mid: str
    chair: dict
    members: list[dict]
    chair_client: object = None
    member_clients: list = field(default_factory=list)


async def make_committee(hub, clients, members: int, *, connect: bool = True) -> Committee:
    mid = await hub.meeting()
    chair = await hub.participant(mid, "主任", "chair")
    people = await asyncio.gather(*(hub.participant(mid, f"委员{i:03d}", "member") for i in range(members)))
    committee = Committee(mid, chair, list(people))
    committee.chair_client = await hub.connect(chair["token"])
    clients.append(committee.chair_client)
    if connect:
        opened = await asyncio.gather(*(hub.connect(p["token"]) for p in people))
        clients.extend(opened)
        committee.member_clients = list(opened)
    return committee


async def stored_counts(db, vote_id: str) -> tuple[int, int]:
    """(participation rows, ballot rows) of a vote, straight from the tables."""
    async with db.read() as session:
        voters = await session.scalar(
            select(func.count()).select_from(VoteParticipation).where(VoteParticipation.vote_id == vote_id))
        ballots = await session.scalar(select(func.count()).select_from(VoteBallot).where(VoteBallot.vote_id == vote_id))
    return voters, ballots


@pytest.fixture
def committee_of(hub, clients):
    async def make(members: int, connect: bool = True) -> Committee:
        return await make_committee(hub, clients, members, connect=connect)

    return make
