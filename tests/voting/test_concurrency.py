"""Races that must not change the count: many voters, closes against casts."""
from __future__ import annotations

import asyncio

from sessions.errors import Closed
from signaling.handlers.voting import close_and_announce, server_secret
from voting import service
from tests.voting.conftest import stored_counts


async def test_hundred_concurrent_voters_give_exactly_hundred_ballots(hub, committee_of):
    committee = await committee_of(100)
    cc = committee.chair_client
    vid = (await cc.call("vote:open", {"subject": "百人测评", "secret": True}))["vote_id"]
    choices = ["满意", "基本满意", "不满意"]
    acks = await asyncio.gather(*(
        c.call("vote:cast", {"vote_id": vid, "choice": choices[i % 3]}, timeout=30)
        for i, c in enumerate(committee.member_clients)
    ))
    assert all(a["ok"] for a in acks), [a for a in acks if not a["ok"]][:3]
    assert len({a["receipt"] for a in acks}) == 100
    assert await stored_counts(hub.hub.db, vid) == (100, 100)
    turnout = await cc.wait_for("vote:turnout", lambda d: d["vote_id"] == vid and d["cast"] == 100, timeout=10)
    assert turnout["eligible"] == 100
    casts = [d["cast"] for d in cc.received["vote:turnout"] if d["vote_id"] == vid]
    assert casts == sorted(casts), "turnout never goes backwards"
    result = (await cc.call("vote:close", {"vote_id": vid}))["result"]
    assert result["cast"] == 100 and result["counts"] == {"满意": 34, "基本满意": 33, "不满意": 33}
    # 34 of 100 is not more than half; 67 is.
    assert result["verdict"] == "基本满意" and result["satisfaction_rate"] == 0.67


async def test_fifty_closes_racing_fifty_casts_agree_with_the_rows(hub, committee_of):
    committee = await committee_of(50, connect=False)
    cc = committee.chair_client
    vid = (await cc.call("vote:open", {"subject": "竞态测评", "secret": True}))["vote_id"]
    db, secret = hub.hub.db, server_secret(hub.hub)

    async def cast(member: dict):
        try:
            return await service.cast_ballot(db, secret, vote_id=vid, meeting_id=committee.mid,
                                             voter_id=member["id"], role="member", choice="满意", ballot_id=None)
        except Closed:
            return None

    async def close():
        return await close_and_announce(hub.hub, vid, committee.mid, committee.chair["id"])

    jobs = []
    for member in committee.members:  # interleaved, so the close lands mid-stream
        jobs += [cast(member), close()]
    outcomes = await asyncio.gather(*jobs)
    cast_outcomes, closes = outcomes[0::2], outcomes[1::2]
    counted = sum(1 for o in cast_outcomes if o is not None)
    assert sum(1 for c in closes if c.won) == 1
    assert {c.vote.cast for c in closes} == {counted}
    assert {c.vote.chain_head for c in closes} == {closes[0].vote.chain_head}
    assert await stored_counts(db, vid) == (counted, counted)
    results = await cc.wait_for("vote:result", lambda d: d["vote_id"] == vid)
    assert results["cast"] == counted and results["counts"]["满意"] == counted
    # One announcement only, however many closers.
    assert len([r for r in cc.received["vote:result"] if r["vote_id"] == vid]) == 1


async def test_casts_racing_a_close_through_sockets(hub, committee_of):
    committee = await committee_of(30)
    cc = committee.chair_client
    vid = (await cc.call("vote:open", {"subject": "套接字竞态", "secret": False}))["vote_id"]
    calls = [c.call("vote:cast", {"vote_id": vid, "choice": "不满意"}, timeout=30) for c in committee.member_clients]
    calls.insert(15, cc.call("vote:close", {"vote_id": vid}, timeout=30))
    acks = await asyncio.gather(*calls)
    close_ack = acks.pop(15)
    accepted = [a for a in acks if a["ok"]]
    refused = [a for a in acks if not a["ok"]]
    assert all(a["error"]["code"] == "closed" for a in refused)
    assert close_ack["result"]["cast"] == len(accepted)
    assert await stored_counts(hub.hub.db, vid) == (len(accepted), len(accepted))
    for client in committee.member_clients[:3]:
        result = await client.wait_for("vote:result", lambda d: d["vote_id"] == vid)
        assert result["cast"] == len(accepted)
