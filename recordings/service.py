"""Recordings in the database: start, stop, the files, and their views.

Each change of a recording's state is logged as `recording:state` in the
transaction that makes it (the hub publishes it after the commit), so the
timeline and every process read one order of events. At most one recording
of a meeting is open (no `stopped_at`); the row, not any process's memory,
says whether the meeting is being recorded.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from recordings.models import Recording, RecordingFile
from sessions import events
from sessions.errors import NotFound, StateError
from sessions.events import LoggedEvent
from sessions.models import Node, new_id, utcnow

STATE_EVENT = "recording:state"
MEDIA_TYPES = {"webm": "video/webm", "mkv": "video/x-matroska", "mp4": "video/mp4", "jsonl": "application/x-ndjson"}


@dataclass(frozen=True)
class OpenRecording:
    id: str
    meeting_id: str
    started_at: datetime


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:  # SQLite hands back naive UTC
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.isoformat()


def aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def state_of(recording: Recording | None) -> dict:
    """`recording:state` and the `state:sync` section, without seq."""
    if recording is None:
        return {"recording": False, "recording_id": None, "started_at": None, "error": None}
    return {
        "recording": recording.stopped_at is None,
        "recording_id": recording.id,
        "started_at": iso(recording.started_at),
        "error": recording.error,
    }


async def open_recording(session: AsyncSession, meeting_id: str) -> Recording | None:
    return await session.scalar(
        select(Recording).where(Recording.meeting_id == meeting_id, Recording.stopped_at.is_(None))
    )


async def latest(session: AsyncSession, meeting_id: str) -> Recording | None:
    return await session.scalar(
        select(Recording).where(Recording.meeting_id == meeting_id).order_by(Recording.started_at.desc()).limit(1)
    )


async def open_recordings(session: AsyncSession, meeting_ids: set[str]) -> list[OpenRecording]:
    if not meeting_ids:
        return []
    rows = await session.scalars(
        select(Recording).where(Recording.meeting_id.in_(meeting_ids), Recording.stopped_at.is_(None))
    )
    return [OpenRecording(r.id, r.meeting_id, aware(r.started_at)) for r in rows]


async def start(session: AsyncSession, meeting_id: str, actor_id: str | None) -> tuple[Recording, LoggedEvent]:
    recording = Recording(id=new_id(), meeting_id=meeting_id, started_by=actor_id, started_at=utcnow())
    # The log's append locks the meeting row, so two starts in two processes
    # queue there; the check after it sees a recording the other one made.
    logged = await events.append(session, meeting_id, STATE_EVENT, state_of(recording), actor_id=actor_id)
    if await open_recording(session, meeting_id) is not None:
        raise StateError("the meeting is already being recorded")
    session.add(recording)
    await session.flush()
    return recording, logged


async def stop(
    session: AsyncSession, meeting_id: str, actor_id: str | None, *, error: dict | None = None,
    recording_id: str | None = None,
) -> tuple[Recording, LoggedEvent]:
    """Close the meeting's open recording (`recording_id`: only if it is that one)."""
    recording = await open_recording(session, meeting_id)
    if recording is None or (recording_id is not None and recording.id != recording_id):
        raise StateError("the meeting is not being recorded")
    stopped_at = utcnow()
    payload = {**state_of(recording), "recording": False, "error": error}
    logged = await events.append(session, meeting_id, STATE_EVENT, payload, actor_id=actor_id)
    # Under the meeting row's lock now: is it still open (another process's stop)?
    await session.refresh(recording)
    if recording.stopped_at is not None:
        raise StateError("the meeting is not being recorded")
    recording.stopped_at = stopped_at
    recording.error = error
    await session.flush()
    return recording, logged


# -- files ---------------------------------------------------------------------------


async def add_file(
    session: AsyncSession, recording_id: str, *, name: str, kind: str, participant_id: str | None,
    node_id: str | None, segment: int, tracks: list[dict], offset_s: float,
) -> None:
    now = utcnow()
    session.add(RecordingFile(
        recording_id=recording_id, name=name, kind=kind, participant_id=participant_id, node_id=node_id,
        segment=segment, tracks=tracks, offset_s=offset_s, bytes=0, state="writing", created_at=now, updated_at=now,
    ))
    await session.flush()


async def next_segment(session: AsyncSession, recording_id: str, participant_id: str) -> int:
    rows = await session.scalars(
        select(RecordingFile.segment).where(
            RecordingFile.recording_id == recording_id, RecordingFile.participant_id == participant_id
        )
    )
    return max(rows.all(), default=0) + 1


async def update_file(
    session: AsyncSession, recording_id: str, name: str, *, bytes: int, duration_s: float | None,
    state: str | None = None,
) -> None:
    values: dict = {"bytes": bytes, "duration_s": duration_s, "updated_at": utcnow()}
    if state is not None:
        values["state"] = state
    await session.execute(
        update(RecordingFile).where(RecordingFile.recording_id == recording_id, RecordingFile.name == name).values(**values)
    )


async def put_file(
    session: AsyncSession, recording_id: str, *, name: str, kind: str, bytes: int, duration_s: float | None = None,
) -> None:
    """A whole file written at once (the timeline): insert or replace its row."""
    existing = await session.scalar(
        select(RecordingFile).where(RecordingFile.recording_id == recording_id, RecordingFile.name == name)
    )
    now = utcnow()
    if existing is None:
        session.add(RecordingFile(
            recording_id=recording_id, name=name, kind=kind, participant_id=None, node_id=None, segment=0,
            tracks=[], offset_s=0.0, bytes=bytes, duration_s=duration_s, state="complete", created_at=now,
            updated_at=now,
        ))
    else:
        existing.bytes, existing.duration_s, existing.state, existing.updated_at = bytes, duration_s, "complete", now
    await session.flush()


async def mark_orphaned_files(session: AsyncSession) -> None:
    """Files whose process died while writing them (its node row is gone)
    are as complete as they will ever be: playable up to that moment."""
    await session.execute(
        update(RecordingFile)
        .where(RecordingFile.state == "writing", RecordingFile.node_id.not_in(select(Node.id)))
        .values(state="interrupted", updated_at=utcnow())
    )


# -- views ----------------------------------------------------------------------------


async def get(session: AsyncSession, recording_id: str) -> Recording:
    recording = await session.get(Recording, recording_id)
    if recording is None:
        raise NotFound("no such recording")
    return recording


async def files_of(session: AsyncSession, recording_ids: list[str]) -> dict[str, list[RecordingFile]]:
    found: dict[str, list[RecordingFile]] = {rid: [] for rid in recording_ids}
    if recording_ids:
        rows = await session.scalars(
            select(RecordingFile).where(RecordingFile.recording_id.in_(recording_ids))
            .order_by(RecordingFile.offset_s, RecordingFile.id)
        )
        for row in rows:
            found[row.recording_id].append(row)
    return found


async def recordings_of(session: AsyncSession, meeting_id: str) -> list[Recording]:
    rows = await session.scalars(
        select(Recording).where(Recording.meeting_id == meeting_id).order_by(Recording.started_at)
    )
    return list(rows)


async def get_file(session: AsyncSession, recording_id: str, name: str) -> RecordingFile:
    row = await session.scalar(
        select(RecordingFile).where(RecordingFile.recording_id == recording_id, RecordingFile.name == name)
    )
    if row is None:
        raise NotFound("no such file in this recording")
    return row


def file_view(recording_id: str, row: RecordingFile) -> dict:
    return {
        "name": row.name,
        "kind": row.kind,
        "participant_id": row.participant_id,
        "segment": row.segment,
        "tracks": row.tracks,
        "offset_s": round(row.offset_s, 3),
        "bytes": row.bytes,
        "duration_s": None if row.duration_s is None else round(row.duration_s, 3),
        "state": row.state,
        "url": f"/api/recordings/{recording_id}/files/{row.name}",
    }


def recording_view(recording: Recording, files: list[RecordingFile]) -> dict:
    composed = next((f.name for f in files if f.kind == "composed"), None)
    return {
        "id": recording.id,
        "meeting_id": recording.meeting_id,
        "started_at": iso(recording.started_at),
        "stopped_at": iso(recording.stopped_at),
        "recording": recording.stopped_at is None,
        "error": recording.error,
        "files": [file_view(recording.id, f) for f in files],
        "export": {
            "state": recording.export_state,
            "progress": round(recording.export_progress or 0.0, 3),
            "error": recording.export_error,
            "file": composed,
        },
    }


def media_type(name: str) -> str:
    return MEDIA_TYPES.get(name.rsplit(".", 1)[-1], "application/octet-stream")
