"""Receipts, the published chain, a tampered row, and resends after a reconnect."""
from __future__ import annotations

import asyncio

from sqlalchemy import update

from voting import audit
from voting.models import Vote, VoteBallot
from tests.voting.conftest import stored_counts


async def published(hub, vid, token):
    resp = await hub.client.get(f"/api/votes/{vid}", headers={"Authorization": f"Bearer {token}"})
    assert resp.status == 200
    return await resp.json()


async def test_tampered_row_breaks_the_chain_where_it_was_changed(hub, committee_of):
    committee = await committee_of(6)
    cc, members = committee.chair_client, committee.member_clients
    token = committee.members[0]["token"]
    vid = (await cc.call("vote:open", {"subject": "审计", "secret": True}))["vote_id"]
    for m in members:
        assert (await m.call("vote:cast", {"vote_id": vid, "choice": "不满意"}))["ok"]
    await cc.call("vote:close", {"vote_id": vid})
    body = await published(hub, vid, token)
    assert body["audit"]["ok"] is True and len(body["ballots"]) == 6

    db = hub.hub.db
    async with db.transaction() as tx:  # someone flips ballot 3 in the database
        await tx.execute(update(VoteBallot).where(VoteBallot.vote_id == vid, VoteBallot.position == 3)
                         .values(choice="满意"))
    report = (await published(hub, vid, token))["audit"]
    assert report["ok"] is False and report["broken_at"] == 3 and "changed" in report["reason"]

    # A forger who recomputes the whole chain and the stored head is still caught:
    # the head announced at close (in the meeting log, at every site) differs.
    async with db.read() as session:
        from voting.service import chain_of

        records = await chain_of(session, vid)
    forged = audit.build_chain(vid, [(r.receipt_hash, r.choice, None) for r in records])
    async with db.transaction() as tx:
        for record in forged:
            await tx.execute(update(VoteBallot).where(VoteBallot.vote_id == vid, VoteBallot.position == record.position)
                             .values(prev_hash=record.prev_hash, record_hash=record.record_hash))
        await tx.execute(update(Vote).where(Vote.id == vid).values(chain_head=audit.head_of(vid, forged)))
    report = (await published(hub, vid, token))["audit"]
    assert report["ok"] is False and "counts" in report["reason"]
    async with db.transaction() as tx:  # ...and the stored counts too
        await tx.execute(update(Vote).where(Vote.id == vid).values(counts={"满意": 1, "基本满意": 0, "不满意": 5}))
    report = (await published(hub, vid, token))["audit"]
    assert report["ok"] is False and "announced at close" in report["reason"]


def test_chain_check_finds_the_first_break():
    ballots = [(f"{i:064x}", "满意", None) for i in range(5)]
    records = audit.build_chain("v1", ballots)
    head = audit.head_of("v1", records)
    assert audit.verify_chain("v1", records, head=head).ok
    cut = records[:-1]
    assert audit.verify_chain("v1", cut, head=head).broken_at == 4
    gap = records[:2] + records[3:]
    assert audit.verify_chain("v1", gap, head=head).broken_at == 2
    swapped = list(records)
    swapped[1] = audit.BallotRecord(1, records[1].receipt_hash, "不满意", None, records[1].prev_hash,
                                    records[1].record_hash)
    assert audit.verify_chain("v1", swapped, head=head).broken_at == 1
    assert not audit.verify_chain("v1", records, head=head, counts={"满意": 4, "不满意": 1}).ok


async def test_resend_after_reconnect_gets_the_same_receipt_and_counts_once(hub, committee_of, clients):
    committee = await committee_of(2)
    cc, (m1, m2) = committee.chair_client, committee.member_clients
    vid = (await cc.call("vote:open", {"subject": "重发", "secret": True}))["vote_id"]
    first = await m1.call("vote:cast", {"vote_id": vid, "choice": "满意", "ballot_id": "ballot-0001"})
    assert first["ok"] and first["resent"] is False
    await m1.close()
    again = await hub.connect(committee.members[0]["token"]); clients.append(again)
    resent = await again.call("vote:cast", {"vote_id": vid, "choice": "满意", "ballot_id": "ballot-0001"})
    assert resent == {"ok": True, "receipt": first["receipt"], "resent": True}
    assert await stored_counts(hub.hub.db, vid) == (1, 1)

    # Many copies at once (two tabs, a flaky link): one ballot, one receipt.
    copies = await asyncio.gather(*(
        m2.call("vote:cast", {"vote_id": vid, "choice": "基本满意", "ballot_id": "tab-copy-01"}) for _ in range(8)
    ))
    assert all(c["ok"] for c in copies) and len({c["receipt"] for c in copies}) == 1
    assert await stored_counts(hub.hub.db, vid) == (2, 2)

    result = (await cc.call("vote:close", {"vote_id": vid}))["result"]
    assert result["cast"] == 2 and result["counts"] == {"满意": 1, "基本满意": 1, "不满意": 0}
    # A resend that arrives after the close still gets its receipt, and the receipt is published.
    late = await again.call("vote:cast", {"vote_id": vid, "choice": "满意", "ballot_id": "ballot-0001"})
    assert late == {"ok": True, "receipt": first["receipt"], "resent": True}
    resp = await hub.client.get(f"/api/votes/{vid}/verify", params={"receipt": first["receipt"]},
                                headers={"Authorization": f"Bearer {committee.members[0]['token']}"})
    check = await resp.json()
    assert check["counted"] is True and check["choice"] == "满意" and check["audit"]["ok"] is True
    # Another voter cannot replay someone's ballot id to learn their receipt.
    stolen = await m2.call("vote:cast", {"vote_id": vid, "choice": "满意", "ballot_id": "ballot-0001"})
    assert stolen["ok"] is False and stolen["error"]["code"] == "closed"
