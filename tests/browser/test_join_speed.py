"""Fast to the picture (issue 13, item 6; figures in bench/join.py): the page
fetches its modules at once (modulepreload), and asks for media in parallel
with its first state:sync instead of after it."""
import re
from pathlib import Path

import pytest
from playwright.async_api import expect

STATIC = Path(__file__).resolve().parents[2] / "web" / "static"


def test_index_preloads_the_shell_and_the_media_feature():
    """Every module of the shell and the media feature (on the way to the
    picture) is preloaded, and every preload names a file that exists. Other
    features may be preloaded too; one that is not still loads, a little later
    (adding a feature stays adding one file)."""
    html = (STATIC / "index.html").read_text(encoding="utf-8")
    preloaded = set(re.findall(r'<link rel="modulepreload" href="/static/(js/[^"]+)">', html))
    shell = {p.relative_to(STATIC).as_posix() for p in (STATIC / "js").glob("*.js")} - {"js/app.js"}
    assert shell | {"js/features/media.js"} <= preloaded
    assert all((STATIC / path).is_file() for path in preloaded), preloaded


@pytest.mark.browser
async def test_media_subscribe_goes_out_before_the_first_sync_is_answered(sqlite_hub, browser):
    mid = await sqlite_hub.meeting("入会速度")
    member = await sqlite_hub.participant(mid, "委员", "member")
    page = await browser.new_page()
    frames: list[tuple[str, str]] = []

    def watch(ws):
        ws.on("framesent", lambda payload: frames.append(("sent", payload)))
        ws.on("framereceived", lambda payload: frames.append(("received", payload)))

    page.on("websocket", watch)
    try:
        await page.goto(f"{sqlite_hub.url}/join?token={member['token']}", wait_until="domcontentloaded")
        await expect(page.locator("body.is-ready")).to_have_count(1, timeout=15000)
        texts = [(way, p) for way, p in frames if isinstance(p, str)]
        sync = next(i for i, (way, p) in enumerate(texts) if way == "sent" and '"state:sync"' in p)
        ack_id = re.match(r"42/meeting,(\d+)\[", texts[sync][1]).group(1)
        answered = next(i for i, (way, p) in enumerate(texts)
                        if way == "received" and p.startswith(f"43/meeting,{ack_id}["))
        subscribe = next(i for i, (way, p) in enumerate(texts) if way == "sent" and '"media:subscribe"' in p)
        assert subscribe < answered, texts[:12]
    finally:
        await page.close()
