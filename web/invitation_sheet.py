"""Join links as QR codes (SVG) and the printable zh-CN invitation list
(served by web/api/meetings.py).

QR codes are made with segno (pure Python, about 10–30 ms for a join link
of ~300 characters: version 13, error correction M, which survives a
scuffed print). That is CPU work, so it runs in `QR_POOL`, one thread, off
the event loop; one thread, so that several sheets printed at once queue
rather than take the GIL from the loop together. A link's SVG is kept in a
small LRU: links are signed deterministically, so printing the list again
costs nothing until a link is re-issued.

The page: A4, black on white, one card per participant (name, role in
Chinese, site, the QR, the link in small type), cards kept whole across
pages. Every value goes through `html.escape`; the labels live in `LABELS`.
"""
from __future__ import annotations

import asyncio
import io
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, tzinfo
from functools import lru_cache
from html import escape

import segno

from sessions.meetings.invitations import Invitation

QR_POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qr")
# Error correction M (15%); border: the 4-module quiet zone scanners want.
QR_ERROR = "m"
QR_BORDER = 4
# A QR code holds at most 2,331 bytes at level M; a join link is ~300.
MAX_QR_TEXT = 2000

LABELS = {
    "invitations": "参会邀请名单",
    "kind": "会议类型",
    "starts_at": "开始时间",
    "ends_at": "结束时间",
    "count": "参会人数",
    "name": "姓名",
    "role": "会议角色",
    "site": "单位",
    "link": "参会链接",
    "expires": "链接有效期至",
    "hint": "请用平板或手机扫描二维码进入会议；链接仅供本人使用，请勿转发。",
    "none": "—",
    "empty": "本会议尚无参会人员。",
}
ROLE_LABELS = {
    "chair": "主持人",
    "clerk": "会务人员",
    "member": "委员",
    "deputy": "人大代表",
    "respondent": "应询部门",
    "observer": "列席",
    "admin": "管理员",
}
KIND_LABELS = {"committee": "委员会会议", "inquiry": "专题询问", "adhoc": "临时会议"}

STYLE = """
@page { size: A4; margin: 15mm 15mm; }
body { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", sans-serif; color: #000;
       background: #fff; font-size: 11pt; line-height: 1.4; max-width: 180mm; margin: 0 auto; }
h1 { font-size: 17pt; text-align: center; margin: 0 0 2pt; }
p.meta { text-align: center; margin: 0 0 4pt; }
p.hint { text-align: center; font-size: 9pt; margin: 0 0 8pt; }
.cards { display: grid; grid-template-columns: 1fr 1fr; gap: 4mm; }
.card { border: 1px solid #000; padding: 3mm; display: flex; gap: 3mm; break-inside: avoid; page-break-inside: avoid; }
.card svg { width: 38mm; height: 38mm; flex: none; }
.card .who { flex: 1; min-width: 0; }
.card .name { font-size: 14pt; font-weight: bold; }
.card dl { margin: 1mm 0; }
.card dt { float: left; clear: left; width: 5em; }
.card dd { margin: 0 0 0 5em; }
.card .link { font-family: monospace; font-size: 5.5pt; word-break: break-all; line-height: 1.2; margin-top: 1mm; }
@media screen { body { padding: 10mm; } }
@media print { a { color: #000; text-decoration: none; } }
"""


def e(value: object) -> str:
    return escape(LABELS["none"] if value is None or value == "" else str(value))


@lru_cache(maxsize=2048)
def qr_inline(text: str) -> str:
    """The QR code as an `<svg>` element sized by its viewBox (CSS sets its size)."""
    return segno.make(text, error=QR_ERROR, micro=False).svg_inline(scale=1, border=QR_BORDER, omitsize=True)


def qr_document(text: str, title: str | None = None) -> bytes:
    """The QR code as a standalone SVG file, 4 px per module."""
    out = io.BytesIO()
    segno.make(text, error=QR_ERROR, micro=False).save(out, kind="svg", scale=4, border=QR_BORDER, title=title)
    return out.getvalue()


async def in_pool(function, *args):
    return await asyncio.get_running_loop().run_in_executor(QR_POOL, function, *args)


def _when(value: datetime | None, zone: tzinfo) -> str:
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M") if value is not None else LABELS["none"]


def _card(invitation: Invitation, zone: tzinfo) -> str:
    L = LABELS
    site = invitation.site.name if invitation.site else None
    return (
        '<section class="card">'
        f"{qr_inline(invitation.join_url)}"
        '<div class="who">'
        f'<div class="name">{e(invitation.name)}</div><dl>'
        f"<dt>{L['role']}</dt><dd>{e(ROLE_LABELS.get(invitation.role, invitation.role))}</dd>"
        f"<dt>{L['site']}</dt><dd>{e(site)}</dd>"
        f"<dt>{L['expires']}</dt><dd>{e(_when(invitation.expires_at, zone))}</dd></dl>"
        f'<div class="link">{e(invitation.join_url)}</div>'
        "</div></section>"
    )


def render(meeting: dict, invitations: list[Invitation], zone: tzinfo) -> str:
    """The whole page (CPU: run it in QR_POOL). `meeting`: title, kind,
    starts_at and ends_at (datetimes or None)."""
    L = LABELS
    cards = "".join(_card(i, zone) for i in invitations) or f"<p>{L['empty']}</p>"
    meta = (
        f"{L['kind']}：{e(KIND_LABELS.get(meeting['kind'], meeting['kind']))}　"
        f"{L['starts_at']}：{e(_when(meeting['starts_at'], zone))}　"
        f"{L['ends_at']}：{e(_when(meeting['ends_at'], zone))}　"
        f"{L['count']}：{len(invitations)}"
    )
    return (
        "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
        '<meta name="referrer" content="no-referrer">'
        f"<title>{e(meeting['title'])} · {L['invitations']}</title><style>{STYLE}</style></head><body>"
        f"<h1>{e(meeting['title'])}</h1><p class=\"meta\">{L['invitations']}　{meta}</p>"
        f"<p class=\"hint\">{L['hint']}</p>"
        f'<div class="cards">{cards}</div></body></html>'
    )
