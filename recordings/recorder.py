"""The recorder of one hub process: records the producers published through it.

Which meetings are being recorded is the database's to say (a `recordings`
row without `stopped_at`); each process looks every `POLL_S` (and at once
when its own clients start, stop or publish) and records its own local
producers, never a track piped in from another process (that one's own
process records it). So with several processes every published track is
recorded exactly once, and a `recording:stop` on any process finalizes the
files of all of them within a poll.

A participant's tracks go into one file per segment (recordings/segment.py):
a new segment starts whenever the set of tracks they publish changes (a
reconnect, a camera switched on), so a file never has to change its header.
Files are written by the flush loop in a small thread pool, each file by one
call at a time; a write error (disk full) stops the whole recording with the
error, and what was written stays playable.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from media.producer import Producer
from media.service import MediaService
from recordings import service
from recordings.container import MediaFile, Sample, WriteError, extension_for
from recordings.segment import MAX_PENDING_BYTES, Segment
from sessions.host import Host

log = logging.getLogger(__name__)

POLL_S = 1.0
FLUSH_S = 0.25
# Sizes and durations in the database are brought up to date this often
# while a file grows (the REST listing shows them).
PROGRESS_S = 5.0
# Files left `writing` by a process that died are marked this often.
ORPHAN_CHECK_POLLS = 10

# (meeting id, recording id, error {code, message}): the recording must stop.
OnFailure = Callable[[str, str, dict], Awaitable[None]]


@dataclass
class OpenFile:
    name: str
    segment: Segment
    file: MediaFile | None = None
    last_progress: float = field(default_factory=time.monotonic)
    failed: bool = False
    error: str = ""
    dropped: int = 0  # frames left out while the disk is behind (0: it keeps up)


@dataclass
class Active:
    recording_id: str
    meeting_id: str
    started_at: datetime
    directory: Path
    files: dict[tuple[str, str], OpenFile] = field(default_factory=dict)  # segment key -> file
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class Recorder:
    def __init__(self, host: Host, media: MediaService, node_id: str, directory: Path, on_failure: OnFailure) -> None:
        self.host = host
        self.media = media
        self.node_id = node_id
        self.directory = directory
        self.on_failure = on_failure
        self._active: dict[str, Active] = {}  # meeting id -> its open recording here
        # Muxing is light but blocking; two threads keep one slow disk from
        # holding up every file.
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="recorder")
        self._closed = False
        self._polls = 0
        self.max_pending_bytes = MAX_PENDING_BYTES  # per segment (see recordings/segment.py)

    def start(self) -> None:
        self.host.every(POLL_S, self.poll, "recording-poll")
        self.host.every(FLUSH_S, self.flush, "recording-flush")

    # -- what to record ---------------------------------------------------------

    async def poll(self) -> None:
        """Match this process's recordings to the database's open ones."""
        self._polls += 1
        if self._polls % ORPHAN_CHECK_POLLS == 1:
            async with self.host.db.transaction() as tx:
                await service.mark_orphaned_files(tx)
        meetings = set(self.media.meeting_ids()) | set(self._active)
        async with self.host.db.read() as session:
            open_rows = {r.meeting_id: r for r in await service.open_recordings(session, meetings)}
        for meeting_id in list(self._active):
            row = open_rows.get(meeting_id)
            if row is None or row.id != self._active[meeting_id].recording_id:
                await self.finish(meeting_id)
        for meeting_id, row in open_rows.items():
            if meeting_id not in self._active:
                self._active[meeting_id] = Active(
                    row.id, meeting_id, row.started_at, self.directory / row.id
                )
            await self.sync(meeting_id)

    async def begin(self, recording_id: str, meeting_id: str, started_at: datetime) -> None:
        """This process started a recording: no need to wait for the poll."""
        if meeting_id not in self._active:
            self._active[meeting_id] = Active(recording_id, meeting_id, started_at, self.directory / recording_id)
        await self.sync(meeting_id)

    def is_recording(self, meeting_id: str) -> bool:
        return meeting_id in self._active

    async def sync(self, meeting_id: str) -> None:
        """Segments for exactly the local producers publishing now."""
        active = self._active.get(meeting_id)
        if active is None or self._closed:
            return
        async with active.lock:
            wanted: dict[tuple[str, str], list[Producer]] = {}
            for producer in self.media.local_producers(meeting_id):
                key = (producer.participant_id, "screen" if producer.source == "screen" else "main")
                wanted.setdefault(key, []).append(producer)
            for key, open_file in list(active.files.items()):
                producers = wanted.get(key)
                if producers is None or frozenset(p.id for p in producers) != open_file.segment.producer_ids:
                    await self._close_file(active, key)
            for key, producers in wanted.items():
                if key not in active.files:
                    segment = Segment(key, producers, max_pending_bytes=self.max_pending_bytes)
                    segment.attach()
                    active.files[key] = OpenFile(name="", segment=segment)

    # -- writing ------------------------------------------------------------------

    async def flush(self) -> None:
        if self._closed:
            return
        now = time.monotonic()
        for active in list(self._active.values()):
            async with active.lock:
                jobs = [self._flush_file(active, f, now) for f in active.files.values() if not f.failed]
                if jobs:
                    await asyncio.gather(*jobs)
            failed = next((f for f in active.files.values() if f.failed), None)
            if failed is not None and active.meeting_id in self._active:
                await self._fail(active, failed)

    async def _flush_file(self, active: Active, open_file: OpenFile, now: float) -> None:
        segment = open_file.segment
        if open_file.file is None:
            if not segment.ready_to_open(now):
                return
            await self._open_file(active, open_file)
            if open_file.failed:
                return
        segment.request_keyframes(only_after_loss=True)
        samples = segment.take_pending()
        self._note_drops(open_file, segment.take_dropped())
        if samples:
            await self._run(open_file, open_file.file.write, samples)
        if not open_file.failed and now - open_file.last_progress >= PROGRESS_S:
            open_file.last_progress = now
            await self._save_progress(active, open_file)

    @staticmethod
    def _note_drops(open_file: OpenFile, dropped: int) -> None:
        """One line when the disk falls behind and one when it has caught up,
        however long it stays behind."""
        if dropped and not open_file.dropped:
            log.warning("recording file %s: the disk is %.1f MB behind; frames are left out until it catches up",
                        open_file.name, open_file.segment.max_pending_bytes / 2**20)
        open_file.dropped += dropped
        if not dropped and open_file.dropped:
            log.warning("recording file %s: the disk caught up; %d frames were left out",
                        open_file.name, open_file.dropped)
            open_file.dropped = 0

    async def _open_file(self, active: Active, open_file: OpenFile) -> None:
        segment = open_file.segment
        specs = segment.open()
        participant = segment.participant_id
        async with self.host.db.transaction() as tx:
            number = await service.next_segment(tx, active.recording_id, participant)
            suffix = "" if segment.key[1] == "main" else f"-{segment.key[1]}"
            open_file.name = f"{participant}-{number:02d}{suffix}-{self.node_id[:6]}.{extension_for(specs)}"
            await service.add_file(
                tx, active.recording_id, name=open_file.name, kind="media", participant_id=participant,
                node_id=self.node_id, segment=number, tracks=[{"kind": s.kind, "codec": s.codec} for s in specs],
                offset_s=segment.zero_wall - active.started_at.timestamp(),
            )
        path = active.directory / open_file.name

        def create() -> MediaFile:
            active.directory.mkdir(parents=True, exist_ok=True)
            return MediaFile(path, specs)

        try:
            open_file.file = await asyncio.get_running_loop().run_in_executor(self._pool, create)
        except (OSError, WriteError) as exc:
            log.error("recording %s: cannot create %s: %s", active.recording_id, path, exc)
            open_file.failed = True
            open_file.error = str(exc)

    async def _run(self, open_file: OpenFile, fn: Callable[[list[Sample]], None], samples: list[Sample]) -> None:
        try:
            await asyncio.get_running_loop().run_in_executor(self._pool, fn, samples)
        except WriteError as exc:
            log.error("recording file %s: write failed: %s", open_file.name, exc)
            open_file.failed = True
            open_file.error = str(exc)

    async def _save_progress(self, active: Active, open_file: OpenFile, *, state: str | None = None) -> None:
        media_file = open_file.file
        if media_file is None:
            return
        size = await asyncio.get_running_loop().run_in_executor(self._pool, media_file.size)
        async with self.host.db.transaction() as tx:
            await service.update_file(
                tx, active.recording_id, open_file.name, bytes=size, duration_s=media_file.duration_s, state=state
            )

    async def _close_file(self, active: Active, key: tuple[str, str]) -> None:
        """Finish a segment: its last frames, the trailer, its row."""
        open_file = active.files.pop(key)
        segment = open_file.segment
        segment.finish()
        if open_file.file is None:
            return  # never opened: nothing was written
        media_file = open_file.file
        if not open_file.failed:
            samples = segment.take_pending()
            if samples:
                await self._run(open_file, media_file.write, samples)

        def close() -> None:
            media_file.close()

        try:
            await asyncio.get_running_loop().run_in_executor(self._pool, close)
        except WriteError as exc:
            log.error("recording file %s: closing failed: %s", open_file.name, exc)
            open_file.failed = True
        try:
            await self._save_progress(active, open_file, state="failed" if open_file.failed else "complete")
        except Exception:
            log.exception("recording file %s: could not save its final size", open_file.name)

    async def _fail(self, active: Active, failed: OpenFile) -> None:
        """A file could not be written: stop the whole recording, say why."""
        error = {"code": "io", "message": f"录制写入失败，录制已停止 (write failed: {failed.error or 'I/O error'})"}
        await self.finish(active.meeting_id)
        await self.on_failure(active.meeting_id, active.recording_id, error)

    async def finish(self, meeting_id: str) -> None:
        """The meeting's recording stopped: finalize every file here."""
        active = self._active.pop(meeting_id, None)
        if active is None:
            return
        async with active.lock:
            for key in list(active.files):
                await self._close_file(active, key)

    async def close(self) -> None:
        """Shutdown (SIGTERM): every open file gets its trailer. The
        recordings stay open in the database: the hub's other processes go
        on, and this one resumes on its return if they are still open."""
        self._closed = True
        for meeting_id in list(self._active):
            try:
                await self.finish(meeting_id)
            except Exception:
                log.exception("recording of meeting %s: could not finalize", meeting_id)
        self._pool.shutdown(wait=False)  # nothing is left running: each write was awaited

    def stats(self) -> dict:
        files = [f for a in self._active.values() for f in a.files.values()]
        return {"recordings": len(self._active), "segments": len(files)}
