"""Open, cast, change, close and publish over real sockets, on both databases."""
from __future__ import annotations

from sessions import events as event_log
from tests.helpers import wait_until


async def _meeting(hub, clients, members: int = 3):
    mid = await hub.meeting()
    chair = await hub.participant(mid, "主任", "chair")
    voters = [await hub.participant(mid, f"委员{i}", "member") for i in range(members)]
    cc = await hub.connect(chair["token"]); clients.append(cc)
    vcs = []
    for v in voters:
        c = await hub.connect(v["token"]); clients.append(c)
        vcs.append(c)
    return mid, chair, cc, voters, vcs


async def test_open_cast_change_close_publish(hub, clients):
    mid, chair, cc, voters, vcs = await _meeting(hub, clients)
    opened = await cc.call("vote:open", {"subject": "对市交通局的满意度测评", "secret": True})
    assert opened["ok"], opened
    vid = opened["vote_id"]
    announce = await vcs[0].wait_for("vote:opened", lambda d: d["vote_id"] == vid)
    assert announce["options"] == ["满意", "基本满意", "不满意"]
    assert announce["secret"] is True and announce["base"] == "eligible" and announce["closes_at"] is None

    first = await vcs[0].call("vote:cast", {"vote_id": vid, "choice": "不满意"})
    assert first["ok"] and len(first["receipt"]) >= 22
    turnout = await cc.wait_for("vote:turnout", lambda d: d["vote_id"] == vid and d["cast"] == 1)
    assert turnout["eligible"] == 3 and set(turnout) == {"seq", "vote_id", "cast", "eligible"}
    changed = await vcs[0].call("vote:cast", {"vote_id": vid, "choice": "满意"})
    assert changed["ok"] and changed["receipt"] != first["receipt"]
    second = await vcs[1].call("vote:cast", {"vote_id": vid, "choice": "基本满意"})
    assert second["ok"]
    await cc.wait_for("vote:turnout", lambda d: d["vote_id"] == vid and d["cast"] == 2)

    sync = await vcs[0].call("state:sync")
    (open_vote,) = sync["vote"]["open"]
    assert open_vote["vote_id"] == vid and open_vote["voted"] is True and open_vote["choice"] is None

    closed = await cc.call("vote:close", {"vote_id": vid})
    assert closed["ok"] and closed["already_closed"] is False
    for client in [cc, *vcs]:
        result = await client.wait_for("vote:result", lambda d: d["vote_id"] == vid)
        assert result["counts"] == {"满意": 1, "基本满意": 1, "不满意": 0}
        assert (result["cast"], result["eligible"], result["present"]) == (2, 3, 3)
        # 满意 1 of 3 is not more than half; 满意+基本满意 2 of 3 is.
        assert result["verdict"] == "基本满意" and result["satisfaction_rate"] == 1.0 and result["valid"] is True
    assert closed["result"]["counts"] == result["counts"] and closed["result"]["chain_head"] == result["chain_head"]

    # A second close changes nothing and reports the same frozen count.
    again = await cc.call("vote:close", {"vote_id": vid})
    assert again["ok"] and again["already_closed"] is True and again["result"]["cast"] == 2

    resp = await hub.client.get(f"/api/votes/{vid}", headers={"Authorization": f"Bearer {voters[2]['token']}"})
    body = await resp.json()
    assert resp.status == 200 and body["status"] == "closed"
    assert body["audit"] == {"ok": True, "broken_at": None, "reason": None}
    assert len(body["ballots"]) == 2 and all("voter_id" not in b for b in body["ballots"])
    assert body["chain_head"] == result["chain_head"] == body["ballots"][-1]["hash"]

    for receipt, counted in ((changed["receipt"], True), (second["receipt"], True), (first["receipt"], False)):
        resp = await hub.client.get(f"/api/votes/{vid}/verify", params={"receipt": receipt},
                                    headers={"Authorization": f"Bearer {voters[0]['token']}"})
        check = await resp.json()
        assert resp.status == 200 and check["counted"] is counted, check
    # Only the superseded receipt is missing; the latest one shows its choice.
    resp = await hub.client.get(f"/api/votes/{vid}/verify", params={"receipt": changed["receipt"]},
                                headers={"Authorization": f"Bearer {voters[0]['token']}"})
    assert (await resp.json())["choice"] == "满意"

    sync = await vcs[2].call("state:sync")
    assert sync["vote"]["open"] == [] and sync["vote"]["results"][0]["vote_id"] == vid


async def test_named_vote_stores_voter_and_choice(hub, clients):
    mid, chair, cc, voters, vcs = await _meeting(hub, clients, members=2)
    vid = (await cc.call("vote:open", {"subject": "具名测评", "secret": False}))["vote_id"]
    assert (await vcs[0].call("vote:cast", {"vote_id": vid, "choice": "满意"}))["ok"]
    sync = await vcs[0].call("state:sync")
    assert sync["vote"]["open"][0]["choice"] == "满意"
    await cc.call("vote:close", {"vote_id": vid})
    resp = await hub.client.get(f"/api/votes/{vid}", headers=hub.admin_headers())
    body = await resp.json()
    assert [(b["voter_id"], b["choice"]) for b in body["ballots"]] == [(voters[0]["id"], "满意")]


async def test_auto_close_at_closes_at(hub, clients):
    mid, chair, cc, voters, vcs = await _meeting(hub, clients, members=2)
    opened = await cc.call("vote:open", {"subject": "限时测评", "secret": True, "duration_s": 1, "base": "cast"})
    vid = opened["vote_id"]
    assert opened["closes_at"]
    assert (await vcs[0].call("vote:cast", {"vote_id": vid, "choice": "满意"}))["ok"]
    result = await vcs[1].wait_for("vote:result", lambda d: d["vote_id"] == vid, timeout=5)
    # base=cast: 1 of 1 is more than half.
    assert result["cast"] == 1 and result["verdict"] == "满意" and result["base"] == "cast"
    late = await vcs[1].call("vote:cast", {"vote_id": vid, "choice": "不满意"})
    assert late == {"ok": False, "error": {"code": "closed", "message": "this vote is closed"}}
    # Exactly one vote:result, whichever checker tick closed it.
    await wait_until(lambda: len([r for r in cc.received["vote:result"] if r["vote_id"] == vid]) == 1)
    assert len([r for r in vcs[0].received["vote:result"] if r["vote_id"] == vid]) == 1
    # The log is where a second announcement would show for sure.
    async with hub.hub.db.read() as session:
        logged = await event_log.events_of(session, mid, types=("vote:result",))
    assert [e.payload["vote_id"] for e in logged].count(vid) == 1


async def test_batch_for_inquiry_respondents(hub, clients):
    mid, chair, cc, voters, vcs = await _meeting(hub, clients, members=2)
    city = await hub.site("市政府", "city")
    transport = await hub.site("市交通运输局", "department", city["id"])
    housing = await hub.site("市住建局", "department", city["id"])
    r1 = await hub.participant(mid, "交通局局长", "respondent", transport["id"])
    r2 = await hub.participant(mid, "住建局局长", "respondent", housing["id"])
    batch = await cc.call("vote:open_batch", {"respondents": [r1["id"], r2["id"]], "secret": True})
    assert batch["ok"] and len(batch["vote_ids"]) == 2
    subjects = {}
    for vid in batch["vote_ids"]:
        opened = await vcs[0].wait_for("vote:opened", lambda d, vid=vid: d["vote_id"] == vid)
        subjects[opened["respondent_id"]] = opened["subject"]
        assert opened["batch_id"] == batch["batch_id"]
    assert subjects == {r1["id"]: "满意度测评：市交通运输局", r2["id"]: "满意度测评：市住建局"}
    for vc in vcs:
        for vid, choice in zip(batch["vote_ids"], ["满意", "不满意"]):
            assert (await vc.call("vote:cast", {"vote_id": vid, "choice": choice}))["ok"]
    closed = await cc.call("vote:close", {"batch_id": batch["batch_id"]})
    assert closed["ok"]
    verdicts = {r["vote_id"]: r["verdict"] for r in closed["results"]}
    assert verdicts == dict(zip(batch["vote_ids"], ["满意", "不满意"]))
    refused = await cc.call("vote:open_batch", {"respondents": [voters[0]["id"]], "secret": True})
    assert refused["ok"] is False and refused["error"]["code"] == "invalid"


async def test_overdue_vote_left_by_a_dead_process_is_closed_from_the_database(hub, clients):
    """No timer lives in a process: a vote whose closes_at passed while nobody
    was watching (its process died) is closed by any running process's checker."""
    from datetime import timedelta

    from sqlalchemy import update

    from voting import rules, service
    from voting.models import Vote

    mid, chair, cc, voters, vcs = await _meeting(hub, clients, members=2)
    async with hub.hub.db.transaction() as tx:  # as another process would have, minutes ago
        (vote,) = (await service.open_votes(
            tx, mid, chair["id"], [("遗留测评", None)],
            service.VoteSettings(list(rules.DEFAULT_OPTIONS), True, ["member"], rules.CountingBase.ELIGIBLE, 3600),
        )).votes
    assert (await vcs[0].call("vote:cast", {"vote_id": vote.id, "choice": "满意"}))["ok"]
    async with hub.hub.db.transaction() as tx:
        await tx.execute(update(Vote).where(Vote.id == vote.id).values(closes_at=service.utcnow() - timedelta(minutes=5)))
    result = await vcs[1].wait_for("vote:result", lambda d: d["vote_id"] == vote.id, timeout=5)
    assert result["cast"] == 1 and result["counts"]["满意"] == 1
