"""The inquiry's record, derived from the event log.

Each topic lists its segments (report, question, answer, follow-up) with the
speaker, their site (department or liaison station), when it started and how
long it ran: until the next transition, or until now while it still runs.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timezone

from sessions.inquiry import fold as ev
from sessions.inquiry.fold import EventLike

SEGMENT_STARTS = {
    ev.REPORT_STARTED: ("report", "respondent"),
    ev.GRANTED: ("question", "participant"),
    ev.ANSWER_STARTED: ("answer", "respondent"),
    ev.FOLLOW_UP: ("follow_up", "participant"),
}
SEGMENT_ENDS = frozenset({ev.TURN_ENDED, ev.TOPIC_CLOSED, *SEGMENT_STARTS})


def iso(epoch: float | None) -> str | None:
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat() if epoch is not None else None


def build_minutes(events: Iterable[EventLike], people: Mapping[str, dict], now: float) -> list[dict]:
    """`people`: participant id -> {id, name, role, site}; unknown ids keep only their id."""
    topics: list[dict] = []
    topic: dict | None = None
    segment: dict | None = None

    def person(pid: str | None) -> dict | None:
        if pid is None:
            return None
        return people.get(pid) or {"id": pid, "name": None, "role": None, "site": None}

    def close_segment(at: float) -> None:
        nonlocal segment
        if segment is not None:
            segment["duration_s"] = round(at - segment.pop("_start"), 3)
            segment["ongoing"] = False
            segment = None

    for event in events:
        p = event.payload
        if event.type in SEGMENT_ENDS:
            close_segment(float(p.get("started_at", p.get("at", now))))
        if event.type == ev.TOPIC_OPENED:
            topic = {
                "id": p["topic_id"], "title": p["title"],
                "respondents": [person(r) for r in p["respondents"]],
                "opened_at": iso(float(p["at"])), "closed_at": None, "segments": [],
            }
            topics.append(topic)
        elif event.type == ev.TOPIC_CLOSED:
            if topic is not None:
                topic["closed_at"] = iso(float(p["at"]))
            topic = None
        elif event.type in SEGMENT_STARTS and topic is not None:
            kind, who = SEGMENT_STARTS[event.type]
            start = float(p["started_at"])
            segment = {
                "kind": kind, "speaker": person(p[who]), "started_at": iso(start), "_start": start,
                "allotted_s": float(p["duration_s"]), "duration_s": None, "overtime": False, "ongoing": True,
            }
            topic["segments"].append(segment)
        elif event.type == ev.OVERTIME and segment is not None:
            if float(p["started_at"]) == segment["_start"]:
                segment["overtime"] = True
    if segment is not None:  # still running: its length so far
        segment["duration_s"] = round(now - segment.pop("_start"), 3)
    return topics
