"""Fast to the picture: how long from opening a link to the other side's video?

    .venv/bin/python bench/join.py [--runs 10] [--no-accept] [--chromium /usr/bin/chromium]

Starts one `plenary serve` on 127.0.0.1 (SQLite in a temporary data dir) and
Debian's headless Chromium (Playwright, the test suite's arguments: fake
camera and mic, loopback ICE). Two measurements, each `--runs` times:

- link → first remote frame: a chair's page is already publishing its fake
  camera; each run opens a fresh member's join link in a new browser context
  (nothing cached, as a first visit) and records, inside the page, with
  performance.now() (milliseconds since the page's navigation started):
  DOMContentLoaded (end of its handlers) and the first frame of the chair's
  tile presented by the <video> element (requestVideoFrameCallback). The
  shell's own performance marks (plenary:*) are printed as a breakdown.
- accept → first remote frame: a district office's terminal calls a liaison
  station's terminal (as tests/sites/test_terminal_browser.py does); once the
  caller's meeting page publishes its camera, the station's "accept" is
  clicked, and the time from that click (wall clock of the browser, the
  same machine) to the first frame of the caller's tile on the meeting page
  the accept opened (#media=on: it also starts the station's own camera).

Prints the machine, the commit, the load average before and after (the
figures move a lot on a shared 2-core machine), every run, and median with
range; a page that shows no frame in 30 s is counted as a failure, not as a
time. Everything talks to 127.0.0.1 only; the server and browser are stopped
at the end.

To compare two versions of the client, run it from two copies of the tree
that differ only in web/static (the server the bench starts is the copy's
own), alternating between them:

    git archive HEAD | tar -x -C /tmp/after
    git archive HEAD | tar -x -C /tmp/before && rm -r /tmp/before/web/static
    git archive OLD web/static | tar -x -C /tmp/before
    cp media/_fanout.abi3.so /tmp/before/media/; cp media/_fanout.abi3.so /tmp/after/media/
    (cd /tmp/before && /work/main/.venv/bin/python bench/join.py --no-accept)   # then /tmp/after, …
"""
from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402

from sessions.identity import TokenService  # noqa: E402
from tests.conftest import CHROMIUM_ARGS  # noqa: E402
from tests.helpers import ServeProcess  # noqa: E402

SECRET = "join-bench-secret-" + "x" * 40

# Installed before any script of the page runs: records the first presented
# frame of each participant's tile (the shell's tiles carry data-participant),
# and the accept click of a terminal page, in the page's own clock.
PROBE = """
(() => {
  const frames = {};
  window.__bench = { frames, accept: null };
  const watch = (video) => {
    if (video.__benchWatched || !video.requestVideoFrameCallback) return;
    video.__benchWatched = true;
    video.requestVideoFrameCallback((now) => {
      const tile = video.closest("[data-participant]");
      const id = tile ? tile.dataset.participant : "?";
      if (!(id in frames)) frames[id] = performance.now();
    });
  };
  new MutationObserver(() => document.querySelectorAll("video").forEach(watch))
    .observe(document, { subtree: true, childList: true });
  document.addEventListener("click", (event) => {
    if (event.target.closest && event.target.closest("[data-action=accept]")) {
      window.__bench.accept = performance.timeOrigin + performance.now();
    }
  }, true);
})();
"""

DOM_READY = """() => {
  const nav = performance.getEntriesByType("navigation")[0];
  return nav ? nav.domContentLoadedEventEnd : null;
}"""

MARKS = """() => Object.fromEntries(performance.getEntriesByType("mark")
  .filter((m) => m.name.startsWith("plenary:")).map((m) => [m.name.slice(8), Math.round(m.startTime)]))"""


def machine() -> str:
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}, {mem}, Linux {platform.release()}, Python {platform.python_version()}"


def commit() -> str:
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "web/static"], cwd=ROOT,
                               capture_output=True, text=True).stdout
        return rev.strip() + (" (web/static modified)" if dirty.strip() else "")
    except OSError:
        return "?"


def summary(label: str, values: list[float], failed: int = 0) -> str:
    lost = f", {failed} without a frame in 30 s" if failed else ""
    if not values:
        return f"{label}: no result{lost}"
    return (f"{label}: median {statistics.median(values) / 1000:.3f} s, "
            f"range {min(values) / 1000:.3f}–{max(values) / 1000:.3f} s (n={len(values)}{lost})")


def load() -> str:
    try:
        return " ".join(open("/proc/loadavg").read().split()[:3])
    except OSError:
        return "?"


class Admin:
    def __init__(self, url: str) -> None:
        self.url = url
        self.http = aiohttp.ClientSession(headers={"Authorization": f"Bearer {TokenService(SECRET).admin_token()}"})

    async def post(self, path: str, json: dict) -> dict:
        async with self.http.post(self.url + path, json=json) as resp:
            body = await resp.json()
            assert resp.status in (200, 201), (path, resp.status, body)
            return body

    async def close(self) -> None:
        await self.http.close()


async def wait_frame(page, participant_id: str, timeout: float = 30) -> float | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            t = await page.evaluate(f"() => window.__bench && window.__bench.frames[{participant_id!r}]")
        except Exception:  # the page is still navigating (a popup goes from about:blank to the meeting)
            t = None
        if t is not None:
            return t
        await asyncio.sleep(0.05)
    return None


async def link_runs(browser, server: ServeProcess, admin: Admin, runs: int) -> None:
    meeting = await admin.post("/api/meetings", {"title": "入会速度"})
    chair = await admin.post(f"/api/meetings/{meeting['id']}/participants", {"name": "主任", "role": "chair"})
    members = [await admin.post(f"/api/meetings/{meeting['id']}/participants", {"name": f"委员{i}", "role": "member"})
               for i in range(runs + 1)]
    pub_ctx = await browser.new_context()
    publisher = await pub_ctx.new_page()
    await publisher.goto(f"{server.url}/join?token={chair['token']}", wait_until="domcontentloaded")
    await publisher.click("[data-action=start-camera]", timeout=20000)
    await publisher.wait_for_selector("[data-action=stop-camera]", timeout=20000)

    frames, ready, failed = [], [], 0
    try:
        for i, member in enumerate(members):
            ctx = await browser.new_context()
            await ctx.add_init_script(PROBE)
            page = await ctx.new_page()
            try:
                await page.goto(f"{server.url}/join?token={member['token']}", wait_until="domcontentloaded")
                first = await wait_frame(page, chair["id"])
                dom = await page.evaluate(DOM_READY)
                marks = await page.evaluate(MARKS)
            finally:
                await ctx.close()
            if first is None:
                failed += 1
                print(f"  run {i:2d}    no frame in 30 s  DOM ready {dom:5.0f} ms  marks {marks}")
                continue
            if i == 0:
                print(f"  warm-up   first frame {first:7.0f} ms  DOM ready {dom:5.0f} ms  (not counted)")
                continue
            frames.append(first)
            ready.append(dom)
            print(f"  run {i:2d}    first frame {first:7.0f} ms  DOM ready {dom:5.0f} ms  marks {marks}")
    finally:
        await pub_ctx.close()
    print(summary("link → first remote frame", frames, failed))
    print(summary("link → DOM ready (DOMContentLoaded end)", ready))


async def accept_runs(browser, server: ServeProcess, admin: Admin, runs: int) -> None:
    from playwright.async_api import expect

    city = await admin.post("/api/sites", {"name": "市人大常委会", "kind": "city"})
    district = await admin.post("/api/sites", {"name": "东城区人大", "kind": "district", "parent_id": city["id"]})
    station = await admin.post("/api/sites", {"name": "东华门代表联络站", "kind": "station",
                                              "parent_id": district["id"]})

    async def terminal(site_id: str):
        issued = await admin.post(f"/api/sites/{site_id}/terminal", {})
        url = issued["join_url"]
        ctx = await browser.new_context()
        await ctx.add_init_script(PROBE)
        page = await ctx.new_page()
        await page.goto(server.url + url[url.index("/terminal"):], wait_until="domcontentloaded")
        await expect(page.locator(".conn")).to_have_attribute("data-status", "online", timeout=20000)
        return ctx, page

    office_ctx, office = await terminal(district["id"])
    station_ctx, station_page = await terminal(station["id"])
    results, failed = [], 0
    try:
        for i in range(runs + 1):
            row = office.locator(f'.site-row[data-site-id="{station["id"]}"]')
            await expect(row).to_have_attribute("data-online", "true", timeout=20000)
            await row.click()
            async with office_ctx.expect_page() as caller_popup:
                await office.click("[data-action=call]")
            caller = await caller_popup.value
            # The caller has been waiting with its camera on by the time the station answers.
            await caller.wait_for_selector("[data-action=stop-camera]", timeout=20000)
            caller_id = await caller.evaluate("() => window.plenaryMedia.ctx.me.id")
            accept = station_page.locator(".ring [data-action=accept]")
            await accept.wait_for(timeout=20000)
            async with station_ctx.expect_page() as callee_popup:
                await accept.click()
            callee = await callee_popup.value
            try:
                await callee.wait_for_url("**/join**", wait_until="domcontentloaded", timeout=20000)
                first = await wait_frame(callee, caller_id)
                origin = await callee.evaluate("() => performance.timeOrigin")
                clicked = await station_page.evaluate("() => window.__bench.accept")
                marks = await callee.evaluate(MARKS)
                elapsed = None if first is None else origin + first - clicked
            finally:
                await callee.close()
                await caller.close()
            await asyncio.sleep(0.5)  # both meeting pages leave before the next call
            if elapsed is None:
                failed += 1
                print(f"  run {i:2d}    no frame in 30 s (marks {marks})")
                continue
            if i == 0:
                print(f"  warm-up   accept → first frame {elapsed:7.0f} ms  (not counted)")
                continue
            results.append(elapsed)
            print(f"  run {i:2d}    accept → first frame {elapsed:7.0f} ms  (page opened {origin - clicked:5.0f} ms "
                  f"after the click; marks {marks})")
    finally:
        await office_ctx.close()
        await station_ctx.close()
    print(summary("accept → first remote frame", results, failed))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--no-accept", action="store_true", help="only the join-link measurement")
    parser.add_argument("--no-link", action="store_true", help="only the accept measurement")
    parser.add_argument("--chromium", default=os.environ.get("PLENARY_CHROMIUM", "/usr/bin/chromium"))
    args = parser.parse_args()

    from playwright.async_api import async_playwright

    print(f"machine: {machine()}")
    print(f"commit:  {commit()}")
    version = subprocess.run([args.chromium, "--version"], capture_output=True, text=True).stdout.strip()
    print(f"browser: {version}, headless, loopback; plenary serve on SQLite, one worker")
    print(f"load average at the start: {load()}")
    tmp = Path(tempfile.mkdtemp(prefix="plenary-join-"))
    server = ServeProcess(data_dir=tmp / "data", secret=SECRET)
    await server.start()
    admin = Admin(server.url)
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS, headless=True)
            try:
                if not args.no_link:
                    print("link → first remote frame (a fresh context per run: nothing cached):")
                    await link_runs(browser, server, admin, args.runs)
                if not args.no_accept:
                    print("accept → first remote frame (terminal pages, office calls station):")
                    await accept_runs(browser, server, admin, args.runs)
            finally:
                await browser.close()
    finally:
        print(f"load average at the end: {load()}")
        await admin.close()
        await server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
