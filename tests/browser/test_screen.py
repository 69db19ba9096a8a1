"""The big screen (/screen) in Chromium against a real hub.

A hall's projector opened with a display link (an observer's token): it
follows a satisfaction vote from open to result without a reload, then an
inquiry turn (topic, raised hand, the floor holder's caption, video and
countdown); a forged or missing link is refused plainly.
"""
from __future__ import annotations

import re

import pytest
from playwright.async_api import Page, expect

from tests.recordings.kit import publish

pytestmark = pytest.mark.browser

PROJECTOR = {"viewport": {"width": 1600, "height": 900}, "locale": "zh-CN"}
SUBJECT = "对市交通运输局答复的满意度测评"

VIDEO_PLAYING = """() => {
  const v = document.querySelector('#floor-video');
  return v && v.videoWidth > 0 && v.currentTime > 0 ? [v.videoWidth, v.currentTime] : null;
}"""


async def open_screen(browser, url: str) -> Page:
    context = await browser.new_context(**PROJECTOR)
    page = await context.new_page()
    page.errors = []  # type: ignore[attr-defined]
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    await page.goto(url, wait_until="domcontentloaded")
    return page


def seconds(text: str) -> int:
    minutes, secs = text.split(":")
    return int(minutes) * 60 + int(secs)


async def test_screen_follows_a_vote_then_the_floor(sqlite_hub, browser, clients):
    hub = sqlite_hub
    city = await hub.site("市人大常委会会议厅", "city")
    district = await hub.site("东城区人大常委会", "district", city["id"])
    department = await hub.site("市交通运输局", "department", city["id"])
    mid = await hub.meeting("交通专题询问")
    chair = await hub.participant(mid, "王主任", "chair", city["id"])
    li = await hub.participant(mid, "李委员", "member", district["id"])
    zhou = await hub.participant(mid, "周委员", "member", city["id"])
    respondent = await hub.participant(mid, "赵局长", "respondent", department["id"])
    display = await hub.participant(mid, "大屏幕", "observer", city["id"])

    resp = await hub.client.get("/screen")
    assert resp.status == 200 and resp.headers["Cache-Control"] == "no-store"
    assert resp.headers["Referrer-Policy"] == "no-referrer"

    page = await open_screen(browser, f"{hub.url}/screen?token={display['token']}")
    await expect(page.locator("#meeting-title")).to_have_text("交通专题询问")
    assert "token" not in page.url
    assert await page.evaluate("sessionStorage.getItem('plenary.token')") == display["token"]
    # No inquiry, nobody speaking: the chair is on the floor.
    await expect(page.locator("#floor-name")).to_have_text("王主任")
    await expect(page.locator("#floor-who")).to_have_text("主持人 · 市人大常委会会议厅")
    await expect(page.locator("#vote")).to_be_hidden()
    await page.evaluate("window.sameDocument = true")  # gone if anything reloads the page

    chair_c, li_c, zhou_c = [await hub.connect(p["token"]) for p in (chair, li, zhou)]
    clients.extend([chair_c, li_c, zhou_c])

    # A vote opens: subject and live turnout, 0/2, 1/2, 2/2.
    ack = await chair_c.call("vote:open", {"subject": SUBJECT, "secret": True})
    assert ack["ok"], ack
    vote_id = ack["vote_id"]
    vote = page.locator("#vote")
    await expect(vote).to_have_attribute("data-mode", "open")
    await expect(vote.locator(".sc-vote-subject")).to_have_text(SUBJECT)
    figure = vote.locator(".sc-turnout-figure")
    await expect(figure).to_have_text("0 / 2")
    assert (await li_c.call("vote:cast", {"vote_id": vote_id, "choice": "满意"}))["ok"]
    await expect(figure).to_have_text("1 / 2")
    await expect(vote.locator(".sc-progress-fill")).to_have_attribute("style", re.compile(r"width: 50(\.0)?%"))
    assert (await zhou_c.call("vote:cast", {"vote_id": vote_id, "choice": "基本满意"}))["ok"]
    await expect(figure).to_have_text("2 / 2")
    await page.screenshot(path="/tmp/screen-vote-open.png")  # for a human look, not asserted

    # Closed: the verdict (满意 1 is not more than half of 2; 满意+基本满意 is) and the chart.
    assert (await chair_c.call("vote:close", {"vote_id": vote_id}))["ok"]
    await expect(vote).to_have_attribute("data-mode", "result")
    await expect(vote.locator(".sc-verdict")).to_have_text("基本满意")
    chart = {}
    for bar in await vote.locator(".sc-bar").all():
        option = await bar.get_attribute("data-option")
        chart[option] = (await bar.locator(".sc-bar-count").text_content(), await bar.locator(".sc-bar-share").text_content())
    assert chart == {"满意": ("1", "50%"), "基本满意": ("1", "50%"), "不满意": ("0", "0%")}
    await expect(vote.locator(".sc-valid")).to_have_text("有效")
    await expect(vote.locator(".sc-rate")).to_have_text("满意率 100%")
    await expect(vote.locator(".sc-figures")).to_have_text("应投 2 人，实投 2 人")
    # Aggregates only: no voter is named anywhere in the vote panel.
    assert "李委员" not in await vote.inner_text() and "周委员" not in await vote.inner_text()
    # Readable from the back of the hall: the verdict is at least 6% of the width high.
    size = await vote.locator(".sc-verdict").evaluate("n => parseFloat(getComputedStyle(n).fontSize)")
    assert size >= 0.06 * PROJECTOR["viewport"]["width"], size
    await page.screenshot(path="/tmp/screen-vote-result.png")

    # The inquiry moves on: the result gives way to the topic.
    ack = await chair_c.call("inquiry:command", {
        "action": "open_topic", "title": "公交线网优化", "respondents": [respondent["id"]], "question_s": 120})
    assert ack["ok"], ack
    await expect(page.locator("#topic")).to_have_text("公交线网优化")
    await expect(vote).to_be_hidden()

    # The member publishes (an aiortc camera and mic) and raises a hand: the queue shows it.
    publisher = await publish(li_c)
    try:
        assert (await li_c.call("inquiry:hand", {"raise": True}))["ok"]
        await expect(page.locator(f'#queue-list li[data-participant="{li["id"]}"]')).to_contain_text("李委员")

        # The chair grants the floor: the caption, the stage, the countdown running down.
        assert (await chair_c.call("inquiry:command", {"action": "grant", "participant": li["id"]}))["ok"]
        await expect(page.locator("#floor-name")).to_have_text("李委员")
        await expect(page.locator("#floor-who")).to_have_text("委员 · 东城区人大常委会")
        await expect(page.locator("#stage-label")).to_have_text("提问")
        countdown = page.locator("#countdown")
        await expect(countdown).to_have_text(re.compile(r"^0[12]:\d\d$"))
        first = seconds(await countdown.text_content())
        assert 110 <= first <= 120, first
        await expect(countdown).not_to_have_text(await countdown.text_content(), timeout=3000)
        later = seconds(await countdown.text_content())
        assert later < first
        await expect(page.locator("#queue")).to_be_hidden()  # granted: the hand is down

        # The floor holder's video plays large (and their microphone through the hall's PA).
        await page.wait_for_function(VIDEO_PLAYING, timeout=20_000, polling=200)
        width, played = await page.evaluate(VIDEO_PLAYING)
        await page.wait_for_function(f"() => document.querySelector('#floor-video').currentTime > {played + 0.5}",
                                     timeout=10_000, polling=200)
        assert width > 0
        await expect(page.locator("#audio audio")).to_have_count(1)
        await page.screenshot(path="/tmp/screen-floor.png")

        # The department answers: it takes the floor (no video of its own: the box says so).
        assert (await chair_c.call("inquiry:command", {"action": "answer", "respondent": respondent["id"]}))["ok"]
        await expect(page.locator("#floor-name")).to_have_text("赵局长")
        await expect(page.locator("#floor-who")).to_have_text("答询部门 · 市交通运输局")
        await expect(page.locator("#video-box")).to_have_class(re.compile(r"\bis-empty\b"))
    finally:
        await publisher.close()

    assert await page.evaluate("window.sameDocument === true"), "the screen reloaded"
    assert page.errors == []  # type: ignore[attr-defined]
    await page.context.close()


async def test_a_forged_or_missing_display_link_is_refused(sqlite_hub, browser):
    forged = await open_screen(browser, f"{sqlite_hub.url}/screen?token=not.a.token")
    await expect(forged.locator("#refusal")).to_be_visible()
    await expect(forged.locator("#refusal-title")).to_have_text("大屏幕无法接入会议")
    await expect(forged.locator("#refusal-reason strong")).to_have_text(re.compile("会议链接"))
    await expect(forged.locator("#main")).to_be_hidden()
    await forged.context.close()

    missing = await open_screen(browser, f"{sqlite_hub.url}/screen?lang=en")
    await expect(missing.locator("#refusal-title")).to_have_text("The big screen cannot join the meeting")
    await expect(missing.locator("#refusal-reason")).to_contain_text("No display link")
    await expect(missing.locator("#main")).to_be_hidden()
    await missing.context.close()


async def test_a_late_screen_shows_the_last_result_and_overtime_in_red(sqlite_hub, browser, clients):
    hub = sqlite_hub
    mid = await hub.meeting("预算审查专题询问")
    chair = await hub.participant(mid, "王主任", "chair")
    member = await hub.participant(mid, "李委员", "member")
    respondent = await hub.participant(mid, "赵局长", "respondent")
    display = await hub.participant(mid, "大屏幕", "observer")
    chair_c, member_c = [await hub.connect(p["token"]) for p in (chair, member)]
    clients.extend([chair_c, member_c])

    vote_id = (await chair_c.call("vote:open", {"subject": "第一项测评", "secret": False}))["vote_id"]
    assert (await member_c.call("vote:cast", {"vote_id": vote_id, "choice": "不满意"}))["ok"]
    assert (await chair_c.call("vote:close", {"vote_id": vote_id}))["ok"]

    # Opened after the close (nothing moved on since): the result is on screen.
    page = await open_screen(browser, f"{hub.url}/screen?token={display['token']}&lang=en")
    vote = page.locator("#vote")
    await expect(vote.locator(".sc-verdict")).to_have_text("Dissatisfied")
    await expect(vote.locator('.sc-bar[data-option="不满意"] .sc-bar-count')).to_have_text("1")
    await expect(vote.locator('.sc-bar[data-option="不满意"] .sc-bar-share')).to_have_text("100%")
    await expect(vote.locator(".sc-rate")).to_have_text("Satisfaction rate 0%")

    # The next vote replaces it, with its turnout.
    ack = await chair_c.call("vote:open", {"subject": "第二项测评", "secret": True})
    await expect(vote).to_have_attribute("data-mode", "open")
    await expect(vote.locator(".sc-vote-subject")).to_have_text("第二项测评")
    await expect(vote.locator(".sc-turnout-figure")).to_have_text("0 / 1")
    await expect(vote.locator(".sc-verdict")).to_have_count(0)
    assert (await chair_c.call("vote:close", {"vote_id": ack["vote_id"]}))["ok"]
    # Nobody voted: the rule's verdict, marked not valid, and no rate (nothing was cast).
    await expect(vote.locator(f'.sc-vote-card[data-vote="{ack["vote_id"]}"] .sc-invalid')).to_have_text(
        "Not valid (fewer than half voted)")
    await expect(vote.locator(".sc-figures")).to_have_text("1 entitled, 0 voted")
    await expect(vote.locator(".sc-rate")).to_have_count(0)

    # A two-second question runs out: red from the start (under 30 s), then +mm:ss.
    assert (await chair_c.call("inquiry:command", {
        "action": "open_topic", "title": "预算执行", "respondents": [respondent["id"]], "question_s": 2}))["ok"]
    assert (await chair_c.call("inquiry:command", {"action": "grant", "participant": member["id"]}))["ok"]
    countdown = page.locator("#countdown")
    await expect(page.locator("#timer")).to_have_class(re.compile(r"\bis-red\b"))
    await expect(countdown).to_have_text(re.compile(r"^\+00:0\d$"), timeout=6000)
    await expect(countdown).to_have_class(re.compile(r"\bis-over\b"))
    await expect(page.locator("#timer-label")).to_have_text("Overtime")
    await expect(page.locator("#floor-who")).to_have_text("Member")
    await page.context.close()
