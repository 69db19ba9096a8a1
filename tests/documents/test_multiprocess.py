"""Two `plenary serve` processes (own data dirs) on one PostgreSQL and Redis serve one set of papers."""
from __future__ import annotations

import aiohttp
import pytest

from sessions.identity import TokenService
from tests.conftest import SECRET
from tests.documents.pdfs import make_pdf
from tests.helpers import EventClient, ServeProcess

pytestmark = pytest.mark.multiprocess


async def test_upload_on_one_process_pages_and_turns_on_the_other(tmp_path, pg_url, redis_url):
    nodes = [
        ServeProcess(data_dir=tmp_path / f"node{i}", secret=SECRET, db_url=pg_url, redis_url=redis_url) for i in (1, 2)
    ]
    opened: list[EventClient] = []
    try:
        for node in nodes:
            await node.start()
        admin = {"Authorization": f"Bearer {TokenService(SECRET).admin_token()}"}
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{nodes[0].url}/api/meetings", json={"title": "跨节点阅文"}, headers=admin) as resp:
                mid = (await resp.json())["id"]
            people = {}
            for name, role in (("主任", "chair"), ("委员", "member")):
                async with http.post(
                    f"{nodes[0].url}/api/meetings/{mid}/participants", json={"name": name, "role": role}, headers=admin
                ) as resp:
                    people[role] = await resp.json()
            member = await EventClient(nodes[1].url, people["member"]["token"]).connect()
            opened.append(member)
            chair = await EventClient(nodes[0].url, people["chair"]["token"]).connect()
            opened.append(chair)
            start = (await member.call("state:sync"))["seq"]

            form = aiohttp.FormData()
            form.add_field("file", make_pdf(3), filename="跨节点.pdf", content_type="application/pdf")
            chair_auth = {"Authorization": f"Bearer {people['chair']['token']}"}
            async with http.post(f"{nodes[0].url}/api/meetings/{mid}/documents", data=form, headers=chair_auth) as resp:
                assert resp.status == 201
                doc = await resp.json()
            shared = await member.wait_for("doc:shared", lambda d: d["seq"] > start)
            assert shared["document"] == doc

            # The second process never saw the file on its disk: it renders from the database.
            assert not list((tmp_path / "node2").glob("documents/*.pdf"))
            member_auth = {"Authorization": f"Bearer {people['member']['token']}"}
            async with http.get(f"{nodes[1].url}/api/documents/{doc['id']}/pages/2", headers=member_auth) as resp:
                assert resp.status == 200 and resp.content_type == "image/png"
                assert (await resp.read())[:8] == b"\x89PNG\r\n\x1a\n"

            assert (await chair.call("doc:present", {"document_id": doc["id"], "page": 3}))["ok"]
            turned = await member.wait_for("doc:page", lambda d: d["seq"] > shared["seq"])
            assert (turned["document_id"], turned["page"]) == (doc["id"], 3)
            # A paper for members only reaches them across processes too (sent to their own rooms).
            form = aiohttp.FormData()
            form.add_field("file", make_pdf(1), filename="委员阅.pdf", content_type="application/pdf")
            form.add_field("roles", "member")
            async with http.post(f"{nodes[0].url}/api/meetings/{mid}/documents", data=form, headers=chair_auth) as resp:
                assert resp.status == 201
                restricted = await resp.json()
            got = await member.wait_for("doc:shared", lambda d: d["document"]["id"] == restricted["id"])
            assert got["seq"] > turned["seq"]
            late = await EventClient(nodes[1].url, people["member"]["token"]).connect()
            opened.append(late)
            assert (await late.call("state:sync"))["document"]["page"] == 3
    finally:
        for c in opened:
            await c.close()
        for node in nodes:
            await node.stop()
