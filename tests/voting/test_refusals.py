"""Every refusal gets the contract's error, and the connection stays up."""
from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from voting.models import VoteBallot, VoteParticipation
from tests.voting.conftest import stored_counts


def refused(ack: dict, code: str) -> bool:
    return ack["ok"] is False and ack["error"]["code"] == code and ack["error"]["message"]


async def test_socket_refusals(hub, clients, committee_of):
    committee = await committee_of(2)
    cc, (m1, m2) = committee.chair_client, committee.member_clients
    respondent = await hub.participant(committee.mid, "交通局", "respondent")
    observer = await hub.participant(committee.mid, "旁听", "observer")
    deputy = await hub.participant(committee.mid, "代表", "deputy")
    rc = await hub.connect(respondent["token"]); clients.append(rc)
    oc = await hub.connect(observer["token"]); clients.append(oc)
    dc = await hub.connect(deputy["token"]); clients.append(dc)
    vid = (await cc.call("vote:open", {"subject": "拒绝测试", "secret": True}))["vote_id"]

    # Only the chair opens and closes.
    assert refused(await m1.call("vote:open", {"subject": "x", "secret": True}), "forbidden")
    assert refused(await m1.call("vote:close", {"vote_id": vid}), "forbidden")
    # Ineligible roles: respondents and observers never vote; deputies not by default.
    for client in (rc, oc, dc):
        assert refused(await client.call("vote:cast", {"vote_id": vid, "choice": "满意"}), "forbidden")
    # Unknown option, forged vote id, malformed payloads.
    assert refused(await m1.call("vote:cast", {"vote_id": vid, "choice": "非常满意"}), "invalid")
    assert refused(await m1.call("vote:cast", {"vote_id": "f" * 32, "choice": "满意"}), "not_found")
    assert refused(await m1.call("vote:cast", {"vote_id": vid, "choice": "满意", "voter": "x"}), "invalid")
    assert refused(await m1.call("vote:cast", {"vote_id": vid, "choice": "满意", "ballot_id": "short"}), "invalid")
    assert refused(await m1.call("vote:cast", ["not", "an", "object"]), "invalid")
    assert refused(await cc.call("vote:open", {"subject": "x"}), "invalid")  # secret is required
    assert refused(await cc.call("vote:open", {"subject": "x", "secret": True, "eligible_roles": ["respondent"]}),
                   "invalid")
    assert refused(await cc.call("vote:open", {"subject": "x", "secret": True, "eligible_roles": ["observer"]}),
                   "invalid")
    assert refused(await cc.call("vote:open", {"subject": "x", "secret": True, "options": ["同意", "同意"]}), "invalid")
    assert refused(await cc.call("vote:open", {"subject": "x", "secret": True, "base": "everyone"}), "invalid")
    assert refused(await cc.call("vote:open", {"subject": "x", "secret": True, "duration_s": 0}), "invalid")
    assert refused(await cc.call("vote:open_batch", {"respondents": [], "secret": True}), "invalid")
    assert refused(await cc.call("vote:open_batch", {"respondents": ["x" * 65], "secret": True}), "invalid")
    assert refused(await cc.call("vote:open_batch", {"respondents": ["0" * 32], "secret": True}), "not_found")
    assert refused(await cc.call("vote:open_batch", {"respondents": [respondent["id"]] * 2, "secret": True}),
                   "invalid")
    assert refused(await m1.call("vote:open_batch", {"respondents": [respondent["id"]], "secret": True}),
                   "forbidden")
    assert refused(await cc.call("vote:close", {}), "invalid")
    assert refused(await cc.call("vote:close", {"vote_id": vid, "batch_id": "b"}), "invalid")
    assert refused(await cc.call("vote:close", {"vote_id": "nope"}), "not_found")
    assert refused(await cc.call("vote:close", {"batch_id": "nope"}), "not_found")

    # A second ballot of the same voter replaces the first: still one counted.
    assert (await m1.call("vote:cast", {"vote_id": vid, "choice": "满意"}))["ok"]
    assert (await m1.call("vote:cast", {"vote_id": vid, "choice": "不满意"}))["ok"]
    assert await stored_counts(hub.hub.db, vid) == (1, 1)
    result = (await cc.call("vote:close", {"vote_id": vid}))["result"]
    assert result["cast"] == 1 and result["counts"]["不满意"] == 1 and result["counts"]["满意"] == 0

    # After close: refused with `closed`.
    assert refused(await m2.call("vote:cast", {"vote_id": vid, "choice": "满意"}), "closed")
    assert refused(await m1.call("vote:cast", {"vote_id": vid, "choice": "满意"}), "closed")

    # A vote of another meeting is unknown here.
    other = await hub.meeting("另一会议")
    other_chair = await hub.participant(other, "主任", "chair")
    oc2 = await hub.connect(other_chair["token"]); clients.append(oc2)
    foreign = (await oc2.call("vote:open", {"subject": "别处", "secret": True}))["vote_id"]
    assert refused(await m1.call("vote:cast", {"vote_id": foreign, "choice": "满意"}), "not_found")
    assert refused(await cc.call("vote:close", {"vote_id": foreign}), "not_found")
    # Still connected after all that.
    assert (await m1.call("state:sync"))["ok"]


async def test_database_refuses_a_second_counted_ballot(hub, committee_of):
    """The unique constraint itself, not only the code path, stops a double count."""
    committee = await committee_of(1)
    cc, (m1,) = committee.chair_client, committee.member_clients
    vid = (await cc.call("vote:open", {"subject": "约束", "secret": True}))["vote_id"]
    assert (await m1.call("vote:cast", {"vote_id": vid, "choice": "满意"}))["ok"]
    voter = committee.members[0]["id"]
    with pytest.raises(IntegrityError):
        async with hub.hub.db.transaction() as tx:
            tx.add(VoteParticipation(vote_id=vid, voter_id=voter, ballot_key="k" * 64, receipt_box="00"))
    assert await stored_counts(hub.hub.db, vid) == (1, 1)
    async with hub.hub.db.read() as session:
        slot = await session.scalar(select(VoteBallot.slot).where(VoteBallot.vote_id == vid))
    assert slot
    with pytest.raises(IntegrityError):
        async with hub.hub.db.transaction() as tx:
            tx.add(VoteBallot(id="x" * 32, vote_id=vid, slot=slot, choice="不满意", receipt_hash="r" * 64))


async def test_rest_refusals(hub, committee_of):
    committee = await committee_of(1, connect=False)
    cc = committee.chair_client
    vid = (await cc.call("vote:open", {"subject": "接口", "secret": True}))["vote_id"]
    get = hub.client.get

    async def status_and_code(path, token=None, params=None):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        resp = await get(path, headers=headers, params=params)
        body = await resp.json()
        return resp.status, body.get("error", {}).get("code")

    member_token = committee.members[0]["token"]
    assert await status_and_code(f"/api/votes/{vid}") == (401, "unauthorized")
    assert await status_and_code(f"/api/votes/{vid}", "forged.token.value") == (401, "unauthorized")
    assert await status_and_code("/api/votes/" + "0" * 32, member_token) == (404, "not_found")
    assert await status_and_code(f"/api/votes/{vid}/verify", member_token, {"receipt": "abc"}) == (409, "conflict")
    assert await status_and_code(f"/api/votes/{vid}/verify", member_token) == (400, "invalid")
    other = await hub.meeting("另一会议")
    outsider = await hub.participant(other, "外人", "member")
    assert await status_and_code(f"/api/votes/{vid}", outsider["token"]) == (401, "unauthorized")
    resp = await get(f"/api/votes/{vid}", headers={"Authorization": f"Bearer {member_token}"})
    body = await resp.json()
    assert resp.status == 200 and body["status"] == "open" and "ballots" not in body and "result" not in body
