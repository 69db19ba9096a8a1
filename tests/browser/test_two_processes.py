"""Two Chromium participants on two `plenary serve` processes (one PostgreSQL,
one Redis): each starts its fake camera, and each page shows and decodes the
other's video, piped between the processes."""
import pytest
from playwright.async_api import TimeoutError as PlaywrightTimeout

from tests.conftest import SECRET
from tests.helpers import ServeProcess
from tests.signaling.test_media_across_processes import meeting_over_rest

pytestmark = [pytest.mark.browser, pytest.mark.multiprocess]

# Video frames the page decoded from one participant: inbound-rtp stats of
# the receiving connection whose mid the hub's media:offer named as theirs
# (window.plenaryMedia.consumers: mid → {participant_id, kind, …}).
FRAMES_FROM = """async (participant) => {
  const media = window.plenaryMedia;
  if (!media || !media.recv) return 0;
  let frames = 0;
  (await media.recv.getStats()).forEach((r) => {
    if (r.type !== "inbound-rtp" || r.kind !== "video") return;
    const consumer = media.consumers.get(r.mid);
    if (consumer && consumer.participant_id === participant) frames += r.framesDecoded || 0;
  });
  return frames;
}"""


# Audio samples the page decoded from one participant (received, not concealed).
SAMPLES_FROM = FRAMES_FROM.replace('r.kind !== "video"', 'r.kind !== "audio"').replace(
    "r.framesDecoded || 0", "(r.totalSamplesReceived || 0) - (r.concealedSamples || 0)")


async def decodes(page, participant_id: str) -> None:
    """The page shows the participant's tile and decodes more and more of its
    video (frames) and audio (samples)."""
    await page.wait_for_selector(f".vg-tile[data-participant='{participant_id}'] video", timeout=20000)
    for script, start, more in ((FRAMES_FROM, 20, 20), (SAMPLES_FROM, 48000, 48000)):
        await page.wait_for_function(f"({script})({participant_id!r}).then(n => n > {start})", timeout=25000,
                                     polling=250)
        first = await page.evaluate(script, participant_id)
        await page.wait_for_function(f"({script})({participant_id!r}).then(n => n > {first + more})",
                                     timeout=15000, polling=250)


async def test_two_browsers_on_two_processes_see_each_other(tmp_path, pg_url, redis_url, browser):
    nodes = [ServeProcess(data_dir=tmp_path / f"node{i}", secret=SECRET, db_url=pg_url, redis_url=redis_url)
             for i in ("a", "b")]
    contexts = []
    try:
        for node in nodes:
            await node.start()
        chair, member = await meeting_over_rest(nodes[0].url, "跨进程视频", [("主任", "chair"), ("委员", "member")])
        pages = []
        for node, person in zip(nodes, (chair, member)):
            ctx = await browser.new_context()
            contexts.append(ctx)
            page = await ctx.new_page()
            await page.goto(f"{node.url}/join?token={person['token']}", wait_until="domcontentloaded")
            pages.append(page)
        for page in pages:
            await page.click("[data-action=start-camera]", timeout=15000)
        for page in pages:  # the button turned into "stop": each is publishing
            await page.wait_for_selector("[data-action=stop-camera]", timeout=15000)

        # Both directions: A (process a) decodes B's camera, B (process b) decodes A's.
        await decodes(pages[0], member["id"])
        await decodes(pages[1], chair["id"])
        # The far microphone may be piped in a moment after the camera (its own
        # offer): wait for both consumers rather than read them once.
        for page, other in ((pages[0], member["id"]), (pages[1], chair["id"])):
            kinds_of = ("(p) => [...window.plenaryMedia.consumers.values()].filter(c => c.participant_id === p)"
                        ".map(c => c.kind).sort().join()")
            try:
                await page.wait_for_function(f"(p) => ({kinds_of})(p) === 'audio,video'", arg=other, timeout=20000)
            except PlaywrightTimeout:
                pass  # the assertion below says what was there
            kinds = await page.evaluate(kinds_of, other)
            assert kinds == "audio,video", kinds
    finally:
        for ctx in contexts:
            await ctx.close()
        for node in nodes:
            await node.stop()
