"""Two real Chromium pages with fake camera and mic: one publishes, the other decodes."""
import pytest

pytestmark = pytest.mark.browser

FRAMES_DECODED = """async () => {
  const media = window.plenaryMedia;
  if (!media || !media.recv) return 0;
  let frames = 0;
  (await media.recv.getStats()).forEach((r) => {
    if (r.type === "inbound-rtp" && r.kind === "video") frames += r.framesDecoded || 0;
  });
  return frames;
}"""


async def test_chromium_publisher_to_chromium_subscriber(sqlite_hub, browser):
    mid = await sqlite_hub.meeting("视频测试")
    chair = await sqlite_hub.participant(mid, "主任", "chair")
    member = await sqlite_hub.participant(mid, "委员", "member")
    ctx = await browser.new_context()
    try:
        publisher = await ctx.new_page()
        await publisher.goto(f"{sqlite_hub.url}/join?token={chair['token']}", wait_until="domcontentloaded")
        subscriber = await ctx.new_page()
        await subscriber.goto(f"{sqlite_hub.url}/join?token={member['token']}", wait_until="domcontentloaded")
        await publisher.click("[data-action=start-camera]", timeout=15000)
        # The subscriber sees the chair's tile and decodes real frames.
        await subscriber.wait_for_selector(f".vg-tile[data-participant='{chair['id']}'] video", timeout=15000)
        await subscriber.wait_for_function(f"({FRAMES_DECODED})().then(n => n > 30)", timeout=20000, polling=250)
        first = await subscriber.evaluate(FRAMES_DECODED)
        await subscriber.wait_for_function(f"({FRAMES_DECODED})().then(n => n > {first + 20})", timeout=10000,
                                           polling=250)
        tracks = sqlite_hub.hub.media.tracks(mid)
        assert {(t.participant_id, t.kind) for t in tracks} == {(chair["id"], "video"), (chair["id"], "audio")}
    finally:
        await ctx.close()
