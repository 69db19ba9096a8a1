"""A secret vote's tables hold no link from a voter to a choice: checked on the rows."""
from __future__ import annotations

import asyncio
import hashlib
import uuid

from sqlalchemy import DateTime, select, text

from sessions import events as event_log
from voting.models import Vote, VoteBallot, VoteParticipation
from tests.helpers import wait_until
from tests.voting.conftest import stored_counts

CHOICES = ["满意", "基本满意", "不满意"]


def values_of(row, columns) -> set[str]:
    found = set()
    for column in columns:
        value = getattr(row, column)
        if value is None:
            continue
        found.add(value.hex() if isinstance(value, bytes) else str(value))
    return found


async def rows(db, vid):
    async with db.read() as session:
        parts = (await session.scalars(select(VoteParticipation).where(VoteParticipation.vote_id == vid))).all()
        ballots = (await session.scalars(select(VoteBallot).where(VoteBallot.vote_id == vid))).all()
        vote = await session.get(Vote, vid)
    return parts, ballots, vote


def assert_unlinkable(parts, ballots, voter_ids):
    part_cols = [c.name for c in VoteParticipation.__table__.columns if c.name != "vote_id"]
    ballot_cols = [c.name for c in VoteBallot.__table__.columns if c.name != "vote_id"]
    part_values = set().union(*(values_of(p, part_cols) for p in parts))
    for ballot in ballots:
        assert ballot.voter_id is None
        ballot_values = values_of(ballot, ballot_cols)
        # No value is shared between the tables, and no ballot value names a voter.
        assert not ballot_values & part_values
        assert not any(v in value for v in voter_ids for value in ballot_values)
        # The random key is a version-4 UUID: no order, no clock in it.
        assert uuid.UUID(hex=ballot.id).version == 4
    for part in parts:
        # Nothing in a participation row hashes to a published receipt hash.
        for value in values_of(part, part_cols):
            assert hashlib.sha256(value.encode()).hexdigest() not in {b.receipt_hash for b in ballots}


def test_no_timestamps_in_participation_or_ballots():
    for table in (VoteParticipation.__table__, VoteBallot.__table__):
        assert not [c.name for c in table.columns if isinstance(c.type, DateTime)]
        assert not {"created_at", "updated_at", "cast_at"} & {c.name for c in table.columns}


async def test_secret_vote_rows_hold_no_link(hub, committee_of):
    committee = await committee_of(12)
    cc, members = committee.chair_client, committee.member_clients
    vid = (await cc.call("vote:open", {"subject": "无记名", "secret": True}))["vote_id"]
    acks = await asyncio.gather(*(
        m.call("vote:cast", {"vote_id": vid, "choice": CHOICES[i % 3]}) for i, m in enumerate(members)
    ))
    assert all(a["ok"] for a in acks)
    # Some change their minds while open.
    for m in members[:4]:
        assert (await m.call("vote:cast", {"vote_id": vid, "choice": "不满意"}))["ok"]
    voter_ids = {p["id"] for p in committee.members}

    parts, ballots, vote = await rows(hub.hub.db, vid)
    assert {p.voter_id for p in parts} == voter_ids and len(ballots) == 12
    assert_unlinkable(parts, ballots, voter_ids)

    await cc.call("vote:close", {"vote_id": vid})
    parts, ballots, vote = await rows(hub.hub.db, vid)
    assert vote.key_salt is None, "the per-vote key is destroyed at close"
    assert all(b.slot is None for b in ballots), "the ballot locator is gone"
    assert_unlinkable(parts, ballots, voter_ids)
    assert await stored_counts(hub.hub.db, vid) == (12, 12)

    # Storage order says nothing about arrival: SQLite keeps no rowid, and
    # PostgreSQL's heap holds the ballots in chain (receipt-hash) order.
    async with hub.hub.db.read() as session:
        if hub.hub.db.is_sqlite:
            ddl = await session.scalar(text("SELECT sql FROM sqlite_master WHERE name = 'vote_ballots'"))
            assert "WITHOUT ROWID" in ddl.upper()
            ddl = await session.scalar(text("SELECT sql FROM sqlite_master WHERE name = 'vote_participation'"))
            assert "WITHOUT ROWID" in ddl.upper()
        else:
            physical = (await session.scalars(
                text("SELECT position FROM vote_ballots WHERE vote_id = :v ORDER BY ctid"), {"v": vid}
            )).all()
            assert physical == sorted(physical)
            # Nor do the system columns link: the ballots were rewritten by the
            # closing transaction, so no ballot shares its xmin with a voter's row.
            ballot_xmins = set((await session.scalars(
                text("SELECT xmin::text FROM vote_ballots WHERE vote_id = :v"), {"v": vid})).all())
            part_xmins = set((await session.scalars(
                text("SELECT xmin::text FROM vote_participation WHERE vote_id = :v"), {"v": vid})).all())
            assert len(ballot_xmins) == 1 and not ballot_xmins & part_xmins
        # The meeting log tells who voted nowhere, and no choice while open.
        logged = await event_log.events_of(session, committee.mid, types=("vote:opened", "vote:turnout", "vote:result"))
    if not hub.hub.db.is_sqlite:
        # The old ballot versions (arrival order, xmin of each cast) are vacuumed away after the close.
        async def vacuumed() -> bool:
            async with hub.hub.db.read() as session:
                return await session.scalar(text(
                    "SELECT last_vacuum IS NOT NULL FROM pg_stat_user_tables WHERE relname = 'vote_ballots'"))
        await wait_until(vacuumed, timeout=10, interval=0.2)
    for entry in logged:
        assert not any(v in str(entry.payload) for v in voter_ids)
        if entry.type == "vote:turnout":
            assert set(entry.payload) == {"vote_id", "cast", "eligible"}


async def test_turnout_broadcasts_carry_no_choices(hub, committee_of):
    committee = await committee_of(3)
    cc, members = committee.chair_client, committee.member_clients
    vid = (await cc.call("vote:open", {"subject": "只报人数", "secret": False}))["vote_id"]
    for m in members:
        assert (await m.call("vote:cast", {"vote_id": vid, "choice": "满意"}))["ok"]
    last = await members[0].wait_for("vote:turnout", lambda d: d["vote_id"] == vid and d["cast"] == 3)
    assert set(last) == {"seq", "vote_id", "cast", "eligible"}
    assert "vote:result" not in members[0].received
