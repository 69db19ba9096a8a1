"""Every text field refuses a NUL (and other control characters) the same way on
SQLite and PostgreSQL, over REST and Socket.IO; numbers and booleans are
strict (issue 10, items 4 and 8). PostgreSQL used to answer 500 / `internal`
while SQLite stored the NUL."""
from __future__ import annotations


import pytest

from tests.core.test_rest_hardening import error_of, no_traceback
from tests.documents.pdfs import make_pdf
from tests.documents.util import upload

NUL = "a\x00b"
BAD_TEXT = [NUL, "a\x01b", "a\x7fb", "a\x85b", "a\ud800b"]


def refused(ack: dict, *words: str) -> None:
    assert ack["ok"] is False and set(ack["error"]) == {"code", "message"}, ack
    assert ack["error"]["code"] == "invalid", ack
    for word in words:
        assert word in ack["error"]["message"], (word, ack)


@pytest.fixture
async def room(hub, clients):
    mid = await hub.meeting()
    chair = await hub.participant(mid, "主任", "chair")
    member = await hub.participant(mid, "委员", "member")
    dept = await hub.site("市交通运输局", "department")
    respondent = await hub.participant(mid, "局长", "respondent", dept["id"])
    status, doc = await upload(hub, mid, chair["token"], make_pdf(1))
    assert status == 201, doc
    chair_client = await hub.connect(chair["token"])
    member_client = await hub.connect(member["token"])
    clients.extend([chair_client, member_client])
    return {"hub": hub, "mid": mid, "chair": chair, "member": member, "respondent": respondent,
            "doc": doc["id"], "chair_client": chair_client, "member_client": member_client}


async def test_rest_text_fields_refuse_control_characters(room, caplog):
    hub, mid = room["hub"], room["mid"]
    admin = hub.admin_headers()
    for text in BAD_TEXT:
        cases = [
            ("/api/sites", {"name": text, "kind": "city"}, "name"),
            ("/api/meetings", {"title": text}, "title"),
            (f"/api/meetings/{mid}/participants", {"name": text, "role": "member"}, "name"),
            (f"/api/meetings/{mid}/participants", {"name": "x", "role": "member", "site_id": text}, "site_id"),
            ("/api/sites", {"name": "x", "kind": "district", "parent_id": text}, "parent_id"),
        ]
        for path, body, field in cases:
            await error_of(await hub.client.post(path, json=body, headers=admin), 400, "invalid", field, "U+")
    # A name or title is one line; tab and newlines inside are refused too.
    for text in ("a\nb", "a\tb", "a\rb"):
        await error_of(await hub.client.post("/api/meetings", json={"title": text}, headers=admin),
                       400, "invalid", "title", "one line")
    sites = await (await hub.client.get("/api/sites", headers=admin)).json()
    assert [s["name"] for s in sites] == ["市交通运输局"]  # nothing stored on either database
    no_traceback(caplog)


async def test_document_upload_fields_refuse_control_characters(room, caplog):
    hub, mid, chair = room["hub"], room["mid"], room["chair"]
    for text in (NUL, "a\x1bb"):
        status, body = await upload(hub, mid, chair["token"], make_pdf(1), title=text)
        assert status == 400 and body["error"]["code"] == "invalid" and "title" in body["error"]["message"], body
        status, body = await upload(hub, mid, chair["token"], make_pdf(1), participants=f"{room['member']['id']},{text}")
        assert status == 400 and body["error"]["code"] == "invalid" and "participants" in body["error"]["message"]
        status, body = await upload(hub, mid, chair["token"], make_pdf(1), roles=text)
        assert status == 400 and body["error"]["code"] == "invalid", body
    # A file name is the title when none is given: aiohttp's own FormData
    # refuses a control character in it, so the body is written out by hand.
    boundary = "plenary-test-boundary"
    raw = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename*=UTF-8''a%00b.pdf\r\n"
           f"Content-Type: application/pdf\r\n\r\n").encode() + make_pdf(1) + f"\r\n--{boundary}--\r\n".encode()
    resp = await hub.client.post(f"/api/meetings/{mid}/documents", data=raw, headers={
        "Authorization": f"Bearer {chair['token']}", "Content-Type": f"multipart/form-data; boundary={boundary}"})
    await error_of(resp, 400, "invalid", "file name", "U+0000")
    no_traceback(caplog)


async def test_annotation_notes_keep_newlines_and_refuse_nul(room, caplog):
    hub, member, did = room["hub"], room["member"], room["doc"]
    path = f"/api/documents/{did}/pages/1/annotations"
    headers = {"Authorization": f"Bearer {member['token']}"}
    for text in BAD_TEXT:
        resp = await hub.client.put(path, json={"notes": [{"x": 0.1, "y": 0.1, "text": text}]}, headers=headers)
        await error_of(resp, 400, "invalid", "notes.0.text", "U+")
    resp = await hub.client.put(path, json={"ink": [{"points": [[0.1, 0.1]], "color": "#000000\x00"}]},
                                headers=headers)
    await error_of(resp, 400, "invalid", "color")
    note = "第一行\n第二行\r\n\t缩进"
    resp = await hub.client.put(path, json={"notes": [{"x": 0.1, "y": 0.1, "text": note}]}, headers=headers)
    assert resp.status == 200, await resp.text()
    saved = await (await hub.client.get(path, headers=headers)).json()
    assert saved["notes"][0]["text"] == note
    no_traceback(caplog)


async def test_socket_text_fields_refuse_control_characters(room, caplog):
    chair, member = room["chair_client"], room["member_client"]
    respondent_id = room["respondent"]["id"]
    opened = await chair.call("vote:open", {"subject": "满意度", "secret": True})
    assert opened["ok"] is True, opened
    vote_id = opened["vote_id"]
    for text in BAD_TEXT:
        calls = [
            (chair, "vote:open", {"subject": text, "secret": True}, "subject"),
            (chair, "vote:open", {"subject": "s", "secret": True, "options": ["好", text]}, "options"),
            (chair, "vote:open_batch", {"respondents": [respondent_id], "secret": True, "subject_prefix": text},
             "subject_prefix"),
            (chair, "vote:open_batch", {"respondents": [text], "secret": True}, "respondents"),
            (member, "vote:cast", {"vote_id": text, "choice": "满意"}, "vote_id"),
            (member, "vote:cast", {"vote_id": vote_id, "choice": text}, "choice"),
            (member, "vote:cast", {"vote_id": vote_id, "choice": "满意", "ballot_id": "abcdefgh" + text}, "ballot_id"),
            (chair, "vote:close", {"vote_id": text}, "vote_id"),
            (chair, "vote:close", {"batch_id": text}, "batch_id"),
            (member, "doc:opened", {"document_id": text}, "document_id"),
            (chair, "doc:presenter", {"participant_id": text}, "participant_id"),
            (chair, "doc:present", {"document_id": text, "page": 1}, "document_id"),
            (chair, "inquiry:command", {"action": "open_topic", "title": text, "respondents": [respondent_id]},
             "title"),
            (chair, "inquiry:command", {"action": "open_topic", "title": "t", "respondents": [text]}, "respondents"),
            (chair, "inquiry:command", {"action": "grant", "participant": text}, "participant"),
            (chair, "inquiry:command", {"action": "start_report", "respondent": text}, "respondent"),
            (chair, "inquiry:command", {"action": "answer", "respondent": text}, "respondent"),
        ]
        for client, event, payload, field in calls:
            refused(await client.call(event, payload), field, "U+")
    # A NUL in a key, and a NUL in a field of a model that types it plain str.
    refused(await member.call("state:sync", {"a\x00": 1}))
    assert chair.sio.connected and member.sio.connected
    # Nothing was stored: the vote is still the only one, and its ballots none.
    sync = await member.call("state:sync")
    assert [v["vote_id"] for v in sync["vote"]["open"]] == [vote_id] and sync["vote"]["open"][0]["cast"] == 0
    no_traceback(caplog)


async def test_socket_scalars_are_strict(room, caplog):
    chair, member, did = room["chair_client"], room["member_client"], room["doc"]
    respondent_id = room["respondent"]["id"]
    for page in (True, "1", 1.0, None):
        refused(await chair.call("doc:present", {"document_id": did, "page": page}), "page")
    for duration in (True, "60", 60.5):
        refused(await chair.call("vote:open", {"subject": "s", "secret": True, "duration_s": duration}),
                "duration_s")
    for secret in (1, "true", None):
        refused(await chair.call("vote:open", {"subject": "s", "secret": secret}), "secret")
    refused(await chair.call("vote:open", {"subject": 5, "secret": True}), "subject", "string")
    refused(await member.call("inquiry:hand", {"raise": 1}), "raise", "boolean")
    for field, value in (("report_s", "60"), ("report_s", True), ("follow_ups", True), ("follow_ups", "2"),
                         ("allow_deputies", "false")):
        refused(await chair.call("inquiry:command", {"action": "open_topic", "title": "t",
                                                     "respondents": [respondent_id], field: value}), field)
    # The strict types still take what they should: a JSON integer for seconds.
    ack = await chair.call("inquiry:command", {"action": "open_topic", "title": "t", "respondents": [respondent_id],
                                               "report_s": 60, "follow_ups": 2})
    assert ack["ok"] is True, ack
    ack = await chair.call("doc:present", {"document_id": did, "page": 1})
    assert ack["ok"] is True, ack
    ack = await chair.call("vote:open", {"subject": "s", "secret": False, "duration_s": 60,
                                         "eligible_roles": ["member"], "base": "cast"})
    assert ack["ok"] is True, ack
    no_traceback(caplog)


async def test_unknown_ids_over_socket_are_not_found(room, caplog):
    chair, member = room["chair_client"], room["member_client"]
    for event, payload, client in (("vote:cast", {"vote_id": "0" * 64, "choice": "满意"}, member),
                                   ("doc:opened", {"document_id": "0" * 64}, member),
                                   ("doc:presenter", {"participant_id": "0" * 64}, chair)):
        ack = await client.call(event, payload)
        assert ack["ok"] is False and ack["error"]["code"] == "not_found", (event, ack)
    refused(await member.call("doc:opened", {"document_id": "0" * 65}), "document_id")
    no_traceback(caplog)
