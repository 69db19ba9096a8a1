"""The minutes as a printable zh-CN page (served by web/api/inquiry.py as
`GET /api/meetings/{mid}/minutes.html`).

The same record as `GET /api/meetings/{mid}/minutes`, laid out for A4 paper: the meeting's title and date,
attendance (出席情况: expected, present and absent members, a table of the
members with their first entry and time online, the absent by name), each
topic with its respondents, the reports, each question and answer with the
speaker, their department or station, start time, length (mm:ss) and the
recording offset (hh:mm:ss) where there is one, then every vote with its
counts per option, cast/eligible, verdict and satisfaction rate.

Times are shown in `?tz=` (an IANA zone, default Asia/Shanghai). Every value
from the database goes through `html.escape`. The labels are in `LABELS`,
in one place, should the page ever need another language.
"""
from __future__ import annotations

from datetime import datetime, timezone, tzinfo
from html import escape
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sessions.attendance import EXPECTED_ROLES
from sessions.errors import Invalid

DEFAULT_TZ = "Asia/Shanghai"

LABELS = {
    "minutes": "会议记录",
    "date": "日期",
    "time_zone": "时区",
    "recordings": "录像",
    "recording_span": "录像 {n}：{start} 至 {stop}",
    "still_recording": "录制中",
    "no_recording": "无录像",
    "topic": "议题",
    "respondents": "应询部门",
    "opened_at": "开始",
    "closed_at": "结束",
    "not_closed": "未结束",
    "reports": "情况报告",
    "questions": "询问与答复",
    "kind": "环节",
    "speaker": "发言人",
    "site": "单位",
    "started_at": "开始时间",
    "duration": "时长",
    "recording_offset": "录像位置",
    "overtime": "超时",
    "ongoing": "进行中",
    "report": "报告",
    "question": "提问",
    "answer": "答复",
    "follow_up": "追问",
    "no_segments": "本议题无发言记录。",
    "no_topics": "无询问议题。",
    "votes": "满意度测评",
    "no_votes": "无测评结果。",
    "subject": "测评对象",
    "option": "选项",
    "count": "票数",
    "cast": "实投",
    "eligible": "应投",
    "verdict": "结果",
    "no_verdict": "未形成结果",
    "satisfaction_rate": "满意率",
    "secret": "无记名",
    "named": "记名",
    "invalid_vote": "投票人数未过半，结果无效",
    "attendance": "出席情况",
    "attendance_counts": "应到 {expected} 人，实到 {present} 人，缺席 {absent} 人",
    "name": "姓名",
    "role": "身份",
    "first_joined_at": "首次进入",
    "online_time": "在线时长",
    "joins": "进入次数",
    "absent_members": "缺席",
    "no_absent": "无缺席。",
    "role:chair": "主持人",
    "role:member": "委员",
    "role:deputy": "代表",
    "role:clerk": "工作人员",
    "role:respondent": "答询部门",
    "role:observer": "列席",
    "none": "—",
}

STYLE = """
@page { size: A4; margin: 20mm 18mm; }
body { font-family: "Noto Serif CJK SC", "Source Han Serif SC", "SimSun", serif; color: #000;
       background: #fff; font-size: 11pt; line-height: 1.5; max-width: 180mm; margin: 0 auto; }
h1 { font-size: 18pt; text-align: center; margin: 0 0 4pt; }
h2 { font-size: 14pt; border-bottom: 1px solid #000; margin: 16pt 0 6pt; break-after: avoid; page-break-after: avoid; }
h3 { font-size: 12pt; margin: 10pt 0 4pt; break-after: avoid; page-break-after: avoid; }
p.meta { text-align: center; margin: 0 0 12pt; }
table { width: 100%; border-collapse: collapse; margin: 4pt 0 8pt; }
th, td { border: 1px solid #000; padding: 2pt 4pt; text-align: left; vertical-align: top; }
th { font-weight: bold; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr, section.vote, dl { break-inside: avoid; page-break-inside: avoid; }
thead { display: table-header-group; }
dl { margin: 4pt 0; }
dt { font-weight: bold; float: left; clear: left; width: 6em; }
dd { margin: 0 0 2pt 6em; }
@media screen { body { padding: 12mm; } }
@media print { a { color: #000; text-decoration: none; } }
"""


def zone_of(name: str | None) -> tzinfo:
    try:
        return ZoneInfo(name or DEFAULT_TZ)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise Invalid(f"tz must be an IANA time zone name such as {DEFAULT_TZ}") from None


def _when(value: str | None, zone: tzinfo, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    if not value:
        return LABELS["none"]
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(zone).strftime(fmt)


def mm_ss(seconds: float | None) -> str:
    if seconds is None:
        return LABELS["none"]
    whole = int(round(seconds))
    return f"{whole // 60:02d}:{whole % 60:02d}"


def hh_mm_ss(seconds: float | None) -> str:
    if seconds is None:
        return LABELS["none"]
    whole = int(seconds)  # down: the offset must not point past the start
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def duration(seconds: float | None) -> str:
    """mm:ss, or h:mm:ss from an hour on (time online in a long meeting)."""
    if seconds is None:
        return LABELS["none"]
    whole = int(round(seconds))
    if whole < 3600:
        return mm_ss(whole)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def e(value) -> str:
    """Any value, as escaped text."""
    return escape(LABELS["none"] if value is None else str(value))


def _person(person: dict | None) -> tuple[str, str]:
    if not person:
        return LABELS["none"], LABELS["none"]
    site = person.get("site")
    return e(person.get("name") or person.get("id")), e(site.get("name") if isinstance(site, dict) else site)


def _recording_cell(link: dict | None, numbers: dict[str, int]) -> str:
    """`hh:mm:ss` on the recording (numbered when the meeting has several)."""
    if not link:
        return LABELS["none"]
    text = hh_mm_ss(link["offset_s"])
    if len(numbers) > 1:
        text = f"{LABELS['recordings']} {numbers.get(link['recording_id'], '?')} · {text}"
    return e(text)


def _segments_table(segments: list[dict], zone: tzinfo, numbers: dict[str, int]) -> str:
    L = LABELS
    head = "".join(f"<th scope=\"col\">{e(L[k])}</th>" for k in
                   ("kind", "speaker", "site", "started_at", "duration", "recording_offset"))
    rows = []
    for s in segments:
        name, site = _person(s.get("speaker"))
        notes = [L["overtime"]] * bool(s.get("overtime")) + [L["ongoing"]] * bool(s.get("ongoing"))
        duration = mm_ss(s.get("duration_s")) + "".join(f"（{n}）" for n in notes)
        rows.append(
            f"<tr><td>{e(L.get(s['kind'], s['kind']))}</td><td>{name}</td><td>{site}</td>"
            f"<td class=\"num\">{e(_when(s.get('started_at'), zone, '%H:%M:%S'))}</td>"
            f"<td class=\"num\">{e(duration)}</td>"
            f"<td class=\"num\">{_recording_cell(s.get('recording'), numbers)}</td></tr>"
        )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _topic(topic: dict, zone: tzinfo, numbers: dict[str, int]) -> str:
    L = LABELS
    respondents = "、".join(
        f"{name}（{site}）" if site != L["none"] else name for name, site in map(_person, topic["respondents"])
    )
    parts = [
        f"<section class=\"topic\"><h2>{e(L['topic'])}：{e(topic['title'])}</h2>",
        "<dl>",
        f"<dt>{e(L['respondents'])}</dt><dd>{respondents or L['none']}</dd>",
        f"<dt>{e(L['opened_at'])}</dt><dd>{e(_when(topic.get('opened_at'), zone))}</dd>",
        f"<dt>{e(L['closed_at'])}</dt><dd>"
        f"{e(_when(topic['closed_at'], zone)) if topic.get('closed_at') else e(L['not_closed'])}</dd>",
        "</dl>",
    ]
    reports = [s for s in topic["segments"] if s["kind"] == "report"]
    exchanges = [s for s in topic["segments"] if s["kind"] != "report"]
    if reports:
        parts.append(f"<h3>{e(L['reports'])}</h3>{_segments_table(reports, zone, numbers)}")
    if exchanges:
        parts.append(f"<h3>{e(L['questions'])}</h3>{_segments_table(exchanges, zone, numbers)}")
    if not topic["segments"]:
        parts.append(f"<p>{e(L['no_segments'])}</p>")
    parts.append("</section>")
    return "".join(parts)


def _attendance(attendance: dict | None, zone: tzinfo) -> str:
    """应到/实到/缺席, the members' table, the absent by name."""
    L = LABELS
    if not attendance:
        return ""
    members = [p for p in attendance["people"] if p["role"] in EXPECTED_ROLES]
    head = "".join(f"<th scope=\"col\">{e(L[k])}</th>" for k in
                   ("name", "role", "site", "first_joined_at", "online_time", "joins"))
    rows = []
    for p in members:
        site = p.get("site")
        rows.append(
            f"<tr><td>{e(p.get('name'))}</td><td>{e(L.get('role:' + str(p['role']), p['role']))}</td>"
            f"<td>{e(site.get('name') if isinstance(site, dict) else site)}</td>"
            f"<td class=\"num\">{e(_when(p.get('first_joined_at'), zone, '%H:%M:%S'))}</td>"
            f"<td class=\"num\">{e(duration(p.get('online_s')) if p.get('present') else L['none'])}</td>"
            f"<td class=\"num\">{e(p.get('joins'))}</td></tr>"
        )
    absent = "、".join(e(p.get("name")) for p in members if not p.get("present"))
    counts = L["attendance_counts"].format(expected=attendance["expected"], present=attendance["present"],
                                           absent=attendance["absent"])
    table = f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>" if rows else ""
    absent_line = f"{e(L['absent_members'])}：{absent}" if absent else e(L["no_absent"])
    return (
        f"<section class=\"attendance\"><h2>{e(L['attendance'])}</h2>"
        f"<p class=\"counts\">{e(counts)}</p>{table}<p class=\"absent\">{absent_line}</p></section>"
    )


def _rate(rate: float | None) -> str:
    return LABELS["none"] if rate is None else f"{rate * 100:.1f}%"


def _vote(vote: dict, zone: tzinfo, numbers: dict[str, int]) -> str:
    L = LABELS
    counts = vote.get("counts") or {}
    options = list(vote.get("options") or counts)
    rows = "".join(f"<tr><td>{e(o)}</td><td class=\"num\">{e(counts.get(o, 0))}</td></tr>" for o in options)
    kind = L["secret"] if vote.get("secret") else L["named"]
    verdict = vote.get("verdict") or L["no_verdict"]
    if vote.get("valid") is False:
        verdict = f"{verdict}（{L['invalid_vote']}）"
    return (
        "<section class=\"vote\">"
        f"<h3>{e(vote.get('subject'))}</h3>"
        "<dl>"
        f"<dt>{e(L['closed_at'])}</dt><dd>{e(_when(vote.get('closed_at'), zone))}（{e(kind)}）</dd>"
        f"<dt>{e(L['cast'])}/{e(L['eligible'])}</dt><dd>{e(vote.get('cast'))} / {e(vote.get('eligible'))}</dd>"
        f"<dt>{e(L['verdict'])}</dt><dd class=\"verdict\">{e(verdict)}</dd>"
        f"<dt>{e(L['satisfaction_rate'])}</dt><dd>{e(_rate(vote.get('satisfaction_rate')))}</dd>"
        f"<dt>{e(L['recording_offset'])}</dt><dd>{_recording_cell(vote.get('recording'), numbers)}</dd>"
        "</dl>"
        f"<table><thead><tr><th scope=\"col\">{e(L['option'])}</th><th scope=\"col\">{e(L['count'])}</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
        "</section>"
    )


def _meeting_date(minutes: dict) -> str | None:
    """The meeting's scheduled start, else the first thing that happened in it."""
    candidates = [minutes["meeting"].get("starts_at")]
    candidates += [r["started_at"] for r in minutes["recordings"]]
    candidates += [t.get("opened_at") for t in minutes["topics"]]
    candidates += [v.get("opened_at") for v in minutes["votes"]]
    return next((c for c in candidates if c), None)


def render(minutes: dict, zone: tzinfo, zone_name: str) -> str:
    """The whole page (pure: the minutes' JSON in, HTML out)."""
    L = LABELS
    title = minutes["meeting"]["title"]
    numbers = {r["id"]: n for n, r in enumerate(minutes["recordings"], 1)}
    recordings = "".join(
        "<li>" + e(L["recording_span"].format(
            n=numbers[r["id"]], start=_when(r["started_at"], zone),
            stop=_when(r["stopped_at"], zone) if r["stopped_at"] else L["still_recording"],
        )) + "</li>"
        for r in minutes["recordings"]
    )
    topics = "".join(_topic(t, zone, numbers) for t in minutes["topics"]) or f"<p>{e(L['no_topics'])}</p>"
    votes = "".join(_vote(v, zone, numbers) for v in minutes["votes"]) or f"<p>{e(L['no_votes'])}</p>"
    return (
        "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
        f"<title>{e(title)} · {e(L['minutes'])}</title><style>{STYLE}</style></head><body>"
        f"<header><h1>{e(title)}</h1>"
        f"<p class=\"meta\">{e(L['minutes'])} · {e(L['date'])}：{e(_when(_meeting_date(minutes), zone, '%Y-%m-%d'))}"
        f" · {e(L['time_zone'])}：{e(zone_name)}</p></header>"
        f"<main>{_attendance(minutes.get('attendance'), zone)}<section class=\"recordings\"><h2>{e(L['recordings'])}</h2>"
        f"{f'<ul>{recordings}</ul>' if recordings else '<p>' + e(L['no_recording']) + '</p>'}</section>"
        f"{topics}"
        f"<section class=\"votes\"><h2>{e(L['votes'])}</h2>{votes}</section></main>"
        "</body></html>\n"
    )
