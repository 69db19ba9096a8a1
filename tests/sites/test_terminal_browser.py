"""The terminal page in headless Chromium: a district office calls a liaison
station, the station accepts with one click, and both meeting pages that
open decode each other's camera; a declined call shows on the caller's page
and in both call logs; a revoked terminal's page says so."""
import pytest
from playwright.async_api import expect

from tests.browser.test_two_processes import decodes

pytestmark = pytest.mark.browser

TABLET = {"viewport": {"width": 1024, "height": 768}, "has_touch": True, "locale": "zh-CN"}
PHONE = {"viewport": {"width": 360, "height": 640}, "has_touch": True, "is_mobile": True, "locale": "zh-CN"}


async def terminal(hub, site_id: str) -> str:
    resp = await hub.client.post(f"/api/sites/{site_id}/terminal", json={}, headers=hub.admin_headers())
    assert resp.status == 201, await resp.text()
    url = (await resp.json())["join_url"]
    return url[url.index("/terminal"):]


async def city(hub) -> dict:
    made = {"city": await hub.site("市人大常委会", "city")}
    made["district"] = await hub.site("东城区人大", "district", made["city"]["id"])
    made["station"] = await hub.site("东华门代表联络站", "station", made["district"]["id"])
    made["other"] = await hub.site("景山代表联络站", "station", made["district"]["id"])
    return made


async def open_terminal(browser, hub, site_id: str, viewport=TABLET):
    context = await browser.new_context(**viewport)
    page = await context.new_page()
    await page.goto(hub.url + await terminal(hub, site_id), wait_until="domcontentloaded")
    await expect(page.locator(".conn")).to_have_attribute("data-status", "online")
    return context, page


async def test_an_office_calls_a_station_which_accepts_with_one_click(sqlite_hub, browser):
    hub = sqlite_hub
    sites = await city(hub)
    office_ctx, office = await open_terminal(browser, hub, sites["district"]["id"])
    station_ctx, station = await open_terminal(browser, hub, sites["station"]["id"])
    try:
        # The office sees its stations, the one whose terminal is open online.
        row = office.locator(f'.site-row[data-site-id="{sites["station"]["id"]}"]')
        await expect(row).to_have_attribute("data-online", "true")
        await expect(office.locator(f'.site-row[data-site-id="{sites["other"]["id"]}"]')).to_have_attribute(
            "data-online", "false")
        await expect(station.locator("#site-name")).to_have_text("东华门代表联络站")

        # A whole district's stations in one tap (and cleared again).
        await office.locator("[data-action=select-group]").first.click()
        await expect(office.locator("[data-action=call]")).to_have_text("呼叫 2 个站点")
        await office.click("[data-action=clear]")
        await expect(office.locator("[data-action=call]")).to_be_disabled()

        # Search narrows the directory; one tap selects, one tap calls.
        await office.fill("#search", "东华门")
        await expect(office.locator(".site-row")).to_have_count(1)
        await row.click()
        async with office.context.expect_page() as caller_popup:
            await office.fill(".call-title", "群众来访协调")
            await office.click("[data-action=call]")
        caller = await caller_popup.value

        # The station rings with the caller's name; accepting opens the meeting.
        ring = station.locator(".ring")
        await expect(ring).to_contain_text("东城区人大")
        await expect(ring).to_contain_text("群众来访协调")
        accept = ring.locator("[data-action=accept]")
        box = await accept.bounding_box()
        assert box["height"] >= 44 and box["width"] >= 44
        async with station.context.expect_page() as callee_popup:
            await accept.click()
        callee = await callee_popup.value
        await expect(ring).to_have_count(0)
        await expect(office.locator(f'.call-site[data-site-id="{sites["station"]["id"]}"] .state-chip')).to_have_attribute(
            "data-state", "accepted")

        # Both meeting pages started their cameras by themselves and see each other.
        for page in (caller, callee):
            await page.wait_for_load_state("domcontentloaded")
            await expect(page.locator("[data-action=stop-camera]")).to_be_visible(timeout=15000)
        caller_me = await caller.evaluate("() => window.plenaryMedia.ctx.me")
        callee_me = await callee.evaluate("() => window.plenaryMedia.ctx.me")
        assert caller_me["role"] == "chair" and callee_me["role"] == "deputy"
        await decodes(caller, callee_me["id"])
        await decodes(callee, caller_me["id"])

        # Both terminals list the meeting and the call in their logs.
        for page in (office, station):
            await expect(page.locator(".meeting-row")).to_have_count(1)
            await expect(page.locator('.log-row .state-chip[data-state="accepted"]')).to_have_count(1)
    finally:
        await office_ctx.close()
        await station_ctx.close()


async def test_a_declined_call_shows_on_both_sides_and_revocation_closes_the_page(sqlite_hub, browser):
    hub = sqlite_hub
    sites = await city(hub)
    office_ctx, office = await open_terminal(browser, hub, sites["district"]["id"])
    station_ctx, station = await open_terminal(browser, hub, sites["station"]["id"], viewport=PHONE)
    try:
        # The station's page fits a phone: no horizontal scroll.
        width = await station.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], width
        await office.locator(f'.site-row[data-site-id="{sites["station"]["id"]}"]').click()
        async with office.context.expect_page() as popup:
            await office.click("[data-action=call]")
        await (await popup.value).close()
        decline = station.locator(".ring [data-action=decline]")
        box = await decline.bounding_box()
        assert box["height"] >= 44 and box["width"] >= 44
        await decline.click()
        await expect(office.locator(".call-site .state-chip")).to_have_attribute("data-state", "declined")
        for page in (office, station):
            await expect(page.locator('.log-row .state-chip[data-state="declined"]')).to_have_count(1)

        resp = await hub.client.delete(f"/api/sites/{sites['station']['id']}/terminal", headers=hub.admin_headers())
        assert resp.status == 200
        await expect(station.locator("#refusal")).to_be_visible()
        await expect(station.locator("#refusal-title")).to_have_text("终端无法连接")
        await expect(office.locator(f'.site-row[data-site-id="{sites["station"]["id"]}"]')).to_have_attribute(
            "data-online", "false")
        # Reloaded, the page's stored token is refused with the hub's reason.
        await station.reload(wait_until="domcontentloaded")
        await expect(station.locator("#refusal-reason")).to_have_text("此终端链接已被停用")
    finally:
        await office_ctx.close()
        await station_ctx.close()
