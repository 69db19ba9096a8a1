"""Presenter mode: page turns reach every follower in order; late joiners land on the page."""
from __future__ import annotations

import asyncio

from tests.documents.pdfs import make_pdf
from tests.documents.util import upload

FOLLOWERS = 50


async def test_fifty_followers_receive_every_page_turn_in_order(hub, clients):
    mid = await hub.meeting()
    chair = await hub.participant(mid, "主任", "chair")
    _, doc = await upload(hub, mid, chair["token"], make_pdf(12))
    tokens = [(await hub.participant(mid, f"委员{i}", "member"))["token"] for i in range(FOLLOWERS)]
    followers = await asyncio.gather(*(hub.connect(t) for t in tokens))
    clients.extend(followers)
    presenter = await hub.connect(chair["token"]); clients.append(presenter)
    start = (await presenter.call("state:sync"))["seq"]

    turns = [1, 2, 3, 4, 5, 4, 6, 7, 8, 9, 10, 12]
    acks = []
    for page in turns:
        # One after another, as a presenter turns pages, without waiting for followers.
        acks.append(await presenter.call("doc:present", {"document_id": doc["id"], "page": page}))
    assert all(a == {"ok": True} for a in acks)

    async def all_turns(client):
        await client.wait_for("doc:page", lambda d: d["seq"] > start and d["page"] == 12, timeout=20)
        return [d for d in client.received["doc:page"] if d["seq"] > start]

    for received in await asyncio.gather(*(all_turns(c) for c in followers)):
        assert [d["page"] for d in received] == turns
        seqs = [d["seq"] for d in received]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
        assert {d["document_id"] for d in received} == {doc["id"]}
        assert {d["presenter"] for d in received} == {chair["id"]}


async def test_late_joiner_lands_on_the_presented_page(hub, clients):
    mid = await hub.meeting()
    chair = await hub.participant(mid, "主任", "chair")
    _, doc = await upload(hub, mid, chair["token"], make_pdf(9))
    presenter = await hub.connect(chair["token"]); clients.append(presenter)
    for page in (1, 5, 7):
        assert (await presenter.call("doc:present", {"document_id": doc["id"], "page": page}))["ok"]
    late = await hub.participant(mid, "迟到委员", "member")
    joiner = await hub.connect(late["token"]); clients.append(joiner)
    synced = await joiner.call("state:sync")
    assert synced["document"]["document_id"] == doc["id"]
    assert synced["document"]["page"] == 7
    assert synced["document"]["presenter"] == chair["id"]
    assert [d["id"] for d in synced["document"]["documents"]] == [doc["id"]]
    # Nothing presented yet in another meeting: an empty stage, not an error.
    other = await hub.meeting("另一会议")
    fresh = await hub.connect((await hub.participant(other, "委员", "member"))["token"]); clients.append(fresh)
    empty = (await fresh.call("state:sync"))["document"]
    assert empty["document_id"] is None and empty["page"] is None and empty["documents"] == []


async def test_chair_hands_the_presenter_role_and_takes_it_back(hub, clients):
    mid = await hub.meeting()
    chair_p = await hub.participant(mid, "主任", "chair")
    dept_p = await hub.participant(mid, "财政局", "respondent")
    member_p = await hub.participant(mid, "委员甲", "member")
    _, doc = await upload(hub, mid, chair_p["token"], make_pdf(5))
    chair = await hub.connect(chair_p["token"]); clients.append(chair)
    dept = await hub.connect(dept_p["token"]); clients.append(dept)
    member = await hub.connect(member_p["token"]); clients.append(member)
    turn = {"document_id": doc["id"], "page": 2}

    refused = await dept.call("doc:present", turn)
    assert refused["ok"] is False and refused["error"]["code"] == "forbidden"
    assert (await member.call("doc:presenter", {"participant_id": member_p["id"]}))["error"]["code"] == "forbidden"

    assert await chair.call("doc:presenter", {"participant_id": dept_p["id"]}) == {"ok": True}
    handed = await member.wait_for("doc:presenter", lambda d: d["participant_id"] == dept_p["id"])
    assert (await dept.call("doc:present", turn)) == {"ok": True}
    page = await member.wait_for("doc:page", lambda d: d["seq"] > handed["seq"])
    assert page == {"seq": page["seq"], "document_id": doc["id"], "page": 2, "presenter": dept_p["id"]}
    assert (await member.call("state:sync"))["document"]["designated_presenter"] == dept_p["id"]
    # Others still may not; the chair and the clerk always may.
    assert (await member.call("doc:present", turn))["error"]["code"] == "forbidden"
    assert (await chair.call("doc:present", {"document_id": doc["id"], "page": 3}))["ok"]

    assert await chair.call("doc:presenter", {"participant_id": None}) == {"ok": True}
    await member.wait_for("doc:presenter", lambda d: d["participant_id"] is None)
    assert (await dept.call("doc:present", turn))["error"]["code"] == "forbidden"
    assert (await member.call("state:sync"))["document"]["page"] == 3


async def test_bad_present_and_presenter_requests_are_refused(hub, clients):
    mid = await hub.meeting()
    chair_p = await hub.participant(mid, "主任", "chair")
    _, doc = await upload(hub, mid, chair_p["token"], make_pdf(3))
    other = await hub.meeting("另一会议")
    other_chair = await hub.participant(other, "另一主任", "chair")
    _, foreign = await upload(hub, other, other_chair["token"], make_pdf(1))
    chair = await hub.connect(chair_p["token"]); clients.append(chair)
    cases = [
        ("doc:present", {"document_id": doc["id"], "page": 0}, "invalid"),
        ("doc:present", {"document_id": doc["id"], "page": 4}, "invalid"),
        ("doc:present", {"document_id": doc["id"], "page": "two"}, "invalid"),
        ("doc:present", {"document_id": doc["id"]}, "invalid"),
        ("doc:present", {"document_id": doc["id"], "page": 1, "extra": 1}, "invalid"),
        ("doc:present", {"document_id": "nope", "page": 1}, "not_found"),
        ("doc:present", {"document_id": foreign["id"], "page": 1}, "not_found"),
        ("doc:presenter", {"participant_id": "nobody"}, "not_found"),
        ("doc:presenter", {"participant_id": other_chair["id"]}, "not_found"),
        ("doc:presenter", {}, "invalid"),
        ("doc:opened", {"document_id": foreign["id"]}, "not_found"),
        ("doc:opened", {}, "invalid"),
    ]
    for event, payload, code in cases:
        ack = await chair.call(event, payload)
        assert ack["ok"] is False and ack["error"]["code"] == code, (event, payload, ack)
    assert chair.sio.connected
    assert (await chair.call("state:sync"))["document"]["page"] is None
