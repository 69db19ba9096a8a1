"""In Chromium: a member's page follows the chair's page turns, browses freely,
returns to the presenter with one tap, draws ink that is saved on the server,
and the chair sees the member's read receipt."""
from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.documents.pdfs import make_pdf
from tests.documents.util import get_json, upload

pytestmark = pytest.mark.browser

TABLET = {"viewport": {"width": 1024, "height": 900}, "has_touch": True, "locale": "zh-CN"}


async def _open(browser, hub, token):
    context = await browser.new_context(**TABLET)
    page = await context.new_page()
    await page.goto(f"{hub.url}/join?token={token}", wait_until="domcontentloaded")
    return page


async def _shows(page, did: str, n: int, pages: int = 5) -> None:
    img = page.locator(".docs-img")
    await expect(img).to_have_attribute("data-page", str(n))
    await expect(img).to_have_attribute("data-document", did)
    await expect(page.locator(".docs-page-no")).to_have_text(f"{n} / {pages}")
    # data-page is set before the image has decoded: wait for the decode itself.
    assert await img.evaluate("i => i.decode().then(() => i.naturalWidth)") == 1600


async def test_member_page_follows_the_presenter(sqlite_hub, browser):
    hub = sqlite_hub
    city = await hub.site("市人大常委会", "city")
    mid = await hub.meeting("预算审查")
    chair = await hub.participant(mid, "王主任", "chair", city["id"])
    member = await hub.participant(mid, "李委员", "member", city["id"])
    _, doc = await upload(hub, mid, chair["token"], make_pdf(5), title="2026年预算草案")
    did = doc["id"]

    cp = await _open(browser, hub, chair["token"])
    mp = await _open(browser, hub, member["token"])
    for page in (cp, mp):
        await expect(page.locator(f'.docs-list li[data-document="{did}"]')).to_contain_text("2026年预算草案")

    # The chair presents and turns pages with the on-screen buttons; the member follows.
    await cp.locator(f'.docs-list li[data-document="{did}"] .docs-present').click()
    await _shows(mp, did, 1)
    next_button = cp.locator(".docs-next")
    box = await next_button.bounding_box()
    assert box["width"] >= 44 and box["height"] >= 44
    await next_button.click()
    await _shows(cp, did, 2)
    await next_button.click()
    await _shows(mp, did, 3)
    await expect(mp.locator(".docs-mode")).to_have_attribute("data-mode", "follow")

    # The member browses back on their own; the chair moves on; one tap returns.
    await mp.locator(".docs-prev").click()
    await _shows(mp, did, 2)
    await expect(mp.locator(".docs-mode")).to_have_attribute("data-mode", "browse")
    await next_button.click()
    await _shows(cp, did, 4)
    back = mp.locator(".docs-back")
    await expect(back).to_be_visible()
    await expect(back).to_contain_text("4")
    await _shows(mp, did, 2)
    await back.click()
    await _shows(mp, did, 4)
    await expect(mp.locator(".docs-mode")).to_have_attribute("data-mode", "follow")

    # Ink with the mouse on page 4: saved on the server as the member's own.
    await mp.locator(".docs-ink").click()
    sheet = await mp.locator(".docs-sheet canvas").bounding_box()
    x, y = sheet["x"] + sheet["width"] * 0.2, sheet["y"] + sheet["height"] * 0.3
    await mp.mouse.move(x, y)
    await mp.mouse.down()
    for i in range(1, 11):
        await mp.mouse.move(x + i * 20, y + i * 5)
    await mp.mouse.up()
    await expect(mp.locator(".docs-sheet")).to_have_attribute("data-saved", f"{did}/4/1")
    status, saved = await get_json(hub, f"/api/documents/{did}/pages/4/annotations", member["token"])
    assert status == 200 and len(saved["ink"]) == 1
    first = saved["ink"][0]["points"][0]
    assert abs(first[0] - 0.2) < 0.02 and abs(first[1] - 0.3) < 0.02

    # And with a finger (touch events, as on a tablet): a second stroke.
    await mp.evaluate("document.querySelector('.docs-sheet canvas').scrollIntoView({block: 'start'})")
    sheet = await mp.locator(".docs-sheet canvas").bounding_box()
    cdp = await mp.context.new_cdp_session(mp)
    tx, ty = sheet["x"] + sheet["width"] * 0.5, sheet["y"] + sheet["height"] * 0.5
    await cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": tx, "y": ty}]})
    for i in range(1, 11):
        await cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": tx + i * 15, "y": ty - i * 8}]})
    await cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    await expect(mp.locator(".docs-sheet")).to_have_attribute("data-saved", f"{did}/4/2")
    _, saved = await get_json(hub, f"/api/documents/{did}/pages/4/annotations", member["token"])
    assert len(saved["ink"]) == 2 and len(saved["ink"][1]["points"]) >= 5
    assert abs(saved["ink"][1]["points"][0][0] - 0.5) < 0.02

    # The chair sees the member's receipt.
    await cp.locator(f'.docs-list li[data-document="{did}"] .docs-receipts-toggle').click()
    await expect(cp.locator(f'.docs-receipts li[data-participant="{member["id"]}"]')).to_have_attribute(
        "data-opened", "true"
    )

    # A member who opens the meeting now lands on the presenter's page.
    late = await hub.participant(mid, "赵委员", "member")
    lp = await _open(browser, hub, late["token"])
    await _shows(lp, did, 4)
    await mp.screenshot(path="/tmp/docs-member.png", full_page=True)  # for a human look, not asserted
    await cp.screenshot(path="/tmp/docs-chair.png", full_page=True)
    for page in (cp, mp, lp):
        await page.context.close()
