"""The connection-quality indicator (issue 13, item 4): every meeting page
shows it; fed bad figures through the page's own decision code
(window.plenaryQuality.evaluate) a publishing page falls back to audio only
by itself, says so, and its video sender stops sending while the audio goes
on; good figures bring the video back."""
import asyncio
import re

import pytest
from playwright.async_api import expect

from tests.browser.test_shell import open_page
from tests.helpers import wait_until

pytestmark = pytest.mark.browser

# Payload bytes sent so far per kind on the publishing connection.
BYTES_SENT = """async () => {
  const media = window.plenaryMedia;
  const out = { audio: 0, video: 0 };
  if (!media || !media.send) return out;
  (await media.send.getStats()).forEach((r) => {
    if (r.type === "outbound-rtp") out[r.kind] += r.bytesSent || 0;
  });
  return out;
}"""

BAD = "{loss: 30, rtt: 400, bitrate: 50000}"
GOOD = "{loss: 0, rtt: 20, bitrate: 2000000}"


async def sent(page) -> dict:
    return await page.evaluate(BYTES_SENT)


async def growth(page, seconds: float = 1.5) -> dict:
    before = await sent(page)
    await asyncio.sleep(seconds)
    after = await sent(page)
    return {kind: after[kind] - before[kind] for kind in before}


async def _no_video(page) -> bool:
    return (await growth(page, 0.5))["video"] == 0


async def test_indicator_shows_and_audio_only_fallback_comes_and_goes(sqlite_hub, browser):
    mid = await sqlite_hub.meeting("网络质量")
    chair = await sqlite_hub.participant(mid, "主任", "chair")
    member = await sqlite_hub.participant(mid, "委员", "member")
    page = await open_page(browser, f"{sqlite_hub.url}/join?token={chair['token']}")
    other = await open_page(browser, f"{sqlite_hub.url}/join?token={member['token']}")
    try:
        # Every meeting page shows the indicator, with words for screen readers.
        for p in (page, other):
            indicator = p.locator("#quality")
            await expect(indicator).to_be_visible()
            await expect(indicator).to_have_attribute("role", "status")
            await expect(indicator).to_have_attribute("aria-label", re.compile(r"^网络(检测中|良好|一般|较差)"))

        await page.click("[data-action=start-camera]", timeout=15000)
        await page.wait_for_selector("[data-action=stop-camera]", timeout=15000)
        # Real measurements come in (on a busy machine even loopback may not look "good").
        await expect(page.locator("#quality")).to_have_attribute("data-level", re.compile("^(good|fair|poor)$"),
                                                                 timeout=15000)
        await page.wait_for_function(f"({BYTES_SENT})().then(b => b.video > 20000)", timeout=15000, polling=250)
        assert (await growth(page))["video"] > 0

        # One bad sample is not enough; a few in a row switch to audio only.
        state = await page.evaluate(f"() => window.plenaryQuality.evaluate({BAD})")
        assert state == {"level": "poor", "audioOnly": False}
        for _ in range(2):
            state = await page.evaluate(f"() => window.plenaryQuality.evaluate({BAD})")
        assert state == {"level": "poor", "audioOnly": True}
        indicator = page.locator("#quality")
        await expect(indicator).to_have_attribute("data-level", "poor")
        await expect(indicator.locator(".quality-audio")).to_have_text("仅音频")
        await expect(indicator).to_have_attribute("aria-label", re.compile(r"^网络较差，视频无法传送，已切换为仅音频（丢包 30%"))
        await expect(page.locator(".toast").filter(has_text="已自动切换为仅音频")).to_be_visible()
        # What was queued before the switch leaves; then no video byte for a whole window.
        await wait_until(lambda: _no_video(page), timeout=10, interval=0)
        paused = await growth(page)
        assert paused["video"] == 0, paused
        assert paused["audio"] > 0, paused  # the voice goes on

        # Good figures for a while bring the video back.
        for _ in range(3):
            state = await page.evaluate(f"() => window.plenaryQuality.evaluate({GOOD})")
        assert state == {"level": "good", "audioOnly": False}
        await expect(indicator.locator(".quality-audio")).to_be_hidden()
        await expect(page.locator(".toast").filter(has_text="视频已重新开启")).to_be_visible()
        await page.wait_for_function(
            f"(async () => {{ const a = await ({BYTES_SENT})(); await new Promise(r => setTimeout(r, 1000));"
            f" const b = await ({BYTES_SENT})(); return b.video > a.video; }})()", timeout=10000, polling=500)

        # Falling back again within a minute of coming back: the next return waits twice as long.
        for _ in range(3):
            state = await page.evaluate(f"() => window.plenaryQuality.evaluate({BAD})")
        assert state["audioOnly"] is True
        for _ in range(5):
            state = await page.evaluate(f"() => window.plenaryQuality.evaluate({GOOD})")
            assert state["audioOnly"] is True
        state = await page.evaluate(f"() => window.plenaryQuality.evaluate({GOOD})")
        assert state == {"level": "good", "audioOnly": False}

        # A page that only receives has no video to hold back: bad figures say so, nothing else.
        for _ in range(4):
            state = await other.evaluate(f"() => window.plenaryQuality.evaluate({BAD})")
        assert state == {"level": "poor", "audioOnly": False}
        await expect(other.locator("#quality")).to_have_attribute("data-level", "poor")

        # In English too.
        await page.click("[data-lang=en]")
        await expect(indicator.locator(".quality-text")).to_have_text("Good connection")
        assert page.errors == [] and other.errors == []
    finally:
        await page.close()
        await other.close()
