"""In Chromium (issue 14, items 4 and 7): every site's page shows 录制中 while the
meeting is recorded, a late joiner too; the chair starts and stops it; the
chair's 录像与纪要 panel lists the recording with its files, and its timeline
and minutes entries put the <video> at their moment. A member has none of it.

The member's page publishes its fake camera (VP8 + Opus), so the member's file
is the one a question of theirs lands in; the expected positions are computed
here from the REST views and timeline.jsonl, not from the page."""
from __future__ import annotations

import asyncio
import json

import pytest
from playwright.async_api import expect

from tests.helpers import wait_until

pytestmark = pytest.mark.browser

TABLET = {"viewport": {"width": 1024, "height": 900}, "has_touch": True, "locale": "zh-CN"}
PHONE = {"viewport": {"width": 360, "height": 640}, "has_touch": True, "is_mobile": True, "locale": "zh-CN"}
# Media recorded after the member's question starts, so that their file holds it.
QUESTION_S = 3.0

# Every seek the player completes: [file, currentTime when it landed].
WATCH_SEEKS = """() => {
  const video = document.querySelector('.rec-video');
  window.landed = [];
  video.addEventListener('seeked', () => window.landed.push([video.dataset.file, video.currentTime]));
}"""

# Each state the export box is drawn in, in order (it is redrawn on each change).
WATCH_EXPORT = """() => {
  window.exportStates = [];
  new MutationObserver((changes) => {
    for (const change of changes) for (const node of change.addedNodes) {
      const state = node.dataset?.export;
      if (state && state !== window.exportStates.at(-1)) window.exportStates.push(state);
    }
  }).observe(document.querySelector('.rec-viewer'), {childList: true, subtree: true});
}"""


async def _open(browser, hub, token, device=TABLET):
    context = await browser.new_context(**device)
    page = await context.new_page()
    await page.goto(f"{hub.url}/join?token={token}", wait_until="domcontentloaded")
    return page


async def _admin_get(hub, path: str):
    resp = await hub.client.get(path, headers=hub.admin_headers())
    assert resp.status == 200, await resp.text()
    return await resp.read() if path.endswith(".jsonl") else await resp.json()


async def _landing(page, click) -> tuple[str, float]:
    """Click, and where the player's next completed seek put it."""
    await page.evaluate("() => { window.landed = []; }")
    await click()
    await page.wait_for_function("window.landed.length > 0", timeout=15000)
    (file, at), *_ = await page.evaluate("window.landed")
    return file, at


def _covering(files: list[dict], pid: str, t: float) -> dict:
    (found,) = [f for f in files if f["kind"] == "media" and f["participant_id"] == pid
                and f["offset_s"] <= t <= f["offset_s"] + f["duration_s"]]
    return found


async def test_mark_controls_and_the_recordings_panel(sqlite_hub, browser, clients):
    hub = sqlite_hub
    city = await hub.site("市人大常委会", "city")
    dept = await hub.site("市生态环境局", "department")
    mid = await hub.meeting("大气污染防治专题询问")
    chair = await hub.participant(mid, "王主任", "chair", city["id"])
    member = await hub.participant(mid, "李委员", "member", city["id"])
    late = await hub.participant(mid, "赵委员", "member", city["id"])
    clerk = await hub.participant(mid, "周干事", "clerk", city["id"])
    respondent = await hub.participant(mid, "张局长", "respondent", dept["id"])

    cp = await _open(browser, hub, chair["token"])
    mp = await _open(browser, hub, member["token"])

    # A member has no control and no panel; nobody sees a mark yet.
    toggle = cp.locator("[data-action=recording-toggle]")
    await expect(toggle).to_have_text("开始录制")
    await expect(cp.locator('.panel[data-panel="library"]')).to_contain_text("本会议还没有录像")
    await expect(mp.locator("[data-action=recording-toggle]")).to_have_count(0)
    await expect(mp.locator('.panel[data-feature="recordings"]')).to_have_count(0)
    for page in (cp, mp):
        await expect(page.locator(".rec-mark")).to_be_hidden()

    # The chair starts: every page shows the mark, the member's without a reload.
    await toggle.click()
    for page in (cp, mp):
        await expect(page.locator(".rec-mark")).to_be_visible()
        await expect(page.locator(".rec-mark")).to_have_text("录制中")
    await expect(toggle).to_have_text("停止录制")
    # A member who joins now, on a phone, learns it from state:sync: in the top bar, on screen.
    lp = await _open(browser, hub, late["token"], PHONE)
    await expect(lp.locator(".rec-mark")).to_have_text("录制中")
    await expect(lp.locator(".rec-mark")).to_be_visible()
    mark, bar = await lp.locator(".rec-mark").bounding_box(), await lp.locator(".topbar").bounding_box()
    assert bar["y"] <= mark["y"] and mark["y"] + mark["height"] <= bar["y"] + bar["height"], (mark, bar)
    assert 0 <= mark["x"] and mark["x"] + mark["width"] <= PHONE["viewport"]["width"], mark
    await lp.screenshot(path="/tmp/recordings-phone-mark.png")  # for a human look, not asserted
    await lp.context.close()

    await mp.screenshot(path="/tmp/recordings-member-mark.png")  # for a human look, not asserted

    # The member's camera comes on during the recording, so their file starts
    # well after the recording does (its offset_s tells the two clocks apart).
    await mp.click("[data-action=start-camera]", timeout=15000)
    (rec,) = await _admin_get(hub, f"/api/meetings/{mid}/recordings")
    rid = rec["id"]

    async def member_file_written() -> bool:
        view = await _admin_get(hub, f"/api/recordings/{rid}")
        return any(f["participant_id"] == member["id"] and f["bytes"] > 0 for f in view["files"])

    await wait_until(member_file_written, timeout=20, interval=0.2)
    ck = await hub.connect(clerk["token"])
    clients.append(ck)
    for command in ({"action": "open_topic", "title": "臭氧污染治理", "respondents": [respondent["id"]]},
                    {"action": "grant", "participant": member["id"]}):
        ack = await ck.call("inquiry:command", command)
        assert ack["ok"], ack
    await asyncio.sleep(QUESTION_S)  # the question's length on the recording
    assert (await ck.call("inquiry:command", {"action": "end_turn"}))["ok"]

    # The chair stops, after confirming; the mark goes on every page.
    cp.once("dialog", lambda dialog: dialog.accept())
    await toggle.click()
    for page in (cp, mp):
        await expect(page.locator(".rec-mark")).to_be_hidden()
    await expect(toggle).to_have_text("开始录制")

    # What the page should land on, from the REST answers and the timeline file
    # (written once the files are final, after the broadcast that hid the mark).
    async def finished() -> dict | None:
        view = await _admin_get(hub, f"/api/recordings/{rid}")
        return view if any(f["kind"] == "timeline" for f in view["files"]) else None

    view = await wait_until(finished, timeout=20, interval=0.2)
    timeline_file = next(f for f in view["files"] if f["kind"] == "timeline")
    entries = [json.loads(line) for line in (await _admin_get(hub, timeline_file["url"])).splitlines()]
    (granted,) = [e for e in entries if e["type"] == "inquiry:granted"]
    question_file = _covering(view["files"], member["id"], granted["offset_s"])
    assert question_file["offset_s"] > 1.0, question_file  # else T and T − offset_s would be alike
    minutes = await _admin_get(hub, f"/api/meetings/{mid}/minutes")
    (segment,) = minutes["topics"][0]["segments"]
    assert segment["kind"] == "question" and segment["recording"]["file"] == question_file["name"]

    # The chair's panel: the recording, finished, with the member's file; open it.
    library = cp.locator('.panel[data-panel="library"]')
    await expect(library.locator(".panel-title")).to_have_text("录像与纪要")
    item = library.locator(f'.rec-list li[data-recording="{rid}"]')
    await expect(item).to_have_attribute("data-state", "done")
    await expect(item).to_contain_text("1 个视频文件")
    await expect(item).to_contain_text("李委员")
    await item.locator("[data-action=rec-open]").click()
    viewer = library.locator(f'.rec-viewer[data-recording="{rid}"]')
    await expect(viewer.locator(".rec-person")).to_have_value(member["id"])
    await expect(viewer.locator(".rec-person option")).to_have_text(["李委员"])
    entry = viewer.locator('.rec-entry[data-type="inquiry:granted"]')
    await expect(entry).to_contain_text("提问：李委员（市人大常委会） · 臭氧污染治理")
    await expect(viewer.locator('.rec-entry[data-type="inquiry:topic_opened"]')).to_contain_text("议题：臭氧污染治理")
    await expect(viewer.locator('.rec-entry[data-type="state"]')).to_contain_text("开始录制")
    box = await entry.bounding_box()
    assert box["height"] >= 44  # a finger's target
    await cp.evaluate(WATCH_SEEKS)

    # A timeline entry: the speaker's file, at T − offset_s.
    file, at = await _landing(cp, entry.click)
    assert file == question_file["name"]
    assert abs(at - (granted["offset_s"] - question_file["offset_s"])) < 0.5, (at, granted, question_file)
    # The recording's start: time 0 of the file on screen.
    file, at = await _landing(cp, viewer.locator('.rec-entry[data-type="state"]').click)
    assert file == question_file["name"] and abs(at) < 0.5, (file, at)
    # A minutes entry: its file at its file_offset_s.
    row = viewer.locator(f'.rec-minutes li[data-kind="question"][data-speaker="{member["id"]}"]')
    await expect(row).to_contain_text("提问 · 李委员")
    file, at = await _landing(cp, row.locator("[data-action=rec-jump]").click)
    assert file == segment["recording"]["file"]
    assert abs(at - segment["recording"]["file_offset_s"]) < 0.5, (at, segment)
    # It plays from there: frames of the recorded file are decoded.
    await cp.wait_for_function("document.querySelector('.rec-video').getVideoPlaybackQuality().totalVideoFrames > 5",
                               timeout=15000)

    # The export: a progress bar while it is made, then a download link that serves the MP4.
    await cp.evaluate(WATCH_EXPORT)
    await viewer.locator("[data-action=rec-export]").click()
    download = viewer.locator(".rec-export a[download]")
    await expect(download).to_have_text("下载合成录像", timeout=120_000)
    seen = await cp.evaluate("window.exportStates")
    assert {"queued", "running"} & set(seen) and seen[-1] == "done", seen
    got = await cp.evaluate("""async (a) => {
      const r = await fetch(a.href, {headers: {Range: 'bytes=0-15'}});
      return [r.status, r.headers.get('content-type')];
    }""", await download.element_handle())
    assert got == [206, "video/mp4"], got

    # The printable minutes open in a new window from a blob: no token in any URL.
    async with cp.context.expect_page() as opened:
        await library.locator("[data-action=print-minutes]").click()
    printed = await opened.value
    await expect(printed.locator("body")).to_contain_text("臭氧污染治理")
    assert printed.url.startswith("blob:") and chair["token"] not in printed.url
    await cp.screenshot(path="/tmp/recordings-chair.png", full_page=True)  # for a human look, not asserted

    # In English: the panel and its entries follow the switch.
    await cp.locator('[data-lang="en"]').click()
    await expect(library.locator(".panel-title")).to_have_text("Recordings & minutes")
    await expect(entry).to_contain_text("Question: 李委员")
    await expect(toggle).to_have_text("Start recording")

    for page in (cp, mp):
        await page.context.close()


async def test_a_recording_stopped_by_a_write_error_tells_chair_and_clerk(sqlite_hub, browser):
    """The path the recorder takes when a write fails (disk full): the
    recording stops with `error`, every mark goes, and the operators read why."""
    hub = sqlite_hub
    mid = await hub.meeting("常委会会议")
    chair = await hub.participant(mid, "王主任", "chair")
    clerk = await hub.participant(mid, "周干事", "clerk")
    member = await hub.participant(mid, "李委员", "member")
    cp, kp, mp = [await _open(browser, hub, who["token"]) for who in (chair, clerk, member)]

    await cp.locator("[data-action=recording-toggle]").click()
    for page in (cp, kp, mp):
        await expect(page.locator(".rec-mark")).to_be_visible()
    (rec,) = await _admin_get(hub, f"/api/meetings/{mid}/recordings")
    error = {"code": "io", "message": "录制写入失败，录制已停止 (write failed: No space left on device)"}
    await hub.hub.recordings.stop_recording(mid, None, error=error, recording_id=rec["id"])

    for page in (cp, kp, mp):
        await expect(page.locator(".rec-mark")).to_be_hidden()
    for page in (cp, kp):
        alert = page.locator(".rec-error[role=alert]")
        await expect(alert).to_be_visible()
        await expect(alert).to_have_text(f"录制已停止：{error['message']}")
        item = page.locator(f'.rec-list li[data-recording="{rec["id"]}"]')
        await expect(item).to_have_attribute("data-state", "error")
    await expect(mp.locator(".rec-error")).to_have_count(0)
    # A late joiner's page learns it from state:sync too.
    lp = await _open(browser, hub, clerk["token"])
    await expect(lp.locator(".rec-error[role=alert]")).to_contain_text("No space left on device")
    for page in (cp, kp, mp, lp):
        await page.context.close()
