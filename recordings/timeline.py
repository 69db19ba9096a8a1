"""The recording's timeline: the meeting's event log read against the recording's clock.

`timeline_entries` is a pure function of the log, the meeting's people and the
recording's interval; `build_timeline` loads those for one recording. Each
entry is `{offset_s, at, seq, type, ...}`: `offset_s` seconds after the
recording's `started_at` (3 decimals), `at` the same instant in ISO 8601 UTC,
`seq` and `type` the log's. The instant is the event's own where its payload
has a better one than the row's `created_at` (an inquiry timer's
`started_at`, a topic's `at`), so an entry points where the speech starts.

What a reader gets (people are `{id, name, role, site, site_kind}`):
- the first entry, always, is a `state` at offset 0: what held when the
  recording started (who was online, the inquiry's topic/stage/speaker,
  open votes, the paper on screen, the published tracks), folded from the
  events before the start;
- `inquiry:*`: the stage and who holds the floor (`speaker`; for an answer
  also `asked_by`), the topic's title, the allotted time;
- `vote:opened` (subject, options, secret) and `vote:result` (counts,
  cast/eligible, verdict, rate): aggregates only. Nothing of who chose what
  is in the log, and entries are built from named fields, never by copying
  a payload, so a secret vote stays secret here whatever a payload may grow;
- `doc:shared`, `doc:page`, `doc:presenter`;
- `roster`: `joined` and `left` (people), the difference from the previous
  roster (a roster that changed nothing is left out);
- `media:tracks`: `published` and `unpublished` tracks, the difference from
  the previous list (none: left out);
- `recording:state`.
`vote:turnout` is left out (the result has the final counts), and so is
every event outside [started_at, stopped_at], except this recording's own
`recording:state` at its stop (logged a moment after `stopped_at` is taken).
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone

from sqlalchemy.ext.asyncio import AsyncSession

from recordings.models import Recording
from sessions import directory, events
from sessions.events import LoggedEvent
from sessions.inquiry import fold as ev
from sessions.inquiry.state import EMPTY, InquiryState

ROSTER = "roster"
TRACKS = "media:tracks"
VOTE_OPENED = "vote:opened"
VOTE_RESULT = "vote:result"
DOC_SHARED = "doc:shared"
DOC_PAGE = "doc:page"
DOC_PRESENTER = "doc:presenter"
RECORDING_STATE = "recording:state"
STATE = "state"  # the synthesized first entry: what held at the start

# The log types the timeline reads (the rest, e.g. vote:turnout, it skips).
TYPES: tuple[str, ...] = (
    *ev.TYPES, ROSTER, TRACKS, VOTE_OPENED, VOTE_RESULT, DOC_SHARED, DOC_PAGE, DOC_PRESENTER, RECORDING_STATE,
)

# Inquiry transitions that start a timed stage, with the stage they start.
STAGE_STARTS = {
    ev.REPORT_STARTED: "report",
    ev.GRANTED: "question",
    ev.ANSWER_STARTED: "answer",
    ev.FOLLOW_UP: "follow_up",
}


def _utc(moment: datetime) -> datetime:
    """SQLite hands back naive UTC; make every instant aware."""
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def _epoch(value) -> datetime:
    return datetime.fromtimestamp(float(value), timezone.utc)


def _parse(value) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return _utc(datetime.fromisoformat(value))
    except ValueError:
        return None


def instant_of(event: LoggedEvent) -> datetime:
    """When the event happened: the payload's own instant where it has one."""
    p = event.payload
    if event.type in STAGE_STARTS:
        return _epoch(p["started_at"])
    if event.type == ev.OVERTIME:  # the moment the allotted time ran out
        return _epoch(float(p["started_at"]) + float(p["duration_s"]))
    if event.type.startswith("inquiry:") and "at" in p:
        return _epoch(p["at"])
    return _utc(event.created_at)


class _Reader:
    """The meeting as the log describes it so far (folded event by event)."""

    def __init__(self, people: Mapping[str, dict]) -> None:
        self.people = people
        self.inquiry: InquiryState = EMPTY
        self.online: list[str] = []
        self.tracks: dict[str, dict] = {}  # track id -> {id, participant_id, kind, source}
        self.open_votes: dict[str, dict] = {}  # vote id -> {vote_id, subject}
        self.documents: dict[str, dict] = {}  # document id -> {id, title, pages}
        self.document: dict | None = None  # {document_id, page, presenter}
        self.presenter: str | None = None  # the presenter the chair named
        self.seq = 0

    def person(self, pid: str | None) -> dict | None:
        if pid is None:
            return None
        known = self.people.get(pid)
        if known is None:
            return {"id": pid, "name": None, "role": None, "site": None, "site_kind": None}
        site = known.get("site")
        return {
            "id": pid, "name": known.get("name"), "role": known.get("role"),
            "site": site.get("name") if isinstance(site, dict) else site,
            "site_kind": site.get("kind") if isinstance(site, dict) else None,
        }

    def topic_title(self) -> str | None:
        return self.inquiry.topic.title if self.inquiry.topic else None

    def read(self, event: LoggedEvent) -> dict | None:
        """Fold the event in; return its entry's fields (None: nothing to tell)."""
        self.seq = event.seq
        if event.type in ev.TYPES:
            return self._inquiry(event)
        handler = getattr(self, "_" + event.type.replace(":", "_"), None)
        return handler(event.payload) if handler else None

    # -- the inquiry -------------------------------------------------------------

    def _inquiry(self, event: LoggedEvent) -> dict:
        before = self.inquiry
        after = ev.apply(before, event.type, event.payload).with_(seq=event.seq)
        self.inquiry = after
        p = event.payload
        if event.type == ev.TOPIC_OPENED:
            return {"topic_id": p["topic_id"], "topic": p["title"],
                    "respondents": [self.person(r) for r in p["respondents"]]}
        if event.type == ev.TOPIC_CLOSED:
            return {"topic_id": p.get("topic_id"), "topic": before.topic.title if before.topic else None}
        if event.type in STAGE_STARTS:
            fields = {"topic": self.topic_title(), "stage": STAGE_STARTS[event.type],
                      "speaker": self.person(after.spotlight), "allotted_s": float(p["duration_s"])}
            if event.type == ev.ANSWER_STARTED:
                fields["asked_by"] = self.person(after.speaker)
            return fields
        if event.type == ev.TURN_ENDED:
            # The turn is the floor holder's (the member's, through the answers to them).
            return {"topic": self.topic_title(), "ended": p.get("stage"), "speaker": self.person(before.speaker)}
        if event.type == ev.OVERTIME:
            return {"topic": self.topic_title(), "stage": p.get("stage"), "speaker": self.person(after.spotlight),
                    "allotted_s": float(p["duration_s"])}
        if event.type in (ev.HAND_RAISED, ev.HAND_LOWERED):
            return {"topic": self.topic_title(), "participant": self.person(p.get("participant"))}
        if event.type == ev.FLOOR_CONTROL:
            return {"on": bool(p.get("on"))}
        return {}

    def inquiry_summary(self) -> dict | None:
        s = self.inquiry
        if s.topic is None:
            return None
        return {"topic_id": s.topic.id, "topic": s.topic.title, "stage": s.stage.value,
                "speaker": self.person(s.spotlight), "floor_holder": self.person(s.speaker),
                "respondents": [self.person(r) for r in s.topic.respondents]}

    # -- presence and media --------------------------------------------------------

    def _roster(self, p: dict) -> dict | None:
        online = sorted(p.get("online") or ())
        before, now = set(self.online), set(online)
        self.online = online
        joined, left = sorted(now - before), sorted(before - now)
        if not joined and not left:
            return None
        return {"joined": [self.person(x) for x in joined], "left": [self.person(x) for x in left],
                "online": len(online)}

    def _track(self, track: dict) -> dict:
        return {"id": track.get("id"), "participant": self.person(track.get("participant_id")),
                "kind": track.get("kind"), "source": track.get("source")}

    def _media_tracks(self, p: dict) -> dict | None:
        now = {t["id"]: t for t in p.get("tracks") or () if isinstance(t, dict) and "id" in t}
        published = [self._track(t) for tid, t in now.items() if tid not in self.tracks]
        unpublished = [self._track(t) for tid, t in self.tracks.items() if tid not in now]
        self.tracks = now
        if not published and not unpublished:
            return None
        return {"published": published, "unpublished": unpublished}

    # -- votes: aggregates only ------------------------------------------------------

    def _vote_opened(self, p: dict) -> dict:
        fields = {"vote_id": p.get("vote_id"), "subject": p.get("subject"), "options": p.get("options"),
                  "secret": p.get("secret"), "respondent": self.person(p.get("respondent_id")),
                  "closes_at": p.get("closes_at")}
        self.open_votes[p.get("vote_id")] = {"vote_id": p.get("vote_id"), "subject": p.get("subject")}
        return fields

    def _vote_result(self, p: dict) -> dict:
        self.open_votes.pop(p.get("vote_id"), None)
        keys = ("vote_id", "subject", "options", "secret", "counts", "cast", "eligible", "present", "base",
                "verdict", "satisfaction_rate", "valid")
        return {k: p.get(k) for k in keys} | {"respondent": self.person(p.get("respondent_id"))}

    # -- documents --------------------------------------------------------------------

    def _doc_shared(self, p: dict) -> dict:
        doc = p.get("document") or {}
        self.documents[doc.get("id")] = doc
        return {"document_id": doc.get("id"), "title": doc.get("title"), "pages": doc.get("pages"),
                "restricted": bool(p.get("roles") or p.get("participants"))}

    def _doc_page(self, p: dict) -> dict:
        self.document = {"document_id": p.get("document_id"), "page": p.get("page"), "presenter": p.get("presenter")}
        return self.document_summary()

    def _doc_presenter(self, p: dict) -> dict:
        self.presenter = p.get("participant_id")
        return {"presenter": self.person(self.presenter)}

    def document_summary(self) -> dict | None:
        if self.document is None:
            return None
        doc = self.documents.get(self.document["document_id"]) or {}
        return {"document_id": self.document["document_id"], "title": doc.get("title"),
                "page": self.document["page"], "presenter": self.person(self.document["presenter"])}

    # -- the recording itself ------------------------------------------------------------

    def _recording_state(self, p: dict) -> dict:
        return {"recording": p.get("recording"), "recording_id": p.get("recording_id"), "error": p.get("error")}

    def state(self) -> dict:
        """What held at this point, for the `state` entry."""
        return {
            "online": [self.person(x) for x in self.online],
            "inquiry": self.inquiry_summary(),
            "votes_open": list(self.open_votes.values()),
            "document": self.document_summary(),
            "presenter": self.person(self.presenter),
            "tracks": [self._track(t) for t in self.tracks.values()],
        }


def _entry(at: datetime, started_at: datetime, seq: int, type: str, fields: dict) -> dict:
    return {"offset_s": round((at - started_at).total_seconds(), 3), "at": at.isoformat(), "seq": seq,
            "type": type, **fields}


def _own_state_event(event: LoggedEvent, started_at: datetime) -> bool:
    """This recording's own `recording:state` (its payload names its start)."""
    return event.type == RECORDING_STATE and _parse(event.payload.get("started_at")) == started_at


def timeline_entries(
    events: Iterable[LoggedEvent], people: Mapping[str, dict], started_at: datetime, stopped_at: datetime | None
) -> list[dict]:
    """The recording's timeline from the meeting's log (any order; read in seq order).

    `people`: participant id -> `ParticipantView.to_dict()`; unknown ids keep only their id."""
    started_at = _utc(started_at)
    stopped_at = _utc(stopped_at) if stopped_at is not None else None
    reader = _Reader(people)
    entries: list[dict] = []
    opened = False  # the `state` entry is out: events are inside the recording now
    for event in sorted(events, key=lambda e: e.seq):
        if event.type not in TYPES:
            continue
        at = instant_of(event)
        own = _own_state_event(event, started_at)
        if not opened and at < started_at and not own:
            reader.read(event)  # before the start: only the state it leaves
            continue
        if not opened:
            entries.append(_entry(started_at, started_at, reader.seq, STATE, reader.state()))
            opened = True
        if stopped_at is not None and at > stopped_at and not own:
            continue  # after the stop (the log runs on; the recording does not)
        fields = reader.read(event)
        if fields is not None:
            # An instant taken a moment before the start but logged after it: at the start.
            entries.append(_entry(max(at, started_at), started_at, event.seq, event.type, fields))
    if not opened:
        entries.append(_entry(started_at, started_at, reader.seq, STATE, reader.state()))
    return entries


def to_jsonl(entries: Iterable[dict]) -> bytes:
    """One JSON object per line, UTF-8 (names stay readable: no \\u escapes)."""
    return b"".join(json.dumps(e, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"
                    for e in entries)


async def build_timeline(session: AsyncSession, recording: Recording) -> list[dict]:
    """The timeline of one recording, read from its meeting's log."""
    log = await events.events_of(session, recording.meeting_id, types=TYPES)
    people = {p.id: p.to_dict() for p in await directory.participants_of(session, recording.meeting_id)}
    return timeline_entries(log, people, recording.started_at, recording.stopped_at)
