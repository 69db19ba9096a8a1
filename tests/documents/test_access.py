"""Who may read a paper's pages, and who learns it exists."""
from __future__ import annotations

from tests.documents.pdfs import make_pdf
from tests.documents.util import get_json, get_page, upload


async def test_page_access_follows_roles_and_named_participants(hub, clients):
    mid = await hub.meeting()
    chair = await hub.participant(mid, "主任", "chair")
    clerk = await hub.participant(mid, "秘书", "clerk")
    deputy = await hub.participant(mid, "代表乙", "deputy")
    member = await hub.participant(mid, "委员甲", "member")
    named = await hub.participant(mid, "委员丙", "member")
    respondent = await hub.participant(mid, "财政局", "respondent")
    member_client = await hub.connect(member["token"]); clients.append(member_client)
    deputy_client = await hub.connect(deputy["token"]); clients.append(deputy_client)
    start = (await member_client.call("state:sync"))["seq"]

    status, doc = await upload(
        hub, mid, chair["token"], make_pdf(2), roles="deputy", participants=named["id"], title="人事任免（内部）"
    )
    assert status == 201
    did = doc["id"]

    allowed = {"chair": chair, "clerk": clerk, "deputy": deputy, "named member": named}
    for who, p in allowed.items():
        resp = await get_page(hub, did, 1, p["token"])
        assert resp.status == 200, (who, await resp.text())
        assert resp.content_type == "image/png"
    assert (await get_page(hub, did, 2, hub.tokens.admin_token())).status == 200
    for who, p in {"member": member, "respondent": respondent}.items():
        resp = await get_page(hub, did, 1, p["token"])
        assert resp.status == 403, who
        assert (await resp.json())["error"]["code"] == "forbidden"

    # The announcement reaches those it is shared with, not the others.
    shared = await deputy_client.wait_for("doc:shared", lambda d: d["seq"] > start)
    assert shared["document"] == doc
    everyone = await upload(hub, mid, chair["token"], make_pdf(1), title="议程")
    seen = await member_client.wait_for("doc:shared", lambda d: d["seq"] > start)
    assert seen["document"]["id"] == everyone[1]["id"]
    assert all(d["document"]["id"] != did for d in member_client.received["doc:shared"])

    # Each participant's list and state:sync name only what they may read.
    status, listed = await get_json(hub, f"/api/meetings/{mid}/documents", member["token"])
    assert status == 200 and [d["id"] for d in listed] == [everyone[1]["id"]]
    status, listed = await get_json(hub, f"/api/meetings/{mid}/documents", chair["token"])
    assert [d["id"] for d in listed] == [did, everyone[1]["id"]]
    assert listed[0]["shared_with"] == {"roles": ["deputy"], "participants": [named["id"]]}
    synced = await deputy_client.call("state:sync")
    assert [d["id"] for d in synced["document"]["documents"]] == [did, everyone[1]["id"]]


async def test_bad_page_requests_get_contract_errors(hub):
    mid = await hub.meeting()
    chair = await hub.participant(mid, "主任", "chair")
    _, doc = await upload(hub, mid, chair["token"], make_pdf(2))
    cases = ((0, 400, "invalid"), (3, 404, "not_found"), ("abc", 400, "invalid"), ("-1", 400, "invalid"),
             ("%C2%B2", 400, "invalid"), ("%D9%A1", 400, "invalid"))
    for n, status, code in cases:
        resp = await get_page(hub, doc["id"], n, chair["token"])
        assert resp.status == status, n
        assert (await resp.json())["error"]["code"] == code
    resp = await get_page(hub, "nosuchdocument", 1, chair["token"])
    assert resp.status == 404
    # A participant of another meeting holds the wrong credential for this one.
    other = await hub.meeting("另一会议")
    stranger = await hub.participant(other, "外人", "chair")
    resp = await get_page(hub, doc["id"], 1, stranger["token"])
    assert resp.status == 401
    resp = await hub.client.get(f"/api/documents/{doc['id']}/pages/1")
    assert resp.status == 401
