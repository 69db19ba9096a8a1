"""Private annotations: saved on the server per participant and page, back on any device."""
from __future__ import annotations

from tests.documents.pdfs import make_pdf
from tests.documents.util import upload


async def _put(hub, did, n, token, body=None, data=None, headers=None):
    resp = await hub.client.put(
        f"/api/documents/{did}/pages/{n}/annotations",
        json=body if data is None else None,
        data=data,
        headers={"Authorization": f"Bearer {token}", **(headers or {})},
    )
    return resp.status, await resp.json()


async def _get(hub, path, token):
    resp = await hub.client.get(path, headers={"Authorization": f"Bearer {token}"})
    return resp.status, await resp.json()


async def test_annotations_round_trip_and_stay_private(hub):
    mid = await hub.meeting()
    chair = await hub.participant(mid, "主任", "chair")
    member = await hub.participant(mid, "委员甲", "member")
    other = await hub.participant(mid, "委员乙", "member")
    _, doc = await upload(hub, mid, chair["token"], make_pdf(3))
    did = doc["id"]
    ink = {
        "ink": [
            {"points": [[0.1, 0.2], [0.15, 0.22], [0.3, 0.25]], "width": 0.004, "color": "#1040c0"},
            {"points": [[0.5, 0.5]]},
        ],
        "notes": [{"x": 0.8, "y": 0.1, "text": "此处预算口径需核实"}],
    }
    status, saved = await _put(hub, did, 2, member["token"], ink)
    assert status == 200 and saved["page"] == 2 and saved["updated_at"]

    # "Another device": a fresh request with the same participant's token.
    status, back = await _get(hub, f"/api/documents/{did}/pages/2/annotations", member["token"])
    assert status == 200
    assert back["ink"][0] == {"points": [[0.1, 0.2], [0.15, 0.22], [0.3, 0.25]], "width": 0.004, "color": "#1040c0"}
    assert back["ink"][1]["points"] == [[0.5, 0.5]] and back["ink"][1]["color"] == "#d02020"
    assert back["notes"] == ink["notes"]
    status, pages = await _get(hub, f"/api/documents/{did}/annotations", member["token"])
    assert pages == {"document_id": did, "pages": [2]}

    # Saving again replaces the page's annotations (one row per page).
    status, _ = await _put(hub, did, 2, member["token"], {"ink": [], "notes": [{"x": 0, "y": 0, "text": "改"}]})
    assert status == 200
    _, back = await _get(hub, f"/api/documents/{did}/pages/2/annotations", member["token"])
    assert back["ink"] == [] and back["notes"][0]["text"] == "改"

    # Private: another participant sees none of it.
    _, theirs = await _get(hub, f"/api/documents/{did}/pages/2/annotations", other["token"])
    assert theirs == {"page": 2, "ink": [], "notes": [], "updated_at": None}
    _, pages = await _get(hub, f"/api/documents/{did}/annotations", other["token"])
    assert pages["pages"] == []


async def test_bad_annotations_are_refused(hub):
    mid = await hub.meeting()
    chair = await hub.participant(mid, "主任", "chair")
    member = await hub.participant(mid, "委员甲", "member")
    deputy = await hub.participant(mid, "代表乙", "deputy")
    _, doc = await upload(hub, mid, chair["token"], make_pdf(2), roles="member")
    did, token = doc["id"], member["token"]
    bad = [
        {"ink": [{"points": [[1.5, 0.2]]}]},
        {"ink": [{"points": []}]},
        {"ink": [{"points": [[0.1, 0.1]], "color": "red"}]},
        {"notes": [{"x": 0.1, "y": 0.1, "text": "x" * 3000}]},
        {"drawing": []},
    ]
    for body in bad:
        status, answer = await _put(hub, did, 1, token, body)
        assert status == 400 and answer["error"]["code"] == "invalid", body
    status, answer = await _put(hub, did, 1, token, data=b"{not json", headers={"Content-Type": "application/json"})
    assert status == 400 and answer["error"]["code"] == "invalid"
    huge = {"ink": [{"points": [[0.123456789, 0.123456789]] * 5000} for _ in range(10)]}
    status, answer = await _put(hub, did, 1, token, huge)
    assert status == 413 and answer["error"]["code"] == "too_large"
    status, answer = await _put(hub, did, 3, token, {"ink": []})
    assert status == 404
    status, answer = await _put(hub, did, 1, deputy["token"], {"ink": []})
    assert status == 403 and answer["error"]["code"] == "forbidden"
    status, answer = await _put(hub, did, 1, hub.tokens.admin_token(), {"ink": []})
    assert status == 403
