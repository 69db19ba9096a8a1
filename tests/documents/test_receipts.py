"""Read receipts (签收): who has opened each paper, seen by the chair and the clerk."""
from __future__ import annotations

from tests.documents.pdfs import make_pdf
from tests.documents.util import get_json, upload


async def test_opening_is_recorded_once_and_shown_to_chair_and_clerk(hub, clients):
    mid = await hub.meeting()
    city = await hub.site("市人大常委会", "city")
    station = await hub.site("城关联络站", "station", city["id"])
    chair_p = await hub.participant(mid, "主任", "chair")
    clerk_p = await hub.participant(mid, "秘书", "clerk")
    a_p = await hub.participant(mid, "委员甲", "member")
    b_p = await hub.participant(mid, "代表乙", "deputy", station["id"])
    outsider_p = await hub.participant(mid, "财政局", "respondent")
    _, doc = await upload(hub, mid, chair_p["token"], make_pdf(2), roles="member,deputy")
    clerk = await hub.connect(clerk_p["token"]); clients.append(clerk)
    a = await hub.connect(a_p["token"]); clients.append(a)
    b = await hub.connect(b_p["token"]); clients.append(b)
    outsider = await hub.connect(outsider_p["token"]); clients.append(outsider)

    assert await a.call("doc:opened", {"document_id": doc["id"]}) == {"ok": True, "first": True}
    receipt = await clerk.wait_for("doc:receipt", lambda r: r["participant_id"] == a_p["id"])
    assert receipt["document_id"] == doc["id"] and receipt["opened_at"]
    assert await a.call("doc:opened", {"document_id": doc["id"]}) == {"ok": True, "first": False}
    refused = await outsider.call("doc:opened", {"document_id": doc["id"]})
    assert refused["ok"] is False and refused["error"]["code"] == "forbidden"
    # Members do not get each other's receipts.
    assert await b.call("doc:opened", {"document_id": doc["id"]}) == {"ok": True, "first": True}
    await clerk.wait_for("doc:receipt", lambda r: r["participant_id"] == b_p["id"])
    assert not a.received["doc:receipt"]

    for token in (chair_p["token"], clerk_p["token"], hub.tokens.admin_token()):
        status, answer = await get_json(hub, f"/api/documents/{doc['id']}/receipts", token)
        assert status == 200, answer
        by_id = {p["id"]: p for p in answer["participants"]}
        # Shared with members and deputies, and chair and clerk who see every paper.
        assert set(by_id) == {chair_p["id"], clerk_p["id"], a_p["id"], b_p["id"]}
        assert by_id[a_p["id"]]["opened"] and by_id[b_p["id"]]["opened"]
        assert by_id[b_p["id"]]["site"]["name"] == "城关联络站"
        assert not by_id[chair_p["id"]]["opened"] and by_id[chair_p["id"]]["opened_at"] is None
        assert answer["shared"] == 4 and answer["opened"] == 2
    status, answer = await get_json(hub, f"/api/documents/{doc['id']}/receipts", a_p["token"])
    assert status == 403 and answer["error"]["code"] == "forbidden"
    # The member's own list says the paper is opened.
    _, listed = await get_json(hub, f"/api/meetings/{mid}/documents", a_p["token"])
    assert listed == [{"id": doc["id"], "title": doc["title"], "pages": 2, "opened": True}]
