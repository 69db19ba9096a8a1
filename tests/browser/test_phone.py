"""Phone (issue 13, item 7): a member's meeting page and a site's terminal
page on a 360×640 touch screen in Chromium: no horizontal scroll, and every
visible button, link and input at least 44×44 CSS px."""
import pytest
from playwright.async_api import expect

from tests.browser.test_shell import watch_errors
from tests.sites.test_terminal_browser import PHONE, city, terminal

pytestmark = pytest.mark.browser

MIN_TARGET = 44

# Every visible control of the page with its size; `rects` of elements that
# stick out of the viewport to the right (what would scroll sideways).
MEASURE = """() => {
  const out = { scroll: [document.documentElement.scrollWidth, window.innerWidth], small: [], wide: [] };
  const visible = (el) => {
    const style = getComputedStyle(el);
    const r = el.getBoundingClientRect();
    return style.visibility !== "hidden" && style.display !== "none" && r.width > 0 && r.height > 0;
  };
  const name = (el) => `${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""}${el.className && typeof el.className === "string" ? "." + el.className.trim().split(/\\s+/).join(".") : ""}` +
    ` "${(el.textContent || el.value || el.getAttribute("aria-label") || el.type || "").trim().slice(0, 20)}"`;
  const targets = "button, a[href], input:not([type=hidden]), select, textarea, summary, [role=button], label:has(> input[type=checkbox]), label:has(> input[type=radio])";
  for (const el of document.querySelectorAll(targets)) {
    if (!visible(el)) continue;
    // A checkbox inside a big enough label is tapped through its label.
    if (el.matches("input[type=checkbox], input[type=radio]") && el.closest("label") && el.closest("label") !== el) {
      const label = el.closest("label").getBoundingClientRect();
      if (label.width >= 44 && label.height >= 44) continue;
    }
    const r = el.getBoundingClientRect();
    if (r.width < 44 || r.height < 44) out.small.push(`${name(el)} ${Math.round(r.width)}×${Math.round(r.height)}`);
  }
  for (const el of document.body.querySelectorAll("*")) {
    if (!visible(el)) continue;
    const r = el.getBoundingClientRect();
    if (r.right > window.innerWidth + 0.5) out.wide.push(`${name(el)} right=${Math.round(r.right)}`);
  }
  return out;
}"""


async def measure(page) -> dict:
    return await page.evaluate(MEASURE)


def assert_fits(found: dict, what: str) -> None:
    width, viewport = found["scroll"]
    assert width <= viewport, f"{what}: scrolls sideways ({width} > {viewport}): {found['wide'][:8]}"
    # Nor is anything cut off at the right edge (an overflow: hidden parent would hide the scroll).
    assert found["wide"] == [], f"{what}: sticks out of the screen: {found['wide'][:8]}"
    assert found["small"] == [], f"{what}: touch targets under 44×44 px: {found['small']}"


async def test_member_page_fits_a_phone(sqlite_hub, browser):
    hub = sqlite_hub
    sites = await city(hub)
    mid = await hub.meeting("东城区人大常委会关于城市更新工作情况的专题询问会议")
    chair = await hub.participant(mid, "主任", "chair")
    member = await hub.participant(mid, "王委员（东华门代表联络站）", "member", sites["station"]["id"])
    await hub.participant(mid, "李代表", "deputy", sites["other"]["id"])
    dept = await hub.participant(mid, "市住房和城乡建设局", "respondent")
    context = await browser.new_context(**PHONE)
    try:
        publisher = await context.new_page()
        await publisher.goto(f"{hub.url}/join?token={chair['token']}", wait_until="domcontentloaded")
        await publisher.click("[data-action=start-camera]", timeout=15000)
        page = await context.new_page()
        watch_errors(page)
        await page.goto(f"{hub.url}/join?token={member['token']}", wait_until="domcontentloaded")
        await expect(page.locator("body.is-ready")).to_have_count(1, timeout=15000)
        await expect(page.locator(f".vg-tile[data-participant='{chair['id']}']")).to_be_visible(timeout=15000)
        await expect(page.locator("#quality")).to_be_visible()
        assert_fits(await measure(page), "member page")
        # The roster open, and the camera on: still fits.
        await page.click("#roster-toggle")
        await expect(page.locator("#roster-list")).to_be_visible()
        await page.click("[data-action=start-camera]")
        await expect(page.locator("[data-action=stop-camera]")).to_be_visible(timeout=15000)
        assert_fits(await measure(page), "member page, roster open, camera on")
        await page.click("[data-lang=en]")
        assert_fits(await measure(page), "member page in English")
        await page.click("[data-lang=zh-CN]")

        # An inquiry topic and a vote open: the hand and ballot buttons fit too.
        operator = await hub.connect(chair["token"])
        try:
            ack = await operator.call("inquiry:command", {"action": "open_topic", "title": "老旧小区改造",
                                                          "respondents": [dept["id"]]})
            assert ack["ok"], ack
            ack = await operator.call("vote:open", {"subject": "对市住房和城乡建设局的满意度测评", "secret": False})
            assert ack["ok"], ack
            await expect(page.locator(".inq-topic")).to_have_text("老旧小区改造")
            await expect(page.locator(".vote-open-card .vote-option").first).to_be_visible()
            assert_fits(await measure(page), "member page with a topic and a vote open")
        finally:
            await operator.close()
        assert page.errors == []
    finally:
        await context.close()


async def test_terminal_page_fits_a_phone(sqlite_hub, browser):
    hub = sqlite_hub
    sites = await city(hub)
    context = await browser.new_context(**PHONE)
    try:
        page = await context.new_page()
        await page.goto(hub.url + await terminal(hub, sites["district"]["id"]), wait_until="domcontentloaded")
        await expect(page.locator(".conn")).to_have_attribute("data-status", "online")
        await expect(page.locator(".site-row").first).to_be_visible()
        assert_fits(await measure(page), "terminal page")
    finally:
        await context.close()
