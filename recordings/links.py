"""Where in the recordings a moment of the meeting is: a pure function.

The minutes link each segment and vote to it: the recording whose
[started_at, stopped_at (or now while it runs)] holds the moment, its offset
there, and the speaker's media file that covers it with the offset inside
that file. A file covers [offset_s, offset_s + duration_s] of its recording's
clock; while it is still `writing` its end is open. Failed files link nothing.
`Linker` is pure; `linker_of` loads it for a meeting.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from recordings.models import Recording, RecordingFile

MEDIA = "media"
WRITING = "writing"
FAILED = "failed"


def utc(moment: datetime) -> datetime:
    """SQLite hands back naive UTC; make every instant aware."""
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


@dataclass(frozen=True)
class RecordingSpan:
    id: str
    started_at: datetime
    stopped_at: datetime | None  # None: still recording

    def holds(self, at: datetime, now: datetime) -> bool:
        return utc(self.started_at) <= at <= utc(self.stopped_at or now)


@dataclass(frozen=True)
class MediaFile:
    recording_id: str
    name: str
    kind: str
    participant_id: str | None
    offset_s: float
    duration_s: float | None
    state: str

    def covers(self, offset_s: float) -> bool:
        if self.kind != MEDIA or self.state == FAILED or offset_s < self.offset_s:
            return False
        if self.state == WRITING:
            return True  # still growing: its end is open
        return self.duration_s is not None and offset_s <= self.offset_s + self.duration_s


class Linker:
    """Links moments to the meeting's recordings and their files."""

    def __init__(self, recordings: Iterable[RecordingSpan], files: Iterable[MediaFile], now: datetime) -> None:
        # Newest first: should two ever overlap, the later one is the one running.
        self.recordings: Sequence[RecordingSpan] = sorted(recordings, key=lambda r: utc(r.started_at), reverse=True)
        self.files: dict[str, list[MediaFile]] = {}
        for f in files:
            self.files.setdefault(f.recording_id, []).append(f)
        self.now = utc(now)

    def link(self, at: datetime | None, speaker_id: str | None) -> dict | None:
        """`{recording_id, offset_s, file, file_offset_s}`, or None when no
        recording holds `at`. `file` is the speaker's media file covering the
        moment (None without a speaker or such a file)."""
        if at is None:
            return None
        at = utc(at)
        recording = next((r for r in self.recordings if r.holds(at, self.now)), None)
        if recording is None:
            return None
        offset = (at - utc(recording.started_at)).total_seconds()
        found = None
        if speaker_id is not None:
            covering = [f for f in self.files.get(recording.id, ()) if f.participant_id == speaker_id and f.covers(offset)]
            # The latest segment that began by then (segments of one person follow each other).
            found = max(covering, key=lambda f: f.offset_s, default=None)
        return {
            "recording_id": recording.id,
            "offset_s": round(offset, 3),
            "file": found.name if found else None,
            "file_offset_s": round(offset - found.offset_s, 3) if found else None,
        }


# -- loading (the one part that reads the database) ---------------------------------


async def linker_of(session: AsyncSession, meeting_id: str, now: datetime) -> tuple[Linker, list[RecordingSpan]]:
    """The meeting's recordings (oldest first) and a Linker over them and their media files."""
    rows = (await session.scalars(
        select(Recording).where(Recording.meeting_id == meeting_id).order_by(Recording.started_at, Recording.id)
    )).all()
    spans = [RecordingSpan(r.id, utc(r.started_at), utc(r.stopped_at) if r.stopped_at else None) for r in rows]
    files: list[MediaFile] = []
    if spans:
        found = await session.scalars(
            select(RecordingFile).where(
                RecordingFile.recording_id.in_([s.id for s in spans]), RecordingFile.kind == MEDIA
            )
        )
        files = [MediaFile(f.recording_id, f.name, f.kind, f.participant_id, f.offset_s, f.duration_s, f.state)
                 for f in found]
    return Linker(spans, files, now), spans
