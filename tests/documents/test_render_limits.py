"""Rendering under limits: a page that inflates or draws forever is refused, the hub stays small.

pdfium runs in worker processes capped in memory and time; these tests
upload hostile PDFs through the real REST API of a real hub (running in this
process, so this process's RSS is the hub's) and read the workers from /proc.
"""
from __future__ import annotations

import asyncio
import hashlib
import os
import time
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from sessions.identity import TokenService
from tests.conftest import SECRET, HubUnderTest, make_settings
from tests.documents.pdfs import make_inflating_pdf, make_pdf, make_slow_pdf
from tests.documents.util import get_page, page_image, upload
from tests.helpers import ServeProcess
from web.app import create_app

MiB = 1024 * 1024


def rss_bytes(pid: int | str = "self") -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def render_children(parent: int | None = None) -> list[int]:
    """Live processes whose parent is `parent` (this one) and that run the render worker."""
    parent = parent or os.getpid()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue  # gone meanwhile
        # State and ppid are the fields after the parenthesised command name.
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if int(ppid) == parent and state != "Z" and b"render_worker" in cmdline:
            found.append(int(entry.name))
    return found


async def start_hub(tmp_path: Path, **settings) -> HubUnderTest:
    config = make_settings(tmp_path)
    for name, value in settings.items():
        setattr(config, name, value)
    client = TestClient(TestServer(create_app(config)))
    await client.start_server()
    return HubUnderTest(client, TokenService(SECRET))


@pytest.fixture
async def hubs():
    """Hubs started by a test with its own limits; closed after it, even when it fails."""
    started: list[HubUnderTest] = []
    yield started
    for hut in started:
        await hut.client.close()


async def _meeting_with_chair(hut: HubUnderTest) -> tuple[str, str]:
    mid = await hut.meeting()
    chair = await hut.participant(mid, "主任", "chair")
    return mid, chair["token"]


async def _share(hut: HubUnderTest, mid: str, token: str, pdf: bytes) -> str:
    status, body = await upload(hut, mid, token, pdf)
    assert status == 201, body
    return body["id"]


async def test_inflating_page_is_refused_and_the_hub_stays_small(hubs, tmp_path):
    hut = await start_hub(tmp_path)  # the default limits: 512 MiB, 20 s a page
    hubs.append(hut)
    mid, chair = await _meeting_with_chair(hut)
    # Warm up first (a worker, the Pillow pool, the routes): what follows
    # measures the hostile page, not the first render of the process.
    normal = await _share(hut, mid, chair, make_pdf(2))
    await page_image(hut, normal, 1, chair)

    bomb = make_inflating_pdf(100)
    assert len(bomb) < 300_000
    before = rss_bytes()
    started = time.monotonic()
    did = await _share(hut, mid, chair, bomb)  # a page count does not draw: accepted
    resp = await get_page(hut, did, 1, chair)
    gave_up_s = time.monotonic() - started
    body = await resp.json()
    assert resp.status == 413, body
    assert body["error"]["code"] == "too_large"
    assert body["error"]["message"].startswith("page 1 could not be rendered within limits"), body
    grown = rss_bytes() - before
    print(f"\nhub RSS {before / MiB:.0f} MiB before, {(before + grown) / MiB:.0f} MiB after; gave up in {gave_up_s:.1f} s")
    assert grown < 100 * MiB, f"the hub grew by {grown / MiB:.0f} MiB"
    # The worker that blew up is gone; those left are small.
    for pid in render_children():
        assert rss_bytes(pid) < 200 * MiB, f"render worker {pid} still holds {rss_bytes(pid) / MiB:.0f} MiB"

    # Asked again: refused at once, without burning a worker's budget again.
    started = time.monotonic()
    again = await get_page(hut, did, 1, chair)
    assert again.status == 413 and time.monotonic() - started < 2.0

    # The pool recovered: a normal paper renders.
    other = await _share(hut, mid, chair, make_pdf(3, label="Recovered"))
    image = await page_image(hut, other, 3, chair)
    assert image.width == 1600


async def test_page_that_draws_too_long_times_out(hubs, tmp_path):
    hut = await start_hub(tmp_path, render_page_seconds=3.0)
    hubs.append(hut)
    mid, chair = await _meeting_with_chair(hut)
    normal = await _share(hut, mid, chair, make_pdf(1))
    await page_image(hut, normal, 1, chair)  # a worker runs: its start is not the page's time

    did = await _share(hut, mid, chair, make_slow_pdf(levels=6))  # ~40 s of drawing unlimited
    started = time.monotonic()
    resp = await get_page(hut, did, 1, chair)
    elapsed = time.monotonic() - started
    body = await resp.json()
    assert resp.status == 413, body
    assert body["error"] == {"code": "too_large", "message": "page 1 could not be rendered within limits (it needed more than 3 s)"}
    print(f"\nslow page refused after {elapsed:.1f} s (limit 3 s)")
    assert elapsed < 15.0, f"gave up after {elapsed:.1f} s"

    other = await _share(hut, mid, chair, make_pdf(2, label="After"))
    assert (await page_image(hut, other, 2, chair)).width == 1600


async def test_closing_the_hub_leaves_no_render_process(tmp_path):
    hut = await start_hub(tmp_path, render_workers=2)
    try:
        mid, chair = await _meeting_with_chair(hut)
        did = await _share(hut, mid, chair, make_pdf(4))
        # Two pages at once: both workers start.
        await asyncio.gather(page_image(hut, did, 3, chair), page_image(hut, did, 4, chair))
        pids = hut.hub.documents.renderer.pool.pids
        assert pids and set(pids) <= set(render_children())
        # A hostile page is being rendered ahead (after its upload) when the hub closes.
        slow = make_slow_pdf(levels=6)
        await _share(hut, mid, chair, slow)
        renderer = hut.hub.documents.renderer
        async with asyncio.timeout(10):
            while ("plain", hashlib.sha256(slow).hexdigest(), 1) not in renderer._inflight:
                await asyncio.sleep(0.01)
    finally:
        await hut.client.close()
    assert render_children() == []
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists(), f"render worker {pid} outlived the hub"


def _alive(pid: int) -> bool:
    """Running (not gone, not a zombie waiting for a reaper)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.multiprocess
@pytest.mark.parametrize("stop", ["terminate", "kill"])
async def test_a_stopped_serve_process_leaves_no_render_worker(tmp_path, stop):
    """Graceful stop reaps the workers; SIGKILL of the hub kills them too (parent-death signal)."""
    node = ServeProcess(data_dir=tmp_path / "node", secret=SECRET)
    await node.start()
    try:
        async with aiohttp.ClientSession(base_url=node.url) as http:
            # A session with the node's base URL serves the helpers as a TestClient does.
            hut = HubUnderTest(http, TokenService(SECRET))
            mid, chair = await _meeting_with_chair(hut)
            did = await _share(hut, mid, chair, make_pdf(2))
            await page_image(hut, did, 1, chair)
        workers = render_children(node.proc.pid)
        assert workers, "the page was rendered, so a worker runs"
    finally:
        await node.stop(kill=stop == "kill")
    async with asyncio.timeout(10):
        while any(_alive(pid) for pid in workers):
            await asyncio.sleep(0.05)
