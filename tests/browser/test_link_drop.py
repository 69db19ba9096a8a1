"""In Chromium: a page whose link to the hub drops for 5 s comes back by
itself into the same meeting, with its media both ways (issue 13, weak
links). The page's Socket.IO WebSocket is cut through Playwright's WebSocket
routing and reconnections are refused for 5 s; the hub sees the disconnect
and closes that connection's peer connections, so the page must publish and
subscribe again after it resyncs."""
from __future__ import annotations

import re
import time

import pytest
from playwright.async_api import expect

from tests.browser.test_two_processes import FRAMES_FROM, decodes
from tests.voting.test_offline_ballot import SOCKET, PageLink

pytestmark = pytest.mark.browser

DROP_S = 5


async def frames(page, participant_id: str) -> int:
    return await page.evaluate(FRAMES_FROM, participant_id)


async def test_a_page_comes_back_from_a_5_s_drop_with_its_media(sqlite_hub, browser):
    hub = sqlite_hub
    mid = await hub.meeting("联络站连线")
    station, office = await hub.participant(mid, "代表联络站", "deputy"), await hub.participant(mid, "区人大", "chair")
    contexts, pages, links = [], {}, {}
    try:
        for key, who in (("station", station), ("office", office)):
            context = await browser.new_context(viewport={"width": 1000, "height": 800}, locale="zh-CN")
            contexts.append(context)
            links[key] = PageLink()
            await context.route_web_socket(SOCKET, links[key].handler)
            page = await context.new_page()
            await page.goto(f"{hub.url}/join?token={who['token']}#media=on", wait_until="domcontentloaded")
            pages[key] = page
        for page in pages.values():
            await expect(page.locator("[data-action=stop-camera]")).to_be_visible(timeout=20_000)
        await decodes(pages["office"], station["id"])
        await decodes(pages["station"], office["id"])

        # The station's link drops for 5 s: the page says so, the hub closes its media.
        await links["station"].drop()
        dropped_at = time.monotonic()
        await expect(pages["station"].locator("#conn")).not_to_have_attribute("data-status", "online")
        await expect(pages["office"].locator(f".person[data-participant-id='{station['id']}']")).not_to_have_class(
            re.compile(r"\bis-online\b"), timeout=20_000)
        # Its tracks are gone from the office's page: what comes back is new media, not the old flow.
        await expect(pages["office"].locator(f".vg-tile[data-participant='{station['id']}']")).to_have_count(
            0, timeout=20_000)
        # ...and from its map of consumers (each offer lists the live ones).
        await pages["office"].wait_for_function(
            "(p) => ![...window.plenaryMedia.consumers.values()].some(c => c.participant_id === p)",
            arg=station["id"], timeout=20_000)
        remaining = DROP_S - (time.monotonic() - dropped_at)
        if remaining > 0:
            await pages["station"].wait_for_timeout(remaining * 1000)  # the drop's length is the scenario, not a wait for an event
        links["station"].restore()

        # Back by itself: online, the same meeting, and media both ways again.
        await expect(pages["station"].locator("#conn")).to_have_attribute("data-status", "online", timeout=25_000)
        await expect(pages["station"].locator("[data-action=stop-camera]")).to_be_visible(timeout=20_000)
        before = await frames(pages["office"], station["id"])
        await pages["office"].wait_for_function(
            f"({FRAMES_FROM})({station['id']!r}).then(n => n > {before + 20})", timeout=30_000, polling=250)
        await decodes(pages["station"], office["id"])
        me = await pages["station"].evaluate("() => window.plenaryMedia.ctx.me")
        assert me["id"] == station["id"] and me["role"] == "deputy"
        assert links["station"].refused >= 1  # it did try while the link was down
    finally:
        for context in contexts:
            await context.close()
