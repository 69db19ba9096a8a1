"""The browser shell in headless Chromium against a real hub.

What a participant sees on opening a join link: the meeting, who they are,
the roster grouped by site level and live presence; the language switch; the
refusal of a bad link; seq-gap re-sync and reconnection; the feature contract.
"""
from __future__ import annotations

import json

import pytest
from playwright.async_api import Page, expect

from sessions.roles import Role
from tests.helpers import wait_until

pytestmark = pytest.mark.browser

TITLE = "城市环境治理专题询问"
SCREENSHOT = "/tmp/shell.png"


async def build_meeting(hub) -> dict:
    """Sites of every kind and one participant in each group (one without a site)."""
    city = await hub.site("市人大常委会会议厅", "city")
    district = await hub.site("东城区", "district", city["id"])
    township = await hub.site("东湖街道", "township", district["id"])
    station = await hub.site("东湖代表联络站", "station", township["id"])
    department = await hub.site("市生态环境局", "department", city["id"])
    mid = await hub.meeting(TITLE)
    people = {
        "chair": await hub.participant(mid, "王主任", "chair", city["id"]),
        "member": await hub.participant(mid, "李委员", "member", district["id"]),
        "township": await hub.participant(mid, "周代表", "deputy", township["id"]),
        "deputy": await hub.participant(mid, "张代表", "deputy", station["id"]),
        "respondent": await hub.participant(mid, "赵局长", "respondent", department["id"]),
        "observer": await hub.participant(mid, "陈列席", "observer"),
    }
    return {"mid": mid, "member_site": district["id"], **people}


def join_url(hub, token: str) -> str:
    return f"{hub.url}/join?token={token}"


def person(page: Page, participant_id: str):
    return page.locator(f'li.person[data-participant-id="{participant_id}"]')


def group(page: Page, kind: str):
    return page.locator(f'section.roster-group[data-group="{kind}"]')


class StateSyncCounter:
    """Counts the state:sync calls the page sends over its WebSocket."""

    def __init__(self, page: Page) -> None:
        self.count = 0
        page.on("websocket", self._watch)

    def _watch(self, ws) -> None:
        ws.on("framesent", self._frame)

    def _frame(self, payload) -> None:
        if isinstance(payload, str) and '"state:sync"' in payload:
            self.count += 1


def watch_errors(page: Page) -> list[str]:
    """Uncaught exceptions and console errors of the page, kept on `page.errors`."""
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    page.on("console", lambda msg: errors.append(f"console: {msg.text}") if msg.type == "error" else None)
    page.errors = errors  # type: ignore[attr-defined]
    return errors


async def only_features(page: Page, modules: dict[str, str]) -> None:
    """Serve the page this feature list instead of the real folder's (the
    colleagues' features are not what a shell test is about)."""
    urls = [f"/static/test/{name}.js" for name in modules]
    await page.route(
        "**/client/features",
        lambda route: route.fulfill(content_type="application/json", body=json.dumps(urls)),
    )

    def serve(source: str):
        return lambda route: route.fulfill(content_type="text/javascript", body=source)

    for name, source in modules.items():
        await page.route(f"**/static/test/{name}.js", serve(source))


async def open_page(browser, url: str, viewport=None, features: dict[str, str] | None = None) -> Page:
    """A page on `url`; `features=None` loads the real feature modules."""
    page = await browser.new_page(viewport=viewport or {"width": 1280, "height": 800})
    watch_errors(page)
    if features is not None:
        await only_features(page, features)
    await page.goto(url, wait_until="domcontentloaded")
    return page


async def test_join_link_shows_meeting_roster_and_live_presence(sqlite_hub, browser, clients):
    m = await build_meeting(sqlite_hub)
    # With the real feature modules loaded: the shell must hold up next to them.
    page = await open_page(browser, join_url(sqlite_hub, m["chair"]["token"]))

    await expect(page.locator("#meeting-title")).to_have_text(TITLE)
    await expect(page.locator("#me-name")).to_have_text("王主任")
    await expect(page.locator("#me-role")).to_have_text("主持人")
    assert await page.evaluate("document.documentElement.lang") == "zh-CN"
    # The token left the address bar but stays in this tab's storage.
    assert "token" not in page.url
    assert await page.evaluate("sessionStorage.getItem('plenary.token')") == m["chair"]["token"]

    # Grouped by site level, in order, with the Chinese names and counts.
    names = await page.locator(".roster-group-name").all_text_contents()
    assert names == ["市级", "区级", "乡镇", "代表联络站", "政府部门", "未指定"]
    await expect(group(page, "city").locator(".roster-count")).to_have_text("1/1")  # the chair, online
    await expect(group(page, "station").locator(".roster-count")).to_have_text("0/1")
    await expect(page.locator("#roster-summary")).to_have_text("1/6 在线")
    await expect(person(page, m["deputy"]["id"]).locator(".role-badge")).to_have_text("代表")
    await expect(person(page, m["respondent"]["id"]).locator(".role-badge")).to_have_text("答询部门")
    await expect(person(page, m["observer"]["id"]).locator(".role-badge")).to_have_text("列席")
    await expect(person(page, m["chair"]["id"])).to_have_attribute("data-online", "true")
    await expect(person(page, m["deputy"]["id"])).to_have_attribute("data-online", "false")

    # A deputy at the liaison station connects: their dot goes online live.
    deputy = await sqlite_hub.connect(m["deputy"]["token"])
    clients.append(deputy)
    await expect(person(page, m["deputy"]["id"])).to_have_attribute("data-online", "true")
    await expect(group(page, "station").locator(".roster-count")).to_have_text("1/1")
    await expect(page.locator("#roster-summary")).to_have_text("2/6 在线")

    # ...and offline again when they leave.
    await deputy.close()
    await expect(person(page, m["deputy"]["id"])).to_have_attribute("data-online", "false")
    await expect(group(page, "station").locator(".roster-count")).to_have_text("0/1")

    # Someone added to the meeting after the page opened appears when they join.
    late = await sqlite_hub.participant(m["mid"], "孙委员", "member", m["member_site"])
    late_client = await sqlite_hub.connect(late["token"])
    clients.append(late_client)
    await expect(person(page, late["id"])).to_have_attribute("data-online", "true")
    await expect(group(page, "district").locator(".roster-count")).to_have_text("1/2")
    await expect(page.locator("#roster-summary")).to_have_text("2/7 在线")
    await expect(page.locator("#conn")).to_have_attribute("data-status", "online")

    await page.screenshot(path=SCREENSHOT, full_page=True)
    await page.close()


async def test_language_switch_changes_labels_and_is_remembered(sqlite_hub, browser):
    m = await build_meeting(sqlite_hub)
    page = await open_page(browser, join_url(sqlite_hub, m["member"]["token"]), features={})
    await expect(page.locator("#me-role")).to_have_text("委员")

    await page.get_by_role("button", name="English").click()
    await expect(page.locator("#me-role")).to_have_text("Member")
    assert await page.evaluate("document.documentElement.lang") == "en"
    await expect(group(page, "station").locator(".roster-group-name")).to_have_text("Liaison station")
    await expect(group(page, "none").locator(".roster-group-name")).to_have_text("Unassigned")
    await expect(person(page, m["chair"]["id"]).locator(".role-badge")).to_have_text("Chair")
    await expect(page.locator("#roster-heading")).to_have_text("Participants")
    await expect(page.locator("#roster-summary")).to_have_text("1/6 online")
    await expect(page.locator("#conn .conn-text")).to_have_text("Connected")
    await expect(page.get_by_role("button", name="English")).to_have_attribute("aria-pressed", "true")

    # A reload (no token in the address any more) rejoins from sessionStorage, still in English.
    await page.reload(wait_until="domcontentloaded")
    await expect(page.locator("#me-role")).to_have_text("Member")
    assert await page.evaluate("document.documentElement.lang") == "en"

    await page.get_by_role("button", name="中文").click()
    await expect(page.locator("#me-role")).to_have_text("委员")
    await expect(group(page, "city").locator(".roster-group-name")).to_have_text("市级")
    assert await page.evaluate("localStorage.getItem('plenary.lang')") == "zh-CN"
    assert page.errors == []
    await page.close()


async def test_refused_links_show_the_servers_reason(sqlite_hub, browser):
    m = await build_meeting(sqlite_hub)
    page = await open_page(browser, join_url(sqlite_hub, "not-a-token"), features={})
    await expect(page.locator("#refusal")).to_be_visible()
    await expect(page.locator("#refusal-title")).to_have_text("无法进入会议")
    await expect(page.locator("#refusal-reason")).to_contain_text("会议链接无效")
    await expect(page.locator("#refusal-reason")).to_contain_text("token is invalid")
    await expect(page.locator("#meeting-title")).to_have_text("人大会议与专题询问")
    await expect(page.locator(".layout")).to_be_hidden()
    await expect(page.locator("#conn")).to_have_attribute("data-status", "refused")

    expired = sqlite_hub.hub.tokens.issue(m["member"]["id"], Role.MEMBER, m["mid"], ttl_s=-60)
    await page.goto(join_url(sqlite_hub, expired), wait_until="domcontentloaded")
    await expect(page.locator("#refusal-reason")).to_contain_text("会议链接已过期")
    await expect(page.locator("#refusal-reason")).to_contain_text("token expired")
    await page.get_by_role("button", name="English").click()
    await expect(page.locator("#refusal-title")).to_have_text("Cannot join the meeting")
    await expect(page.locator("#refusal-reason")).to_contain_text("The join link has expired")
    assert page.errors == []
    await page.close()

    # No token at all (a fresh tab on /): says to use the invitation link.
    page = await open_page(browser, f"{sqlite_hub.url}/", features={})
    await expect(page.locator("#refusal")).to_be_visible()
    await expect(page.locator("#refusal-title")).to_contain_text("缺少会议链接")
    assert page.errors == []
    await page.close()


async def test_seq_gap_resyncs_and_reconnect_resyncs(sqlite_hub, browser, clients):
    m = await build_meeting(sqlite_hub)
    page = await browser.new_page()
    watch_errors(page)
    await only_features(page, {})
    syncs = StateSyncCounter(page)
    await page.goto(join_url(sqlite_hub, m["chair"]["token"]), wait_until="domcontentloaded")
    await expect(person(page, m["chair"]["id"])).to_have_attribute("data-online", "true")
    assert syncs.count == 1

    # No gap: the next roster broadcast is applied without a sync.
    member = await sqlite_hub.connect(m["member"]["token"])
    clients.append(member)
    await expect(person(page, m["member"]["id"])).to_have_attribute("data-online", "true")
    assert syncs.count == 1

    # An event the page never receives, then a broadcast: the gap makes it re-sync.
    await sqlite_hub.hub.record(m["mid"], "test:unseen", {}, publish=False)
    deputy = await sqlite_hub.connect(m["deputy"]["token"])
    clients.append(deputy)
    await expect(person(page, m["deputy"]["id"])).to_have_attribute("data-online", "true")
    await wait_until(lambda: syncs.count >= 2)
    await page.wait_for_function(
        "window.plenaryShell.state.seq >= 0 && !window.plenaryShell.connection.syncing"
    )
    assert syncs.count == 2

    # The network goes away and the transport drops: the page says it is reconnecting...
    await page.context.set_offline(True)
    await page.evaluate("window.plenaryShell.connection.socket.io.engine.close()")
    await expect(page.locator("#conn")).to_have_attribute("data-status", "reconnecting")
    await expect(page.locator("#notice")).to_contain_text("连接中断，正在重连")
    # ...and when it is back, socket.io-client reconnects by itself and the shell syncs again.
    await page.context.set_offline(False)
    await wait_until(lambda: syncs.count >= 3, timeout=15)
    await expect(page.locator("#conn")).to_have_attribute("data-status", "online")
    await expect(page.locator("#notice")).to_be_hidden()
    await expect(person(page, m["chair"]["id"])).to_have_attribute("data-online", "true")
    assert page.errors == []
    await page.close()


PROBE_FEATURE = """
export default {
  id: "probe",
  strings: { "zh-CN": { title: "探针", hello: "你好，{name}" }, en: { title: "Probe", hello: "Hello, {name}" } },
  mount(ctx) {
    const body = ctx.panel("main", "title");
    const hello = document.createElement("p");
    hello.className = "hello";
    hello.textContent = ctx.t("hello", { name: ctx.me.name });
    const role = document.createElement("p");
    role.className = "role";
    role.dataset.t = "role:" + ctx.me.role;
    role.textContent = ctx.roleLabel(ctx.me.role);
    const seen = document.createElement("p");
    seen.className = "seen";
    body.append(hello, role, seen);
    ctx.on("roster", (data) => { seen.textContent = "roster:" + data.participants.filter(p => p.online).length; });
    const stage = ctx.stage();
    stage.className += " probe-stage";
    stage.textContent = ctx.meeting.title;
    window.probe = { syncs: 0, lang: null, state: ctx.state.seq, seen: [] };
    ctx.on("test:ping", (data) => { window.probe.seen.push(data); });
    ctx.call("no:such-event", {}).then((ack) => { window.probe.refused = ack; });
    ctx.api("/api/meetings/" + ctx.meeting.id).then(r => r.json()).then(b => { window.probe.api = b.title; });
  },
  sync(ctx, state) { window.probe.syncs += 1; },
  onLanguage(ctx, lang) { window.probe.lang = lang; document.querySelector(".hello").textContent = ctx.t("hello", { name: ctx.me.name }); },
};
"""


async def test_feature_modules_get_the_documented_context(sqlite_hub, browser, clients):
    m = await build_meeting(sqlite_hub)
    # The probe stands in for a feature file (the real features/ folder is the colleagues').
    page = await open_page(browser, join_url(sqlite_hub, m["member"]["token"]), features={"probe": PROBE_FEATURE})

    panel = page.locator('section.panel[data-feature="probe"]')
    await expect(panel.locator(".panel-title")).to_have_text("探针")
    await expect(panel.locator(".hello")).to_have_text("你好，李委员")
    await expect(panel.locator(".role")).to_have_text("委员")
    await expect(page.locator(".stage-item.probe-stage")).to_have_text(TITLE)
    await expect(page.locator(".empty-hint")).to_be_hidden()
    await page.wait_for_function("window.probe && window.probe.refused && window.probe.api")
    probe = await page.evaluate("window.probe")
    assert probe["refused"]["ok"] is False and probe["refused"]["error"]["code"] == "invalid"
    assert probe["api"] == TITLE

    # Broadcasts reach the module's ctx.on handlers.
    chair = await sqlite_hub.connect(m["chair"]["token"])
    clients.append(chair)
    await expect(panel.locator(".seen")).to_have_text("roster:2")

    # Ordering as the page sees it (server-sent test broadcasts on the meeting's room):
    # a broadcast older than what the page holds is dropped; unsequenced ones pass.
    last = await page.evaluate("window.plenaryShell.connection.lastSeq")
    room = {"room": f"m:{m['mid']}", "namespace": "/meeting"}
    await sqlite_hub.hub.sio.emit("test:ping", {"seq": last, "n": "stale"}, **room)
    await sqlite_hub.hub.sio.emit("test:ping", {"n": "unsequenced"}, **room)
    logged = await sqlite_hub.hub.record(m["mid"], "test:ping", {"n": "next"})
    assert logged.seq == last + 1
    await page.wait_for_function("window.probe.seen.some((d) => d.n === 'next')")
    assert [d["n"] for d in await page.evaluate("window.probe.seen")] == ["unsequenced", "next"]
    assert await page.evaluate("window.probe.syncs") == 0  # no gap, no re-sync

    # The language switch relabels the panel heading, data-t labels, and calls onLanguage.
    await page.get_by_role("button", name="English").click()
    await expect(panel.locator(".panel-title")).to_have_text("Probe")
    await expect(panel.locator(".role")).to_have_text("Member")
    await expect(panel.locator(".hello")).to_have_text("Hello, 李委员")

    # A seq gap re-syncs and calls the module's sync hook.
    await sqlite_hub.hub.record(m["mid"], "test:unseen", {}, publish=False)
    deputy = await sqlite_hub.connect(m["deputy"]["token"])
    clients.append(deputy)
    await page.wait_for_function("window.probe.syncs >= 1")
    await expect(panel.locator(".seen")).to_have_text("roster:3")
    assert page.errors == []
    await page.close()


async def test_narrow_screen_collapses_the_roster(sqlite_hub, browser, clients):
    m = await build_meeting(sqlite_hub)
    page = await open_page(
        browser, join_url(sqlite_hub, m["deputy"]["token"]), viewport={"width": 420, "height": 800}, features={}
    )
    await expect(page.locator("#me-role")).to_have_text("代表")
    toggle = page.locator("#roster-toggle")
    await expect(toggle).to_be_visible()
    await expect(page.locator("#roster-list")).to_be_hidden()
    box = await toggle.bounding_box()
    assert box and box["height"] >= 44 and box["width"] >= 44
    await toggle.click()
    await expect(page.locator("#roster-list")).to_be_visible()
    await expect(person(page, m["deputy"]["id"])).to_have_attribute("data-online", "true")
    await expect(toggle).to_have_attribute("aria-expanded", "true")

    # A long group folds on a tap and stays folded when presence changes redraw the roster.
    stations = group(page, "station")
    await stations.locator(".roster-group-toggle").click()
    await expect(person(page, m["deputy"]["id"])).to_be_hidden()
    chair = await sqlite_hub.connect(m["chair"]["token"])
    clients.append(chair)
    await expect(group(page, "city").locator(".roster-count")).to_have_text("1/1")
    await expect(person(page, m["deputy"]["id"])).to_be_hidden()
    await expect(stations.locator(".roster-group-toggle")).to_have_attribute("aria-expanded", "false")
    await stations.locator(".roster-group-toggle").click()
    await expect(person(page, m["deputy"]["id"])).to_be_visible()
    assert page.errors == []
    await page.close()
