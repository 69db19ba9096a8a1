"""The export job: one composed file of a stopped recording, made in a worker process.

The hub owns one `ExportRuntime` (`hub.exports`). `request(recording_id)`
claims the recording's export in the database (`export_state` `queued`,
this process as `export_node`) with one conditional UPDATE, so two requests
on two processes cannot both win; the job then waits for this process's
one export slot (a meeting in progress keeps the rest of the machine), and
runs `python -m recordings.compose` at a lowered priority: every frame is
decoded and encoded there, never on the event loop. The worker reports its
progress over its stdout pipe; it is written to the row (`running`,
`export_progress`) and sent to the meeting's chair and clerk as
`recording:export` at most twice a second. At the end the row is `done` and
`composed.mp4` is listed among the recording's files (kind `composed`), or
it is `failed` with `export_error`.

A job whose process is gone (its node row reaped) no longer blocks a new
request; `close()` kills this process's worker and marks its jobs `failed`
("interrupted").
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from sqlalchemy import delete, or_, select, update

from recordings import service, timeline
from recordings.compose import ComposeJob, MediaInput
from recordings.models import Recording, RecordingFile
from sessions import directory
from sessions.errors import Conflict, StateError
from sessions.host import Host
from sessions.inquiry import fold as ev
from sessions.models import Node, utcnow
from sessions.roles import OPERATORS

log = logging.getLogger(__name__)

EXPORT_EVENT = "recording:export"
COMPOSED = "composed.mp4"
COMPOSED_TRACKS = [{"kind": "video", "codec": "h264"}, {"kind": "audio", "codec": "aac"}]
BUSY = ("queued", "running")
WORKER_MODULE = "recordings.compose"
WORKER_NICE = 10
# The row and the chair's screen are told at most this often.
PROGRESS_EVERY_S = 0.5
PROJECT_ROOT = Path(__file__).resolve().parents[1]
# Who talks, stage by stage (timeline entries' `speaker`); these end a turn.
FLOOR_STARTS = (*timeline.STAGE_STARTS, ev.OVERTIME)
FLOOR_ENDS = (ev.TURN_ENDED, ev.TOPIC_CLOSED)

Emit = Callable[[str, str, dict], Awaitable[None]]  # (participant id, event, data)


def floor_changes(entries: list[dict]) -> list[tuple[float, str | None]]:
    """Who holds the floor from each offset on, read from the timeline: the
    speaker of each inquiry stage (the member asking, the department
    answering), None when a turn or topic ends."""
    changes: list[tuple[float, str | None]] = []
    for entry in entries:
        kind = entry.get("type")
        if kind == timeline.STATE:
            speaker = ((entry.get("inquiry") or {}).get("speaker") or {}).get("id")
            changes.append((0.0, speaker))
        elif kind in FLOOR_STARTS:
            changes.append((float(entry["offset_s"]), (entry.get("speaker") or {}).get("id")))
        elif kind in FLOOR_ENDS:
            changes.append((float(entry["offset_s"]), None))
    return changes


def export_view(recording: Recording, files: list[RecordingFile] | None = None) -> dict:
    composed = None if files is None else next((f.name for f in files if f.kind == "composed"), None)
    return {
        "state": recording.export_state,
        "progress": round(recording.export_progress or 0.0, 3),
        "error": recording.export_error,
        "file": composed,
    }


class ExportRuntime:
    def __init__(
        self, host: Host, *, emit_to: Emit | None = None, node_id: str | None = None,
        directory: Path | None = None, nice: int = WORKER_NICE,
    ) -> None:
        self.host = host
        # The hub's `emit_to` (Host has no such method: duck-typed, so this
        # layer never imports signaling); without one, clients poll the REST view.
        self._emit_to: Emit | None = emit_to or getattr(host, "emit_to", None)
        self.node_id = node_id or getattr(host, "node_id", None)
        settings = host.settings
        self.directory = directory or getattr(settings, "recordings_path", None) or settings.data_dir / "recordings"
        self.nice = nice
        self._slot = asyncio.Semaphore(1)
        self._jobs: dict[str, asyncio.Task] = {}
        # Claimed here and not yet done or failed (a job cancelled by the
        # hub's shutdown stays here until close() marks it interrupted).
        self._claimed: set[str] = set()
        self._operators: dict[str, list[str]] = {}  # recording id -> its meeting's chair and clerk
        self._workers: dict[str, asyncio.subprocess.Process] = {}
        self._closed = False

    # -- asking ------------------------------------------------------------------

    async def request(self, recording_id: str) -> dict:
        """Queue an export of a stopped recording; its `export` view."""
        if self._closed:
            raise StateError("the hub is shutting down")
        async with self.host.db.transaction() as tx:
            recording = await service.get(tx, recording_id)
            if recording.stopped_at is None:
                raise StateError("the recording is still running: stop it before exporting")
            claimed = await tx.execute(
                update(Recording)
                .where(
                    Recording.id == recording_id,
                    or_(
                        Recording.export_state.is_(None),
                        Recording.export_state.not_in(BUSY),
                        # The process that ran it is gone: its job died with it.
                        Recording.export_node.is_(None),
                        Recording.export_node.not_in(select(Node.id)),
                    ),
                )
                .values(export_state="queued", export_progress=0.0, export_error=None, export_node=self.node_id)
                .execution_options(synchronize_session=False)
            )
            if claimed.rowcount != 1:
                raise Conflict("an export of this recording is already under way")
            await tx.refresh(recording)
            view = export_view(recording)
            meeting_id = recording.meeting_id
        self._claimed.add(recording_id)
        await self._tell(meeting_id, recording_id, "queued", 0.0)
        self._jobs[recording_id] = self.host.spawn(self._run(recording_id, meeting_id), f"export:{recording_id}")
        return view

    # -- the job -----------------------------------------------------------------

    async def _run(self, recording_id: str, meeting_id: str) -> None:
        try:
            async with self._slot:
                job = await self._job(recording_id)
                await self._set(recording_id, export_state="running", export_progress=0.0)
                await self._tell(meeting_id, recording_id, "running", 0.0)
                result = await self._compose(recording_id, meeting_id, job)
            await self._finish(recording_id, result)
            self._claimed.discard(recording_id)
            await self._tell(meeting_id, recording_id, "done", 1.0)
        except asyncio.CancelledError:
            raise  # close() marks it interrupted
        except Exception as exc:
            log.warning("export of recording %s failed: %s", recording_id, exc)
            try:
                await self._set(recording_id, export_state="failed", export_error=str(exc)[:500])
                self._claimed.discard(recording_id)
                await self._tell(meeting_id, recording_id, "failed", None)
            except Exception:
                log.exception("export of recording %s: could not record the failure", recording_id)
        finally:
            self._jobs.pop(recording_id, None)

    async def _job(self, recording_id: str) -> ComposeJob:
        async with self.host.db.read() as session:
            recording = await service.get(session, recording_id)
            files = (await service.files_of(session, [recording_id]))[recording_id]
            entries = await timeline.build_timeline(session, recording)
        assert recording.stopped_at is not None
        duration = (service.aware(recording.stopped_at) - service.aware(recording.started_at)).total_seconds()
        media = [
            # A screen share's segment is named `<participant>-<segment>-screen-<process>`.
            MediaInput(f.name, f.participant_id, f.offset_s, f.duration_s, screen="-screen" in f.name)
            for f in files if f.kind == "media" and f.participant_id is not None
        ]
        folder = self.directory / recording_id
        return ComposeJob(directory=folder, files=media, floor=floor_changes(entries),
                          duration_s=max(duration, 0.0), output=folder / COMPOSED)

    async def _compose(self, recording_id: str, meeting_id: str, job: ComposeJob) -> dict:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH")) if p)
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", WORKER_MODULE, "--nice", str(self.nice),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
        )
        self._workers[recording_id] = process
        stderr_tail: list[bytes] = []

        async def drain_stderr() -> None:
            assert process.stderr is not None
            async for line in process.stderr:
                stderr_tail.append(line)
                del stderr_tail[:-20]

        stderr_task = asyncio.ensure_future(drain_stderr())
        try:
            assert process.stdin is not None and process.stdout is not None
            process.stdin.write(json.dumps(job.to_dict()).encode())
            await process.stdin.drain()
            process.stdin.close()
            result: dict = {}
            told_at = 0.0
            async for line in process.stdout:
                try:
                    message = json.loads(line)
                except ValueError:
                    continue
                if "progress" in message:
                    now = time.monotonic()
                    if now - told_at >= PROGRESS_EVERY_S:
                        told_at = now
                        progress = min(1.0, max(0.0, float(message["progress"])))
                        await self._set(recording_id, export_progress=progress)
                        await self._tell(meeting_id, recording_id, "running", progress)
                else:
                    result = message
            code = await process.wait()
            await stderr_task
        finally:
            self._workers.pop(recording_id, None)
            if process.returncode is None:
                process.kill()
                await process.wait()
            stderr_task.cancel()
            if process.returncode != 0:  # killed or failed: nothing half-written stays behind
                job.output.with_name(job.output.name + ".partial").unlink(missing_ok=True)
        if code != 0 or not result.get("done"):
            reason = result.get("error") or (stderr_tail[-1].decode(errors="replace").strip() if stderr_tail else "")
            raise RuntimeError(reason or f"the compose worker ended with {code}")
        return result

    async def _finish(self, recording_id: str, result: dict) -> None:
        now = utcnow()
        async with self.host.db.transaction() as tx:
            await tx.execute(delete(RecordingFile).where(
                RecordingFile.recording_id == recording_id, RecordingFile.name == COMPOSED))
            tx.add(RecordingFile(
                recording_id=recording_id, name=COMPOSED, kind="composed", participant_id=None, node_id=self.node_id,
                segment=0, tracks=COMPOSED_TRACKS, offset_s=0.0, bytes=int(result["bytes"]),
                duration_s=float(result["duration_s"]), state="complete", created_at=now, updated_at=now,
            ))
            await tx.execute(update(Recording).where(Recording.id == recording_id).values(
                export_state="done", export_progress=1.0, export_error=None))

    async def _set(self, recording_id: str, **values) -> None:
        async with self.host.db.transaction() as tx:
            await tx.execute(update(Recording).where(Recording.id == recording_id).values(**values))

    async def _tell(self, meeting_id: str, recording_id: str, state: str, progress: float | None) -> None:
        """`recording:export` to the meeting's chair and clerk (best effort: the row is the truth)."""
        if self._emit_to is None:
            return
        try:
            operators = self._operators.get(recording_id)
            if operators is None or state == "queued":  # looked up once per job
                async with self.host.db.read() as session:
                    people = await directory.participants_of(session, meeting_id)
                operators = self._operators[recording_id] = [p.id for p in people if p.role in OPERATORS]
            if state in ("done", "failed"):
                self._operators.pop(recording_id, None)
            data = {"recording_id": recording_id, "state": state,
                    "progress": None if progress is None else round(progress, 3)}
            for participant_id in operators:
                await self._emit_to(participant_id, EXPORT_EVENT, data)
        except Exception as exc:
            log.info("export of recording %s: could not tell the operators: %s", recording_id, exc)

    # -- shutdown ----------------------------------------------------------------

    async def close(self) -> None:
        """Kill this process's worker; its jobs (running or queued) are `failed` ("interrupted")."""
        self._closed = True
        for process in list(self._workers.values()):
            if process.returncode is None:
                try:
                    process.kill()
                except ProcessLookupError:
                    pass
        jobs = dict(self._jobs)
        for task in jobs.values():
            task.cancel()
        await asyncio.gather(*jobs.values(), return_exceptions=True)
        for process in list(self._workers.values()):
            await process.wait()
        interrupted, self._claimed = sorted(self._claimed), set()
        if not interrupted:
            return
        try:
            async with self.host.db.transaction() as tx:
                await tx.execute(
                    update(Recording)
                    .where(Recording.id.in_(interrupted), Recording.export_state.in_(BUSY),
                           Recording.export_node == self.node_id)
                    .values(export_state="failed", export_error="interrupted")
                )
        except Exception as exc:
            log.warning("exports: could not mark %d interrupted job(s): %s", len(interrupted), exc)
