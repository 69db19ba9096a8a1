"""Tables of recordings (on sessions.models.Base).

- `Recording`: one `recording:start` … `recording:stop` of a meeting. At most
  one per meeting has no `stopped_at`; every process records the producers
  published through it while that row is open, and finalizes its files when
  it closes. `error` is set when writing failed (disk full, I/O error): the
  recording stopped itself, and what was written stays playable.
- `RecordingFile`: one file of a recording: a participant's segment (media),
  the `timeline.jsonl`, or the composed export. `node_id` says which process
  wrote it; `offset_s` is where its media time 0 lies on the recording's
  clock (seconds after `Recording.started_at`). `state` is `writing` until
  the writer closes it, then `complete` (or `failed`).
- The export (a composed file of the whole meeting) is a job: `export_state`
  is null, `queued`, `running`, `done` or `failed`, with its progress (0..1).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, DateTime, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sessions.models import Base, new_id, utcnow


class Recording(Base):
    __tablename__ = "recordings"
    __table_args__ = (Index("ix_recordings_meeting", "meeting_id", "started_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    meeting_id: Mapped[str] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    stopped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    started_by: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[dict | None] = mapped_column(JSON)
    export_state: Mapped[str | None] = mapped_column(String(16))
    export_progress: Mapped[float] = mapped_column(Float, default=0.0)
    export_error: Mapped[str | None] = mapped_column(String(500))
    export_node: Mapped[str | None] = mapped_column(String(32))


class RecordingFile(Base):
    __tablename__ = "recording_files"
    __table_args__ = (UniqueConstraint("recording_id", "name", name="uq_recording_files_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    recording_id: Mapped[str] = mapped_column(ForeignKey("recordings.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))  # media | timeline | composed
    participant_id: Mapped[str | None] = mapped_column(String(32))
    node_id: Mapped[str | None] = mapped_column(String(32))
    segment: Mapped[int] = mapped_column(Integer, default=0)
    # [{"kind": "video", "codec": "vp8"}, {"kind": "audio", "codec": "opus"}]
    tracks: Mapped[list] = mapped_column(JSON, default=list)
    offset_s: Mapped[float] = mapped_column(Float, default=0.0)
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    duration_s: Mapped[float | None] = mapped_column(Float)
    state: Mapped[str] = mapped_column(String(16), default="writing")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
