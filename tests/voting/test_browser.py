"""In Chromium: members vote through the panel, every page shows the result."""
from __future__ import annotations

import json

import pytest
from playwright.async_api import expect

from tests.helpers import wait_until

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


async def open_page(browser, hub, token: str, viewport=None):
    context = await browser.new_context(viewport=viewport or {"width": 1200, "height": 900}, locale="zh-CN")
    page = await context.new_page()
    # Only this feature: the test is about voting, not about the camera.
    await page.route("**/client/features", lambda route: route.fulfill(
        content_type="application/json", body=json.dumps(["/static/js/features/voting.js"])))
    await page.goto(f"{hub.url}/join?token={token}", wait_until="domcontentloaded")
    await expect(page.locator("section[data-feature='voting']").first).to_be_visible(timeout=15000)
    return page


async def test_members_vote_in_the_panel_and_every_page_shows_the_result(hub, browser):
    mid = await hub.meeting("城市交通专题询问")
    city = await hub.site("市人大常委会", "city")
    station = await hub.site("东湖代表联络站", "station", city["id"])
    chair = await hub.participant(mid, "王主任", "chair", city["id"])
    members = [await hub.participant(mid, name, "member", city["id"]) for name in ("李委员", "张委员")]
    deputy = await hub.participant(mid, "周代表", "deputy", station["id"])

    chair_page = await open_page(browser, hub, chair["token"])
    member_pages = [await open_page(browser, hub, members[0]["token"], PHONE),
                    await open_page(browser, hub, members[1]["token"])]
    station_page = await open_page(browser, hub, deputy["token"], PHONE)
    everyone = [chair_page, *member_pages, station_page]

    await chair_page.fill(".vote-form [name=subject]", "对市交通运输局的满意度测评")
    await chair_page.click(".vote-form .vote-open")
    for page in everyone:
        await expect(page.locator(".vote-open-card h3")).to_have_text("对市交通运输局的满意度测评")
    # The deputy's terminal shows the vote but no ballot (members only by default).
    await expect(station_page.locator(".vote-open-card .vote-option")).to_have_count(0)

    phone_button = member_pages[0].locator(".vote-option[data-choice='满意']")
    box = await phone_button.bounding_box()
    assert box["height"] >= 48 and box["width"] >= 120, box  # a thumb-sized target on a phone
    await phone_button.click()
    await member_pages[1].locator(".vote-option[data-choice='不满意']").click()
    await member_pages[1].locator(".vote-option[data-choice='基本满意']").click()  # changes their mind
    for page, choice in zip(member_pages, ["满意", "基本满意"]):
        await expect(page.locator(f".vote-option[data-choice='{choice}']")).to_have_attribute("aria-pressed", "true")
        await expect(page.locator(".vote-receipt")).to_contain_text("回执")

    # The chair's live turnout bar.
    await expect(chair_page.locator(".vote-turnout-text")).to_have_text("已投 2 / 应投 2")
    await expect(chair_page.locator(".vote-bar")).to_have_attribute("aria-valuenow", "2")

    chair_page.on("dialog", lambda dialog: dialog.accept())
    await chair_page.click(".vote-close")
    for page in everyone:
        result = page.locator(".vote-result").first
        await expect(result.locator(".vote-verdict")).to_have_text("基本满意")
        await expect(result.locator("tr[data-option='满意'] td").last).to_have_text("1")
        await expect(result.locator("tr[data-option='基本满意'] td").last).to_have_text("1")
        await expect(result.locator(".vote-rate")).to_have_text("满意率 100.0%")
        await expect(page.locator(".vote-open-card")).to_have_count(0)

    # A member checks their receipt against the published list.
    await member_pages[0].click(".vote-check")
    await expect(member_pages[0].locator(".vote-check-result")).to_contain_text("已计入公示名单")

    # English switch relabels the result.
    await station_page.click("[data-lang='en']")
    await expect(station_page.locator(".vote-result .vote-verdict").first).to_have_text("Basically satisfied")

    # A late joiner sees the result from state:sync alone.
    late = await open_page(browser, hub, (await hub.participant(mid, "陈列席", "observer"))["token"])
    await expect(late.locator(".vote-result .vote-verdict").first).to_have_text("基本满意")
    for page in [*everyone, late]:
        await page.context.close()


async def test_ballot_whose_ack_was_lost_is_resent_after_reconnect_and_counted_once(hub, browser, clients):
    from tests.voting.conftest import stored_counts

    mid = await hub.meeting()
    chair = await hub.participant(mid, "王主任", "chair")
    member = await hub.participant(mid, "李委员", "member")
    cc = await hub.connect(chair["token"]); clients.append(cc)
    page = await open_page(browser, hub, member["token"], PHONE)
    vid = (await cc.call("vote:open", {"subject": "断线重发", "secret": True}))["vote_id"]
    await expect(page.locator(".vote-open-card")).to_have_count(1)

    # The ballot reaches the hub, but its acknowledgement is lost with the link.
    await page.evaluate("""() => {
        const connection = window.plenaryShell.connection;
        const real = connection.call.bind(connection);
        connection.call = async (event, payload) => {
            if (event !== "vote:cast") return real(event, payload);
            connection.call = real;
            connection.socket.emit(event, payload);
            return { ok: false, error: { code: "timeout", message: "no answer" } };
        };
    }""")
    await page.locator(".vote-option[data-choice='不满意']").click()
    await expect(page.locator(".vote-mine")).to_contain_text("自动重新提交")
    async def counted_once() -> bool:
        return await stored_counts(hub.hub.db, vid) == (1, 1)

    await wait_until(counted_once, timeout=10)

    # The link drops and comes back: the shell re-syncs and the panel resends
    # the same ballot id; the hub answers with the receipt of the counted ballot.
    await page.evaluate("window.plenaryShell.connection.socket.io.engine.close()")
    await expect(page.locator(".vote-receipt")).to_contain_text("回执", timeout=15000)
    await expect(page.locator(".vote-option[data-choice='不满意']")).to_have_attribute("aria-pressed", "true")
    assert await stored_counts(hub.hub.db, vid) == (1, 1)
    receipt = (await page.locator(".vote-receipt").text_content()).split("：", 1)[1].strip()
    await cc.call("vote:close", {"vote_id": vid})
    resp = await hub.client.get(f"/api/votes/{vid}/verify", params={"receipt": receipt},
                                headers={"Authorization": f"Bearer {member['token']}"})
    check = await resp.json()
    assert check["counted"] is True and check["choice"] == "不满意"
    await page.context.close()


async def test_chair_opens_one_vote_per_department_from_the_panel(hub, browser):
    mid = await hub.meeting()
    city = await hub.site("市政府", "city")
    departments = [await hub.site(name, "department", city["id"]) for name in ("市交通运输局", "市住建局")]
    chair = await hub.participant(mid, "王主任", "chair")
    member = await hub.participant(mid, "李委员", "member")
    for department in departments:
        await hub.participant(mid, f"{department['name']}局长", "respondent", department["id"])
    chair_page = await open_page(browser, hub, chair["token"])
    member_page = await open_page(browser, hub, member["token"], PHONE)

    batch = chair_page.locator(".vote-open-batch")
    await expect(batch).to_contain_text("2")
    await batch.click()
    cards = member_page.locator(".vote-open-card")
    await expect(cards).to_have_count(2)
    await expect(cards.locator("h3")).to_have_text(["满意度测评：市交通运输局", "满意度测评：市住建局"])
    for index, choice in enumerate(["满意", "不满意"]):
        card = cards.nth(index)
        await card.locator(f".vote-option[data-choice='{choice}']").click()
        await expect(card.locator(".vote-receipt")).to_be_visible()
    chair_page.on("dialog", lambda dialog: dialog.accept())
    for _ in range(2):
        await chair_page.locator(".vote-close").first.click()
        await expect(chair_page.locator(".vote-close")).to_have_count(1 - _)
    verdicts = member_page.locator(".vote-result .vote-verdict")
    await expect(verdicts).to_have_count(2)
    await expect(member_page.locator(".vote-result h3")).to_have_text(["满意度测评：市住建局", "满意度测评：市交通运输局"])
    await expect(verdicts).to_have_text(["不满意", "满意"])
    for page in (chair_page, member_page):
        await page.context.close()
