"""Uploading meeting papers: what is accepted, stored and announced, and each refusal."""
from __future__ import annotations

from tests.documents.pdfs import make_encrypted_pdf, make_pdf
from tests.documents.util import upload


async def test_chair_upload_is_stored_once_and_announced(hub, clients):
    mid = await hub.meeting()
    chair = await hub.participant(mid, "主任", "chair")
    member = await hub.participant(mid, "委员甲", "member")
    watcher = await hub.connect(member["token"]); clients.append(watcher)
    before = (await watcher.call("state:sync"))["seq"]

    pdf = make_pdf(4)
    status, body = await upload(hub, mid, chair["token"], pdf, filename="2026年预算报告.pdf")
    assert status == 201, body
    assert body["title"] == "2026年预算报告" and body["pages"] == 4 and body["id"]
    shared = await watcher.wait_for("doc:shared", lambda d: d["seq"] > before)
    assert shared["document"] == body

    # The same bytes again (by the clerk, with a title): a new document, one stored file.
    clerk = await hub.participant(mid, "秘书", "clerk")
    status, again = await upload(hub, mid, clerk["token"], pdf, title="预算报告（再发）")
    assert status == 201 and again["id"] != body["id"] and again["title"] == "预算报告（再发）"
    stored = sorted(p.name for p in (hub.hub.settings.data_dir / "documents").glob("*.pdf"))
    assert len(stored) == 1
    assert not list((hub.hub.settings.data_dir / "documents" / "incoming").iterdir())


async def test_admin_may_upload(hub):
    mid = await hub.meeting()
    status, body = await upload(hub, mid, hub.tokens.admin_token(), make_pdf(1))
    assert status == 201 and body["pages"] == 1


async def test_each_refusal_has_the_contract_error(hub):
    mid = await hub.meeting()
    chair = await hub.participant(mid, "主任", "chair")
    member = await hub.participant(mid, "委员甲", "member")
    token = chair["token"]

    async def refused(expected_status: int, code: str, *args, **kwargs) -> str:
        status, body = await upload(hub, mid, *args, **kwargs)
        assert status == expected_status, body
        assert body["error"]["code"] == code, body
        return body["error"]["message"]

    # Not a PDF at all (a PNG renamed .pdf).
    assert "not a PDF" in await refused(400, "invalid", token, b"\x89PNG\r\n\x1a\n" + b"\0" * 500)
    # A PDF header over garbage.
    assert "not a readable PDF" in await refused(400, "invalid", token, b"%PDF-1.7\n" + b"\x07" * 2000)
    # Half of a real PDF.
    truncated = make_pdf(3)[:300]
    assert "not a readable PDF" in await refused(400, "invalid", token, truncated)
    # Password-protected.
    assert "encrypted" in await refused(400, "invalid", token, make_encrypted_pdf())
    # Wrong roles: members, deputies and respondents may not upload; nobody without a token.
    assert await refused(403, "forbidden", member["token"], make_pdf(1))
    respondent = await hub.participant(mid, "财政局", "respondent")
    assert await refused(403, "forbidden", respondent["token"], make_pdf(1))
    assert await refused(401, "unauthorized", None, make_pdf(1))
    # Share lists that name nothing real.
    assert "roles" in await refused(400, "invalid", token, make_pdf(1), roles="member,king")
    assert "not in this meeting" in await refused(400, "invalid", token, make_pdf(1), participants="nobody")

    # Too large: over the byte limit, and over the page limit.
    hub.hub.settings.max_upload_bytes = 64 * 1024
    assert await refused(413, "too_large", token, make_pdf(2, padding_bytes=200 * 1024))
    hub.hub.settings.max_document_pages = 5
    assert "6 pages" in await refused(413, "too_large", token, make_pdf(6))
    status, _ = await upload(hub, mid, token, make_pdf(5))
    assert status == 201

    # Not multipart, or without the file field.
    resp = await hub.client.post(
        f"/api/meetings/{mid}/documents", json={"file": "x"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert resp.status == 400 and (await resp.json())["error"]["code"] == "invalid"
    import aiohttp

    form = aiohttp.FormData()
    form.add_field("roles", "member")
    form.add_field("note", "x")
    resp = await hub.client.post(
        f"/api/meetings/{mid}/documents", data=form, headers={"Authorization": f"Bearer {token}"}
    )
    assert resp.status == 400 and (await resp.json())["error"]["code"] == "invalid"

    # Refused uploads leave nothing behind.
    incoming = hub.hub.settings.data_dir / "documents" / "incoming"
    assert not list(incoming.iterdir())
    assert len(list((hub.hub.settings.data_dir / "documents").glob("*.pdf"))) == 1
