"""The Hub: what one `plenary serve` process holds, and who owns its tasks."""
from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import socketio
from sqlalchemy import select

from sessions import events, presence
from sessions.db import Database
from sessions.events import LoggedEvent
from sessions.identity import TokenService
from sessions.models import Connection, Participant
from sessions.roles import Role
from signaling import memtrace
from signaling.config import Settings
from signaling.handlers.presence import request_roster
from signaling.metrics import Metrics
from signaling.registry import Caller

if TYPE_CHECKING:
    from media.service import MediaService
    from signaling.registry import Events
    from signaling.server import MeetingNamespace

log = logging.getLogger(__name__)

NAMESPACE = "/meeting"


def meeting_room(meeting_id: str) -> str:
    return f"m:{meeting_id}"


def participant_room(participant_id: str) -> str:
    return f"p:{participant_id}"


class Hub:
    def __init__(self, settings: Settings, sio: socketio.AsyncServer) -> None:
        self.settings = settings
        self.node_id = uuid.uuid4().hex
        self.db = Database(settings.database_url)
        self.tokens = TokenService(settings.signing_secret())
        self.sio = sio
        self.metrics = Metrics()
        self.media: MediaService | None = None
        self.features: list[Events] = []
        self.namespace: MeetingNamespace | None = None
        self._tasks: set[asyncio.Task] = set()
        self._debounced: set[str] = set()

    # -- events ---------------------------------------------------------------

    async def record(
        self, meeting_id: str, type: str, payload: dict, *, broadcast: str | None = None, actor_id: str | None = None
    ) -> LoggedEvent:
        """Append one event in its own transaction, then broadcast it."""
        async with self.db.transaction() as tx:
            logged = await events.append(tx, meeting_id, type, payload, actor_id=actor_id)
        if broadcast:
            await self.broadcast(logged, broadcast)
        return logged

    async def broadcast(self, logged: LoggedEvent, event: str, data: dict | None = None) -> None:
        """Send a logged event to the meeting's room with its seq (after commit)."""
        self.metrics.meeting_events.labels(logged.type).inc()
        body = dict(logged.payload if data is None else data)
        body["seq"] = logged.seq
        await self.sio.emit(event, body, room=meeting_room(logged.meeting_id), namespace=NAMESPACE)

    async def emit_to(self, participant_id: str, event: str, data: Any) -> None:
        await self.sio.emit(event, data, room=participant_room(participant_id), namespace=NAMESPACE)

    async def emit_unsequenced(self, meeting_id: str, event: str, data: Any) -> None:
        """For volatile signals that are not meeting events (e.g. active speaker)."""
        await self.sio.emit(event, data, room=meeting_room(meeting_id), namespace=NAMESPACE)

    # -- tasks ----------------------------------------------------------------

    def spawn(self, coro: Awaitable[Any], name: str) -> asyncio.Task:
        """Start a task the hub owns: it is cancelled when the hub closes."""
        task = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def every(self, interval_s: float, job: Callable[[], Awaitable[Any]], name: str) -> asyncio.Task:
        async def loop() -> None:
            while True:
                try:
                    await job()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("periodic job %s failed", name)
                await asyncio.sleep(interval_s)

        return self.spawn(loop(), name)

    def debounce(self, key: str, delay_s: float, job: Callable[[], Awaitable[Any]]) -> None:
        """Run `job` once after `delay_s`, however often it is asked for meanwhile.

        For broadcasts that carry whole snapshots (the roster): a storm of
        joins becomes one message per client instead of one per join.
        """
        if key in self._debounced:
            return
        self._debounced.add(key)

        async def later() -> None:
            try:
                await asyncio.sleep(delay_s)
            finally:
                self._debounced.discard(key)
            await job()

        self.spawn(later(), f"debounce:{key}")

    def _task_done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("task %s failed", task.get_name(), exc_info=task.exception())

    @property
    def task_count(self) -> int:
        return len(self._tasks)

    # -- life cycle -------------------------------------------------------------

    async def start(self) -> None:
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        await self.db.migrate()
        async with self.db.transaction() as tx:
            await presence.register_node(tx, self.node_id)
        self.every(presence.HEARTBEAT_INTERVAL.total_seconds(), self._heartbeat, "presence-heartbeat")
        memtrace.start_if_enabled(self)  # off unless PLENARY_TRACEMALLOC is set
        memtrace.start_trimming(self)

    async def _heartbeat(self) -> None:
        async with self.db.transaction() as tx:
            await presence.heartbeat(tx, self.node_id)
            lost = await presence.reap_dead_nodes(tx)
            live = await presence.live_meeting_ids(tx)
        self.metrics.live_meetings.set(len(live))
        if not lost:
            return
        # A node died: its clients went offline, and nobody ran their leave hooks.
        await self._run_lost_hooks(lost)
        for meeting_id in {c.meeting_id for c in lost}:
            request_roster(self, meeting_id)

    async def _run_lost_hooks(self, lost: list[Connection]) -> None:
        async with self.db.read() as session:
            people = {p.id: p for p in await session.scalars(
                select(Participant).where(Participant.id.in_({c.participant_id for c in lost}))
            )}
        for connection in lost:
            person = people.get(connection.participant_id)
            if person is None:
                continue  # removed from the meeting meanwhile
            caller = Caller(connection.sid, person.id, connection.meeting_id, Role(person.role), person.name)
            for feature in self.features:
                for hook in feature.lost_hooks:
                    try:
                        await hook(self, caller)
                    except Exception:
                        log.exception("lost hook failed for %s", caller.participant_id)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.media is not None:
            await self.media.close()
        try:
            async with self.db.transaction() as tx:
                await presence.forget_node(tx, self.node_id)
        except Exception:
            log.exception("could not forget node %s", self.node_id)
        await self.db.dispose()
