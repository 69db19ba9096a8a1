"""The congress office's console (/console) in headless Chromium, as a new
office would use it: the first admin made with `plenary user add` (the CLI,
in a subprocess, on the test hub's data dir), sign in, import the sites and
the people (first with bad rows, reported by line, then fixed), give a
station its terminal link with a QR code and a printed sheet, create a
committee meeting, add a committee's members and a district's stations from
the directory, open the printable invitation list, and open one invitee's
join link in a second page: it joins the meeting under the invitee's name.
Also: a wrong password, signing out, and an expired session going back to
sign-in with a message."""
from __future__ import annotations

import asyncio
import re
import os
import sys
from pathlib import Path

import pytest
from playwright.async_api import expect

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
PLENARY = str(Path(sys.executable).parent / "plenary")
PASSWORD = "office-pass-2026"
TABLET = {"viewport": {"width": 1280, "height": 900}, "has_touch": True, "locale": "zh-CN"}
PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True, "locale": "zh-CN"}

SITES_BAD = """名称,类型,上级
市人大常委会,市,
东城区人大,区,市人大常委会
东华门代表联络站,联络站,东城区人大
景山代表联络站,星球,东城区人大
,联络站,东城区人大
西城区人大,区,市人大常委会
西长安街代表联络站,联络站,西城区人大
"""
SITES_GOOD = """名称,类型,上级
市人大常委会,市,
东城区人大,区,市人大常委会
东华门代表联络站,联络站,东城区人大
景山代表联络站,联络站,东城区人大
北新桥代表联络站,联络站,东城区人大
西城区人大,区,市人大常委会
西长安街代表联络站,联络站,西城区人大
"""

PEOPLE_BAD = """姓名,类别,所属站点,层级,电话,委员会,编号
张伟,委员,市人大常委会,市,13800000001,财政经济委员会,C001
李娜,委员,市人大常委会,市,13800000002,财政经济委员会,C002
王芳,代表,东华门代表联络站,区,电话没有,,D001
赵强,代表,不存在的联络站,区,13800000004,,D002
陈静,代表,景山代表联络站,区,13800000005,,D003
"""
PEOPLE_GOOD = PEOPLE_BAD.replace("电话没有", "13800000003").replace("不存在的联络站", "西长安街代表联络站") + \
    "张伟,委员,市人大常委会,市,13800000001,财政经济委员会,C001\n"  # line 7: line 2 again, a duplicate


async def plenary_user_add(data_dir: Path, name: str, password: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        PLENARY, "user", "add", name, "--admin", "--data-dir", str(data_dir),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        cwd=ROOT, env={k: v for k, v in os.environ.items() if k != "PLENARY_DB"},
    )
    out, err = await asyncio.wait_for(proc.communicate((password + "\n").encode()), 60)
    assert proc.returncode == 0, err.decode()
    return out.decode()


@pytest.fixture
async def office(sqlite_hub):
    """The test hub with its first admin, made as an office would: the CLI."""
    data_dir = sqlite_hub.hub.settings.data_dir
    said = await plenary_user_add(data_dir, "admin", PASSWORD)
    assert "admin" in said
    return sqlite_hub


async def open_console(browser, hub, viewport=TABLET):
    context = await browser.new_context(**viewport)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(f"{hub.url}/console", wait_until="domcontentloaded")
    return context, page, errors


async def sign_in(page, username="admin", password=PASSWORD):
    await page.fill("#signin-form [name=username]", username)
    await page.fill("#signin-form [name=password]", password)
    await page.click("[data-action=sign-in]")


async def import_file(page, card_title: str, name: str, text: str, *, dry_run: bool = False):
    box = page.locator(".import-box", has=page.locator("h3", has_text=card_title))
    await box.locator("input[type=file]").set_input_files(
        {"name": name, "mimeType": "text/csv", "buffer": text.encode("utf-8")})
    await box.locator("[data-action=import-check]" if dry_run else "[data-action=import]").click()
    return box


async def import_xlsx(page, card_title: str, rows: list[list[str]]):
    """Import `rows` as an Excel workbook (.xlsx), as an office saves its sheets."""
    import io

    from openpyxl import Workbook

    book = Workbook()
    for row in rows:
        book.active.append(row)
    data = io.BytesIO()
    book.save(data)
    box = page.locator(".import-box", has=page.locator("h3", has_text=card_title))
    await box.locator("input[type=file]").set_input_files({
        "name": "名单.xlsx", "buffer": data.getvalue(),
        "mimeType": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"})
    await box.locator("[data-action=import]").click()
    return box


async def confirm(page):
    dialog = page.locator("dialog#confirm")
    await expect(dialog).to_be_visible()
    await dialog.locator("[data-action=confirm-ok]").click()
    await expect(dialog).to_be_hidden()


async def test_the_page_is_served_without_caching_or_referrer(office):
    resp = await office.client.get("/console")
    assert resp.status == 200
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    assert "会务管理台" in await resp.text()


async def test_an_office_prepares_a_committee_meeting_without_a_script(office, browser):
    hub = office
    context, page, errors = await open_console(browser, hub)
    joiner_ctx = None
    try:
        # ── sign in: a wrong password is said in plain words, then the right one ──
        await expect(page.locator("#signin")).to_be_visible()
        await sign_in(page, password="not-the-password")
        await expect(page.locator("#signin-message")).to_have_text("用户名或密码不正确，请重新输入。")
        await sign_in(page)
        await expect(page.locator("#workspace")).to_be_visible()
        await expect(page.locator("#who")).to_have_text("admin · 管理员")
        stored = await page.evaluate("() => [sessionStorage.getItem('plenary.console'), localStorage.getItem('plenary.console')]")
        assert stored[0] and '"token"' in stored[0] and stored[1] is None
        for tab in ("站点", "人员", "会议", "账号"):
            await expect(page.locator(".tab", has_text=tab)).to_be_visible()

        # ── sites: a file with bad rows is refused whole, each bad row by its line ──
        await page.click('[data-tab="sites"]')
        box = await import_file(page, "导入站点表", "sites.csv", SITES_BAD)
        await expect(box.locator(".errors-table")).to_be_visible()
        await expect(box.locator(".errors-table tbody tr")).to_have_count(2)
        assert await box.locator(".errors-table td.line").all_inner_texts() == ["5", "6"]
        # In the clerk's words, not the hub's technical English.
        await expect(box.locator('.errors-table tr[data-line="5"]')).to_contain_text("类别：“星球”无法识别")
        await expect(box.locator('.errors-table tr[data-line="6"]')).to_contain_text("未填写")
        await expect(page.locator(".site-node")).to_have_count(0)  # all or nothing
        box = await import_file(page, "导入站点表", "sites.csv", SITES_GOOD)
        await expect(box.locator(".import-ok")).to_contain_text("7")
        await expect(page.locator(".site-node")).to_have_count(7)
        station = page.locator(".site-node", has=page.locator(".site-name", has_text="东华门代表联络站"))
        # The tree: a station sits deeper than its district.
        depths = await page.evaluate("""() => Object.fromEntries([...document.querySelectorAll('.site-node')]
            .map(n => [n.querySelector('.site-name').textContent, n.style.getPropertyValue('--depth').trim()]))""")
        assert depths["市人大常委会"] == "0" and depths["东城区人大"] == "1" and depths["东华门代表联络站"] == "2"

        # A terminal for the station: its link, its QR code, and a sheet to print.
        await station.locator("[data-action=issue-terminal]").click()
        link = station.locator(".terminal-link input.link-field")
        await expect(station.locator(".terminal-link")).to_be_visible()
        terminal_url = await link.input_value()
        assert "/terminal?token=" in terminal_url, terminal_url
        await expect(station.locator(".terminal-link img.qr")).to_be_visible()
        await station.locator("[data-action=print-terminal]").click()
        sheet = page.locator("#print-sheet")
        await expect(sheet).to_be_visible()
        await expect(sheet.locator("h1")).to_have_text("东华门代表联络站")
        await expect(sheet.locator("img.qr")).to_be_visible()
        await expect(sheet.locator(".sheet-link")).to_have_text(terminal_url)
        await sheet.locator("[data-action=print-close]").click()
        await expect(sheet).to_be_hidden()

        # ── people: bad rows by line; fixed, imported, the duplicate listed ──
        await page.click('[data-tab="people"]')
        box = await import_file(page, "导入人员名单", "people.csv", PEOPLE_BAD)
        await expect(box.locator(".errors-table tbody tr")).to_have_count(2)
        assert await box.locator(".errors-table td.line").all_inner_texts() == ["4", "5"]
        await expect(box.locator('.errors-table tr[data-line="4"]')).to_contain_text("电话：“电话没有”不是电话号码")
        await expect(box.locator('.errors-table tr[data-line="5"]')).to_contain_text("名录中没有“不存在的联络站”")
        await expect(page.locator(".people-list tbody tr")).to_have_count(0)
        box = await import_file(page, "导入人员名单", "people.csv", PEOPLE_GOOD)
        await expect(box.locator(".import-ok")).to_contain_text("5")
        await expect(box.locator(".duplicates li")).to_have_count(1)
        await expect(box.locator(".duplicates li")).to_contain_text("第 7 行")
        await expect(page.locator(".people-list tbody tr")).to_have_count(5)
        # The search narrows the list; the committee is a group of its own.
        await page.fill("[name=q]", "张伟")
        await expect(page.locator(".people-list tbody tr")).to_have_count(1)
        await expect(page.locator(".group-list")).to_contain_text("财政经济委员会")
        await page.fill("[name=q]", "")
        await page.locator("select[name=group_id]").select_option(label="财政经济委员会")
        await expect(page.locator(".people-list tbody tr")).to_have_count(2)
        await page.locator("select[name=group_id]").select_option("")
        await page.locator(".filters select[name=site_id]").select_option(label="　东城区人大")
        await expect(page.locator(".people-list tbody tr")).to_have_count(2)  # 王芳 and 陈静 at its stations
        await page.locator(".filters select[name=site_id]").select_option("")
        await page.locator(".filters select[name=kind]").select_option(label="人大代表")
        await expect(page.locator(".people-list tbody tr")).to_have_count(3)
        await page.locator(".filters select[name=kind]").select_option("")
        # One more member, added by hand into the committee.
        add = page.locator("[data-form=add-person]")
        await add.locator("[name=name]").fill("周敏")
        await add.locator("[name=kind]").select_option("member")
        await add.locator("[name=phone]").fill("138 0000 0009")
        await add.locator(".pick", has_text="财政经济委员会").click()
        await add.locator("[data-action=add-person]").click()
        await expect(page.locator(".people-list tbody tr")).to_have_count(6)
        await expect(page.locator(".group-list")).to_contain_text("3 人")

        # ── meetings: a new committee session ──
        await page.click('[data-tab="meetings"]')
        form = page.locator("[data-form=new-meeting]")
        await form.locator("[name=title]").fill("财政经济委员会第十二次会议")
        await form.locator("[name=kind]").select_option(label="委员会会议")
        await form.locator("[name=starts_at]").fill("2030-03-02T09:30")
        await form.locator("[name=ends_at]").fill("2030-03-02T12:00")
        await form.locator("[data-action=create-meeting]").click()
        head = page.locator(".meeting-head")
        await expect(head.locator(".meeting-page-title")).to_have_text("财政经济委员会第十二次会议")
        await expect(head).to_contain_text("委员会会议")
        mid = await head.get_attribute("data-meeting-id")
        # Rescheduled by half an hour from its page.
        await head.locator(".edit-meeting > summary").click()
        await head.locator("[data-form=edit-meeting] [name=starts_at]").fill("2030-03-02T10:00")
        await head.locator("[data-action=save-meeting]").click()
        await expect(head).to_contain_text("10:00")

        # From the directory: the whole committee, and 东城区's stations.
        add = page.locator("[data-form=add-from-directory]")
        await add.locator('[data-pick="groups"] .pick', has_text="财政经济委员会").click()
        await add.locator("[name=parent]").select_option(label="东城区人大")
        await expect(add.locator('[data-pick="stations"] input:checked')).to_have_count(3)
        await expect(add.locator(".pick-summary")).to_have_text("已选：人员 0 人，分组 1 个，站点 3 个")
        await add.locator("[data-action=add-picked]").click()
        rows = page.locator("table.invitations tbody tr")
        await expect(rows.filter(has_text="张伟")).to_have_count(1)
        await expect(rows.filter(has_text="李娜")).to_have_count(1)
        names = await page.locator("table.invitations .participant-name").all_inner_texts()
        for name in ("张伟", "李娜", "周敏"):
            assert name in names, names
        # The district's stations are in, by their names or their people's.
        assert any(n in names for n in ("东华门代表联络站", "王芳")), names
        assert any(n in names for n in ("景山代表联络站", "陈静")), names
        assert not any(n in names for n in ("西长安街代表联络站", "赵强")), names

        # Open the meeting for joining, after a confirmation.
        await page.click("[data-action=status-open]")
        await confirm(page)
        await expect(page.locator(".meeting-head .status-chip")).to_have_attribute("data-status", "open")

        # The printable invitation list lists the invitees.
        async with context.expect_page() as printed:
            await page.click("[data-action=print-invitations]")
        sheet = await printed.value
        await expect(sheet.locator("body")).to_contain_text("张伟")
        await expect(sheet.locator("body")).to_contain_text("李娜")
        await expect(sheet.locator("body")).to_contain_text("财政经济委员会第十二次会议")
        await sheet.close()

        # 张伟's link, copied from the page, opens the meeting as 张伟.
        row = rows.filter(has_text="张伟")
        await context.grant_permissions(["clipboard-read", "clipboard-write"], origin=hub.url)
        await row.locator("[data-action=copy]").click()
        await expect(row.locator("[data-action=copy]")).to_have_text("已复制")
        join_url = await page.evaluate("() => navigator.clipboard.readText()")
        assert join_url == await row.locator("input.link-field").input_value()
        assert "/join?token=" in join_url, join_url
        await row.locator("[data-action=show-qr]").click()
        await expect(row.locator("img.qr")).to_be_visible()
        joiner_ctx = await browser.new_context(**PHONE)
        joiner = await joiner_ctx.new_page()
        # The link names the hub's public address (settings.base_url); the test hub listens elsewhere.
        await joiner.goto(hub.url + join_url[join_url.index("/join?"):], wait_until="domcontentloaded")
        await expect(joiner.locator("#me-name")).to_have_text("张伟")
        await expect(joiner.locator(".meeting-title")).to_have_text("财政经济委员会第十二次会议")

        # Re-issued, the old link is refused.
        await row.locator("[data-action=reissue]").click()
        await confirm(page)
        await expect(row.locator("input.link-field")).not_to_have_value(join_url)
        resp = await hub.client.get(f"/api/meetings/{mid}", headers={"Authorization": f"Bearer {join_url.split('token=')[1]}"})
        assert resp.status == 401

        # A person's page lists the meetings they were in.
        await page.click('[data-tab="people"]')
        await page.fill("[name=q]", "李娜")
        await expect(page.locator(".people-list tbody tr")).to_have_count(1)
        await page.locator("[data-action=open-person]").click()
        await expect(page.locator(".person-page .history")).to_contain_text("财政经济委员会第十二次会议")

        assert errors == [], errors
    finally:
        if joiner_ctx:
            await joiner_ctx.close()
        await context.close()


async def test_signing_out_and_an_expired_session_return_to_sign_in(office, browser):
    hub = office
    context, page, errors = await open_console(browser, hub, PHONE)
    try:
        await sign_in(page)
        await expect(page.locator("#workspace")).to_be_visible()
        # A phone: no sideways scrolling of the page, targets large enough to touch.
        width = await page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], width
        for selector in ("[data-tab=sites]", "[data-action=sign-out]", "[data-action=add-site]"):
            box = await page.locator(selector).bounding_box()
            assert box["height"] >= 44, (selector, box)

        # The session ends elsewhere (signed out by its token): the next call
        # returns the page to sign-in, saying why.
        token = await page.evaluate("() => JSON.parse(sessionStorage.getItem('plenary.console')).token")
        resp = await hub.client.delete("/api/session", headers={"Authorization": f"Bearer {token}"})
        assert resp.status == 200, await resp.text()
        await page.click("[data-tab=sites]")
        await expect(page.locator("#signin")).to_be_visible()
        await expect(page.locator("#signin-message")).to_have_text("登录已过期，请重新登录。")
        assert await page.evaluate("() => sessionStorage.getItem('plenary.console')") is None

        # A session whose time is up is not even tried after a reload.
        await sign_in(page)
        await expect(page.locator("#workspace")).to_be_visible()
        await page.evaluate("""() => {
            const s = JSON.parse(sessionStorage.getItem('plenary.console'));
            s.expires_at = new Date(Date.now() - 1000).toISOString();
            sessionStorage.setItem('plenary.console', JSON.stringify(s));
        }""")
        await page.reload(wait_until="domcontentloaded")
        await expect(page.locator("#signin-message")).to_have_text("登录已过期，请重新登录。")

        # Sign in again, and out with the button: the token stops working.
        await sign_in(page)
        await expect(page.locator("#workspace")).to_be_visible()
        token = await page.evaluate("() => JSON.parse(sessionStorage.getItem('plenary.console')).token")
        await page.click("[data-action=sign-out]")
        await expect(page.locator("#signin-message")).to_have_text("已退出登录。")
        resp = await hub.client.get("/api/sites", headers={"Authorization": f"Bearer {token}"})
        assert resp.status == 401
        assert errors == [], errors
    finally:
        await context.close()


async def test_the_admin_token_in_the_link_opens_the_console_once(office, browser):
    """For the first setup: /console?token=<admin token> (from `plenary admin-token`)."""
    hub = office
    context, page, errors = await open_console(browser, hub)
    try:
        await page.goto(f"{hub.url}/console?token={hub.tokens.admin_token()}#sites", wait_until="domcontentloaded")
        await expect(page.locator("#workspace")).to_be_visible()
        assert "token" not in page.url
        await page.fill("[data-form=add-site] [name=name]", "市人大常委会")
        await page.locator("[data-form=add-site] [name=kind]").select_option("city")
        await page.click("[data-action=add-site]")
        await expect(page.locator(".site-node .site-name")).to_have_text(["市人大常委会"])
        # English beside Chinese.
        await page.click("[data-lang=en]")
        await expect(page.locator(".tab[data-tab=sites]")).to_have_text("Sites")
        await expect(page.locator(".site-node .kind-badge")).to_have_text("City")
        assert errors == [], errors
    finally:
        await context.close()


async def test_an_admin_adds_an_operator_who_sees_only_their_district(office, browser):
    """账号: the admin adds an operator for a district; the operator works in
    that site's subtree only (the sites tab shows it, no accounts tab) and
    in its own meetings; deleted by the admin, its session ends at once.
    The hub enforces the reach; the page shows what it gets."""
    hub = office
    city = await hub.site("市人大常委会", "city")
    east = await hub.site("东城区人大", "district", city["id"])
    await hub.site("东华门代表联络站", "station", east["id"])
    west = await hub.site("西城区人大", "district", city["id"])
    await hub.site("西长安街代表联络站", "station", west["id"])

    admin_ctx, admin, admin_errors = await open_console(browser, hub)
    operator_ctx, operator, operator_errors = await open_console(browser, hub)
    try:
        await sign_in(admin)
        await admin.click("[data-tab=accounts]")
        accounts = admin.locator(".data-table tbody tr")
        await expect(accounts).to_have_count(1)
        await expect(accounts.first.locator("[data-action=delete-account]")).to_have_count(0)  # not oneself
        form = admin.locator("[data-form=add-operator]")
        await form.locator("[name=username]").fill("dongcheng")
        await form.locator("[name=password]").fill("short")
        await form.locator("[name=site_id]").select_option(label="　东城区人大")
        await form.locator("[data-action=add-operator]").click()
        # The browser's own check: a password under 8 characters is not sent.
        await expect(accounts).to_have_count(1)
        await form.locator("[name=password]").fill(PASSWORD)
        await form.locator("[data-action=add-operator]").click()
        row = accounts.filter(has_text="dongcheng")
        await expect(row).to_contain_text("操作员")
        await expect(row).to_contain_text("东城区人大")

        await sign_in(operator, "dongcheng")
        await expect(operator.locator("#who")).to_have_text("dongcheng · 操作员")
        await expect(operator.locator(".site-node .site-name")).to_have_text(["东城区人大", "东华门代表联络站"])
        await expect(operator.locator("[data-tab=accounts]")).to_be_hidden()
        # An Excel sheet of people: a row outside the district refuses the file, by its line.
        await operator.click("[data-tab=people]")
        rows = [["姓名", "类别", "所属站点", "电话"], ["孙丽", "代表", "东华门代表联络站", "13900000001"],
                ["钱勇", "代表", "西长安街代表联络站", "13900000002"]]
        box = await import_xlsx(operator, "导入人员名单", rows)
        await expect(box.locator('.errors-table tr[data-line="3"]')).to_contain_text("不在您负责的范围内")
        await expect(box.locator(".errors-table tbody tr")).to_have_count(1)
        box = await import_xlsx(operator, "导入人员名单", rows[:2])
        await expect(box.locator(".import-ok")).to_have_text("导入完成：新增 1 条。")
        await expect(operator.locator(".people-list tbody tr")).to_have_count(1)

        # A meeting of its own, and its district's station added to it.
        await operator.click("[data-tab=meetings]")
        new = operator.locator("[data-form=new-meeting]")
        await new.locator("[name=title]").fill("东城区代表联络站视频接待")
        await new.locator("[name=kind]").select_option("adhoc")
        await new.locator("[data-action=create-meeting]").click()
        await expect(operator.locator(".meeting-head")).to_contain_text("临时会议")
        add = operator.locator("[data-form=add-from-directory]")
        await add.locator("[name=parent]").select_option(label="东城区人大")
        await add.locator("[data-action=add-picked]").click()
        # The station's people come in (a station nobody is at would come in as itself).
        await expect(operator.locator("table.invitations .participant-name")).to_have_text(["孙丽"])

        # Deleted by the admin (after a confirmation): the operator is signed out.
        await row.locator("[data-action=delete-account]").click()
        await expect(admin.locator("#confirm-text")).to_contain_text("dongcheng")
        await confirm(admin)
        await expect(accounts.filter(has_text="dongcheng")).to_have_count(0)
        await operator.click("[data-tab=meetings]")
        await expect(operator.locator("#signin-message")).to_have_text("登录已过期，请重新登录。")
        assert admin_errors == [] and operator_errors == [], (admin_errors, operator_errors)
    finally:
        await admin_ctx.close()
        await operator_ctx.close()


async def test_the_big_screen_link_is_made_from_the_meeting_page(office, browser):
    """大屏幕: the console makes the meeting's display observer once and shows
    its /screen link; that link opens the projector view of the meeting."""
    hub = office
    mid = await hub.meeting("预算审查专题询问")
    context, page, errors = await open_console(browser, hub)
    try:
        await sign_in(page)
        await page.goto(f"{hub.url}/console#meetings/{mid}", wait_until="domcontentloaded")
        card = page.locator("[data-card=big-screen]")
        await card.locator("[data-action=make-screen-link]").click()
        link = card.locator("[name=screen-link]")
        await expect(link).to_have_value(re.compile(r"/screen\?token="))
        screen_url = await link.input_value()
        # Made once: the page shows the same observer again after a reload.
        await page.reload(wait_until="domcontentloaded")
        await expect(page.locator("[data-card=big-screen] [name=screen-link]")).to_have_value(screen_url)
        meeting = await (await hub.client.get(f"/api/meetings/{mid}", headers=hub.admin_headers())).json()
        assert [(p["name"], p["role"]) for p in meeting["participants"]] == [("大屏幕", "observer")]
        screen = await context.new_page()
        # The link names the hub's configured address; the test server's port differs.
        await screen.goto(hub.url + screen_url[screen_url.index("/screen?"):], wait_until="domcontentloaded")
        await expect(screen.locator("#meeting-title")).to_have_text("预算审查专题询问")
        assert errors == [], errors
    finally:
        await context.close()
