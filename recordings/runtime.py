"""Recording's per-hub part: starting and stopping, the recorder, the timeline.

The hub makes one at start-up (`hub.recordings`); Socket.IO handlers call
`start_recording` / `stop_recording`, and the recorder calls back here when
writing fails, which stops the recording with the error for every site.
"""
from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from media.service import MediaService
from recordings import service, timeline
from recordings.recorder import Recorder
from sessions.errors import StateError
from sessions.host import Host

log = logging.getLogger(__name__)

TIMELINE = "timeline.jsonl"


class RecordingRuntime:
    def __init__(self, host: Host, media: MediaService, node_id: str, directory: Path) -> None:
        self.host = host
        self.directory = directory
        self.recorder = Recorder(host, media, node_id, directory, self._writing_failed)

    def start(self) -> None:
        self.recorder.start()

    async def start_recording(self, meeting_id: str, actor_id: str | None) -> str:
        async with self.host.db.transaction() as tx:
            recording, logged = await service.start(tx, meeting_id, actor_id)
        await self.host.publish(logged)
        await self.recorder.begin(recording.id, meeting_id, service.aware(recording.started_at))
        return recording.id

    async def stop_recording(
        self, meeting_id: str, actor_id: str | None, *, error: dict | None = None, recording_id: str | None = None
    ) -> str:
        async with self.host.db.transaction() as tx:
            recording, logged = await service.stop(tx, meeting_id, actor_id, error=error, recording_id=recording_id)
        await self.host.publish(logged)
        await self.recorder.finish(meeting_id)
        await self.write_timeline(recording.id)
        return recording.id

    async def stop_if_recording(self, meeting_id: str, actor_id: str | None) -> str | None:
        """The meeting ends: its recording, if one runs, ends with it."""
        try:
            return await self.stop_recording(meeting_id, actor_id)
        except StateError:
            return None

    async def write_timeline(self, recording_id: str) -> None:
        """`timeline.jsonl` from the event log: every process's events are
        there, so one writer suffices (the one that stopped the recording)."""
        async with self.host.db.read() as session:
            recording = await service.get(session, recording_id)
            entries = await timeline.build_timeline(session, recording)
        data = timeline.to_jsonl(entries)
        path = self.directory / recording_id / TIMELINE

        def write() -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(".partial")
            partial.write_bytes(data)
            partial.replace(path)  # readers never see half a timeline

        try:
            await asyncio.get_running_loop().run_in_executor(None, write)
        except OSError as exc:  # a full disk: the media files are what matter
            log.error("recording %s: could not write the timeline: %s", recording_id, exc)
            return
        async with self.host.db.transaction() as tx:
            await service.put_file(tx, recording_id, name=TIMELINE, kind="timeline", bytes=len(data))

    async def sync(self, meeting_id: str) -> None:
        """The meeting's local tracks changed: record what is published now."""
        if self.recorder.is_recording(meeting_id):
            await self.recorder.sync(meeting_id)

    async def _writing_failed(self, meeting_id: str, recording_id: str, error: dict) -> None:
        try:
            await self.stop_recording(meeting_id, None, error=error, recording_id=recording_id)
        except StateError:
            pass  # stopped meanwhile (by a person, or another process's failure)

    async def close(self) -> None:
        await self.recorder.close()
