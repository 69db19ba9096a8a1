"""In Chromium: a ballot cast while the page is offline is delivered exactly
once, or reported as not sent; never silently lost (issue 13, weak links).

Each member page's WebSocket to the hub goes through Playwright's WebSocket
routing, so the test can drop it like a network cut (both ends closed) and
refuse reconnections until it lets them through again. (Playwright's
`context.set_offline` does not touch open WebSockets, microsoft/playwright
issue 4910, so it cannot cut the page's link.)
"""
from __future__ import annotations

import json
import re

import pytest
from playwright.async_api import expect

from tests.voting.conftest import stored_counts

pytestmark = pytest.mark.browser

SOCKET = re.compile(r"/socket\.io/")
SLOW = 25_000  # socket.io-client's reconnection backoff reaches 8 s (±50%)


class PageLink:
    """The page's WebSocket(s) to the hub, which the test can cut."""

    def __init__(self) -> None:
        self.up = True
        self.routes: list = []
        self.refused = 0

    async def handler(self, ws) -> None:
        if not self.up:
            self.refused += 1
            await ws.close()  # the reconnection attempt fails
            return
        ws.connect_to_server()
        self.routes.append(ws)

    async def drop(self) -> None:
        self.up = False
        routes, self.routes = self.routes, []
        for ws in routes:
            await ws.close()  # the page's side; the hub's side closes with it

    def restore(self) -> None:
        self.up = True


async def open_member_page(browser, hub, token: str):
    context = await browser.new_context(viewport={"width": 1000, "height": 800}, locale="zh-CN")
    link = PageLink()
    await context.route_web_socket(SOCKET, link.handler)
    page = await context.new_page()
    await page.route("**/client/features", lambda route: route.fulfill(
        content_type="application/json", body=json.dumps(["/static/js/features/voting.js"])))
    await page.goto(f"{hub.url}/join?token={token}", wait_until="domcontentloaded")
    await expect(page.locator("#conn")).to_have_attribute("data-status", "online", timeout=15_000)
    return page, link


async def api_vote(hub, vid: str) -> dict:
    resp = await hub.client.get(f"/api/votes/{vid}", headers=hub.admin_headers())
    assert resp.status == 200
    return await resp.json()


async def test_ballot_cast_offline_is_sent_once_after_reconnect_or_reported_not_sent(sqlite_hub, browser, clients):
    hub = sqlite_hub
    mid = await hub.meeting("城市交通专题询问")
    chair = await hub.participant(mid, "王主任", "chair")
    members = [await hub.participant(mid, name, "member") for name in ("李委员", "张委员")]
    chair_client = await hub.connect(chair["token"])
    clients.append(chair_client)
    (page, link), (late_page, late_link) = [await open_member_page(browser, hub, m["token"]) for m in members]

    vid = (await chair_client.call("vote:open", {"subject": "对市交通运输局的满意度测评", "secret": True}))["vote_id"]
    for p in (page, late_page):
        await expect(p.locator(".vote-open-card h3")).to_have_text("对市交通运输局的满意度测评")

    # 1. The link drops; the member votes anyway. The page says the ballot
    # has not gone out yet (and keeps it); the hub has nothing.
    await link.drop()
    await expect(page.locator("#conn")).to_have_attribute("data-status", "reconnecting")
    await page.locator(".vote-option[data-choice='满意']").click()
    await expect(page.locator(".vote-open-card .vote-mine")).to_have_text("网络中断，恢复后自动重新提交")
    await expect(page.locator(".vote-receipt")).to_have_count(0)
    assert await stored_counts(hub.hub.db, vid) == (0, 0)
    assert (await api_vote(hub, vid))["turnout"]["cast"] == 0

    # 2. The link comes back: the page reconnects by itself, resyncs and sends
    # the kept ballot once; the voter sees it counted, with a receipt.
    link.restore()
    await expect(page.locator("#conn")).to_have_attribute("data-status", "online", timeout=SLOW)
    await expect(page.locator(".vote-open-card .vote-mine")).to_have_text("已投：满意（结束前可以改投）", timeout=SLOW)
    await expect(page.locator(".vote-receipt")).to_contain_text("回执")
    assert await stored_counts(hub.hub.db, vid) == (1, 1)

    # 3. Casting again (changing their mind) replaces the ballot: still one.
    await page.locator(".vote-option[data-choice='不满意']").click()
    await expect(page.locator(".vote-option[data-choice='不满意']")).to_have_attribute("aria-pressed", "true")
    await expect(page.locator(".vote-open-card .vote-mine")).to_have_text("已投：不满意（结束前可以改投）")
    assert await stored_counts(hub.hub.db, vid) == (1, 1)
    # A reload resyncs from the hub and sends nothing again.
    await page.reload(wait_until="domcontentloaded")
    await expect(page.locator("#conn")).to_have_attribute("data-status", "online", timeout=15_000)
    await expect(page.locator(".vote-option[data-choice='不满意']")).to_have_attribute("aria-pressed", "true")
    assert await stored_counts(hub.hub.db, vid) == (1, 1)

    # 4. The other member votes during a drop that outlasts the vote: when the
    # page is back, the hub refuses the ballot (closed) and the page says it
    # was not sent.
    await late_link.drop()
    await expect(late_page.locator("#conn")).to_have_attribute("data-status", "reconnecting")
    await late_page.locator(".vote-option[data-choice='基本满意']").click()
    await expect(late_page.locator(".vote-open-card .vote-mine")).to_have_text("网络中断，恢复后自动重新提交")
    closed = await chair_client.call("vote:close", {"vote_id": vid})
    assert closed["ok"] and closed["result"]["cast"] == 1
    late_link.restore()
    await expect(late_page.locator(".toast-error")).to_contain_text("投票未成功", timeout=SLOW)
    await expect(late_page.locator(".vote-result .vote-verdict").first).to_be_visible()
    await expect(late_page.locator(".vote-open-card")).to_have_count(0)
    # Nothing is kept to be sent again later.
    pending = await late_page.evaluate(
        "() => Object.keys(sessionStorage).filter((k) => k.startsWith('plenary.vote.pending.'))")
    assert pending == []

    # The hub counted exactly one ballot: the first member's latest.
    vote = await api_vote(hub, vid)
    assert vote["result"]["cast"] == 1, vote
    assert vote["result"]["counts"] == {"满意": 0, "基本满意": 0, "不满意": 1}
    assert len(vote["ballots"]) == 1 and vote["audit"]["ok"] is True
