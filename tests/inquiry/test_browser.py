"""In Chromium, on tablet-sized pages: a chair and a member run one turn
through the buttons, and both see the same floor holder and countdown."""
import re

import pytest
from playwright.async_api import expect

from tests.helpers import EventClient

pytestmark = pytest.mark.browser

TABLET = {"viewport": {"width": 1024, "height": 768}, "has_touch": True, "locale": "zh-CN"}


async def test_chair_and_member_run_one_turn(sqlite_hub, browser, clients):
    hub = sqlite_hub
    city = await hub.site("市政府", "city")
    dept = await hub.site("市交通运输局", "department", city["id"])
    mid = await hub.meeting("交通专题询问")
    chair = await hub.participant(mid, "王主任", "chair")
    member = await hub.participant(mid, "李委员", "member")
    respondent = await hub.participant(mid, "赵局长", "respondent", dept["id"])

    pages = {}
    for key, who in (("chair", chair), ("member", member)):
        context = await browser.new_context(**TABLET)
        pages[key] = await context.new_page()
        await pages[key].goto(f"{hub.url}/join?token={who['token']}", wait_until="domcontentloaded")
    cp, mp = pages["chair"], pages["member"]

    # The chair opens a topic; the department is offered (and ticked) from the roster.
    form = cp.locator("form.inq-form")
    await form.locator("input[name=title]").fill("公交线网优化")
    await expect(form.locator(f'input[name=respondent][value="{respondent["id"]}"]')).to_be_checked()
    await form.locator("input[name=question_min]").fill("2")
    await form.locator('[data-action="open_topic"]').click()
    for page in (cp, mp):
        await expect(page.locator(".inq-topic")).to_have_text("公交线网优化")

    # The member raises a hand; the chair sees the queue in order.
    await mp.locator('[data-action="raise"]').click()
    await expect(mp.locator(".inq-pos-text")).to_contain_text("1")
    grant = cp.locator(f'.inq-queue li[data-participant="{member["id"]}"] [data-action="grant"]')
    await expect(grant).to_be_enabled()
    box = await grant.bounding_box()
    assert box["height"] >= 44 and box["width"] >= 44  # a finger's target on a tablet
    await grant.click()

    # Both pages: the floor holder and the same server-driven countdown.
    for page in (cp, mp):
        await expect(page.locator(f'.inq-speaker[data-participant="{member["id"]}"]')).to_contain_text("李委员")
        await expect(page.locator(".inq-stage")).to_have_attribute("data-stage", "question")
        await expect(page.locator(".inq-countdown")).to_have_text(re.compile(r"^[12]:\d\d$"))
    await expect(mp.locator(".inq-you")).to_be_visible()
    await cp.screenshot(path="/tmp/inquiry-chair.png", full_page=True)  # for a human look, not asserted
    await mp.screenshot(path="/tmp/inquiry-member.png", full_page=True)
    readings = [await page.locator(".inq-countdown").text_content() for page in (cp, mp)]
    seconds = [int(m) * 60 + int(s) for m, s in (r.split(":") for r in readings)]
    assert abs(seconds[0] - seconds[1]) <= 1 and 110 <= min(seconds) <= 120

    # The department answers, then the chair ends the turn.
    await cp.locator(f'[data-action="answer"][data-participant="{respondent["id"]}"]').click()
    for page in (cp, mp):
        await expect(page.locator(f'.inq-respondent[data-participant="{respondent["id"]}"]')).to_contain_text("赵局长")
    await cp.locator('[data-action="end_turn"]').click()
    for page in (cp, mp):
        await expect(page.locator(".inq-stage")).to_have_attribute("data-stage", "idle")
        await expect(page.locator(".inq-speaker")).to_have_count(0)
    await expect(mp.locator('[data-action="raise"]')).to_be_visible()

    # The server's record agrees with what the pages showed.
    resp = await hub.client.get(f"/api/meetings/{mid}/minutes", headers=hub.admin_headers())
    segments = (await resp.json())["topics"][0]["segments"]
    assert [(s["kind"], s["speaker"]["id"]) for s in segments] == [
        ("question", member["id"]), ("answer", respondent["id"])]
    for page in (cp, mp):
        await page.context.close()


async def test_roster_changes_do_not_take_the_clerks_typing(sqlite_hub, browser, clients):
    """Stations join all through a session; each join re-renders the console.
    The open-topic form must keep the focus and what the clerk has typed."""
    hub = sqlite_hub
    city = await hub.site("市政府", "city")
    dept = await hub.site("市交通运输局", "department", city["id"])
    mid = await hub.meeting("交通专题询问")
    clerk = await hub.participant(mid, "陈秘书", "clerk")
    await hub.participant(mid, "赵局长", "respondent", dept["id"])
    late = await hub.participant(mid, "孙代表", "deputy")

    context = await browser.new_context(**TABLET)
    page = await context.new_page()
    await page.goto(f"{hub.url}/join?token={clerk['token']}", wait_until="domcontentloaded")
    title = page.locator("form.inq-form input[name=title]")
    await title.click()
    await page.keyboard.type("公交")

    clients.append(await EventClient(hub.url, late["token"]).connect())
    await expect(page.locator(f'.person.is-online[data-participant-id="{late["id"]}"]')).to_have_count(1)
    await page.keyboard.type("线网")
    await expect(title).to_have_value("公交线网")
    assert await title.evaluate("node => node === document.activeElement")
    await context.close()
