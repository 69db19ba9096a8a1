"""`plenary serve --demo`: a city-wide topology and one inquiry meeting."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TextIO

from sqlalchemy import select

from sessions import directory
from sessions.db import Database
from sessions.identity import TokenService
from sessions.models import Meeting, Site
from sessions.roles import Role, SiteKind
from sessions.sites import terminals

DEMO_TITLE = "市人大常委会专题询问（演示）"
CITY = "市人大常委会会议厅"
DISTRICTS = ["东城区", "西城区", "南湖区", "北山区", "江滨区", "高新区", "临港区", "青溪县"]
TOWNSHIPS_PER_DISTRICT = 3
STATIONS = 94
DEPARTMENTS = [
    "市发展和改革委员会", "市教育局", "市科学技术局", "市工业和信息化局", "市公安局", "市民政局",
    "市司法局", "市财政局", "市人力资源和社会保障局", "市自然资源和规划局", "市生态环境局",
    "市住房和城乡建设局", "市交通运输局", "市水务局", "市农业农村局", "市商务局", "市文化广电旅游局",
    "市卫生健康委员会", "市应急管理局", "市市场监督管理局",
]
MEMBERS = 40
DEPUTIES = 24
RESPONDENT_DEPARTMENTS = ["市生态环境局", "市住房和城乡建设局", "市交通运输局"]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕"
# The hall's projector (web/static/screen.html): an observer whose join link,
# with /screen instead of /join, is the display link.
SCREEN_NAME = "大屏幕"
GIVEN = ["建国", "秀英", "志强", "丽华", "海涛", "晓东", "桂兰", "明", "静", "伟", "红梅", "国庆", "春燕", "立新"]


@dataclass(frozen=True)
class DemoLink:
    role: Role
    name: str
    site: str | None
    url: str


def _name(i: int) -> str:
    return SURNAMES[i % len(SURNAMES)] + GIVEN[(i * 7) % len(GIVEN)]


async def seed_demo(db: Database, tokens: TokenService, base_url: str) -> list[DemoLink]:
    """Seed once; a second `--demo` start reuses the meeting and prints fresh links."""
    async with db.transaction() as tx:
        existing = await tx.scalar(select(Meeting).where(Meeting.title == DEMO_TITLE))
        if existing is None:
            await _seed(tx)
            existing = await tx.scalar(select(Meeting).where(Meeting.title == DEMO_TITLE))
        participants = await directory.participants_of(tx, existing.id)
        if not any(p.name == SCREEN_NAME and p.role == Role.OBSERVER for p in participants):
            # Also for a demo seeded before the big screen existed.
            city = await tx.scalar(select(Site).where(Site.name == CITY))
            await directory.add_participant(tx, existing.id, SCREEN_NAME, Role.OBSERVER, city.id if city else None)
            participants = await directory.participants_of(tx, existing.id)
    links: list[DemoLink] = []
    for p in participants:
        token = tokens.issue(p.id, Role(p.role), existing.id)
        links.append(DemoLink(Role(p.role), p.name, p.site.name if p.site else None, f"{base_url}/join?token={token}"))
    return links


@dataclass(frozen=True)
class TerminalLink:
    site: str
    kind: str
    url: str


async def demo_terminals(db: Database, tokens: TokenService, base_url: str) -> list[TerminalLink]:
    """A terminal link for every site of the demo city (the city hall first,
    then the districts, townships, stations and departments): what an office
    opens to see the directory and call a station, and a station keeps open."""
    order = {k: i for i, k in enumerate(("city", "district", "township", "station", "department"))}
    links = []
    async with db.transaction() as tx:
        sites = (await tx.scalars(select(Site))).all()
        for site in sorted(sites, key=lambda s: (order.get(s.kind, 9), s.name)):
            token = tokens.issue_terminal(site.id, await terminals.generation_for_issue(tx, site.id))
            links.append(TerminalLink(site.name, site.kind, f"{base_url}/terminal?token={token}"))
    return links


async def _seed(tx) -> None:
    city = await directory.create_site(tx, CITY, SiteKind.CITY, None)
    districts = [await directory.create_site(tx, f"{d}人大常委会", SiteKind.DISTRICT, city.id) for d in DISTRICTS]
    townships = []
    for d_index, district in enumerate(districts):
        for t in range(TOWNSHIPS_PER_DISTRICT):
            name = f"{DISTRICTS[d_index]}第{t + 1}镇（街道）人大"
            townships.append(await directory.create_site(tx, name, SiteKind.TOWNSHIP, district.id))
    stations = []
    for s in range(STATIONS):
        # Spread over the districts, alternately under a district or one of its townships.
        district_index = s % len(districts)
        parent = districts[district_index] if s % 2 == 0 else townships[district_index * TOWNSHIPS_PER_DISTRICT + s % TOWNSHIPS_PER_DISTRICT]
        stations.append(
            await directory.create_site(tx, f"{DISTRICTS[district_index]}代表联络站 {s + 1:02d}", SiteKind.STATION, parent.id)
        )
    departments = {name: await directory.create_site(tx, name, SiteKind.DEPARTMENT, city.id) for name in DEPARTMENTS}

    meeting = await directory.create_meeting(tx, DEMO_TITLE, None)
    await directory.add_participant(tx, meeting.id, "主任 " + _name(0), Role.CHAIR, city.id)
    await directory.add_participant(tx, meeting.id, "工作人员 " + _name(1), Role.CLERK, city.id)
    for i in range(MEMBERS):
        # Members sit in the city hall and in the district halls.
        site = city if i < 24 else districts[i % len(districts)]
        await directory.add_participant(tx, meeting.id, _name(i + 2), Role.MEMBER, site.id)
    for i in range(DEPUTIES):
        site = stations[(i * 4) % len(stations)] if i % 3 else townships[i % len(townships)]
        await directory.add_participant(tx, meeting.id, "代表 " + _name(i + 50), Role.DEPUTY, site.id)
    for name in RESPONDENT_DEPARTMENTS:
        await directory.add_participant(tx, meeting.id, name.removeprefix("市") + "局长 " + _name(len(name)), Role.RESPONDENT, departments[name].id)
    await directory.add_participant(tx, meeting.id, "列席 " + _name(90), Role.OBSERVER, city.id)


def print_links(links: list[DemoLink], out: TextIO) -> None:
    out.write("\nDemo meeting join links (one per role; every participant's link is in the data dir):\n")
    seen: set[Role] = set()
    screens = [link for link in links if is_screen(link)]
    for link in links:
        if link.role in seen or is_screen(link):
            continue
        seen.add(link.role)
        out.write(f"  {link.role.value:<11} {link.name} ({link.site or '-'}):\n    {link.url}\n")
    for link in screens:
        out.write(f"\nThe hall's big screen (open on the projector's PC):\n    {screen_url(link)}\n")
    out.flush()


def is_screen(link: DemoLink) -> bool:
    return link.role is Role.OBSERVER and link.name == SCREEN_NAME


def screen_url(link: DemoLink) -> str:
    """The display link: the observer's join link, opening /screen instead of /join."""
    return link.url.replace("/join?token=", "/screen?token=", 1)


def print_terminals(links: list[TerminalLink], out: TextIO) -> None:
    out.write("\nSite terminals (the city hall, a district office and a liaison station; every site's link is in the data dir):\n")
    for kind in ("city", "district", "station"):
        link = next((l for l in links if l.kind == kind), None)
        if link is not None:
            out.write(f"  {kind:<11} {link.site}:\n    {link.url}\n")
    out.flush()
