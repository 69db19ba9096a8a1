"""The Hub: what one `plenary serve` process holds, and who owns its tasks.

It owns each feature's runtime (media, inquiry, voting turnout, documents):
made here, started by `start()`, closed by `close()`, reached through a
typed attribute. Below the signalling layer they see the hub only through
`sessions.host.Host`, so nothing there imports upward.

Meeting events follow one convention: a domain service appends them to the
log in the transaction that makes the change and returns them; after the
commit, `publish` sends each to the meeting with its `seq`, under the name
it has in the log.
"""
from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Collection
from typing import Any

import socketio
from sqlalchemy import select

from media.service import MediaService
from recordings.exports import ExportRuntime
from recordings.runtime import RecordingRuntime
from sessions import events, presence
from sessions.db import Database
from sessions.errors import unavailable_from
from sessions.documents.runtime import DocumentsRuntime
from sessions.events import LoggedEvent
from sessions.identity import TokenService
from sessions.inquiry.runtime import InquiryRuntime
from sessions.models import Connection, Participant
from sessions.roles import Role
from signaling import memtrace
from signaling.cascade import Cascade
from signaling.config import Settings
from signaling.metrics import Metrics
from signaling.registry import Caller, Events
from voting.turnout import TurnoutPump

log = logging.getLogger(__name__)

NAMESPACE = "/meeting"
# Joins come in storms (a hall of 40 at the opening bell); one roster per
# client per quarter second is plenty.
ROSTER_DEBOUNCE_S = 0.25
ROSTER_PRESENCE = "roster:presence"
# While the database cannot be reached, the heartbeat tries this often, so
# presence is put right within a second or so of its return.
OUTAGE_RETRY_S = 1.0


def meeting_room(meeting_id: str) -> str:
    return f"m:{meeting_id}"


def roster_room(meeting_id: str, *, delta: bool) -> str:
    """Clients of a meeting by how they take roster changes (see _publish_roster)."""
    return f"m:{meeting_id}:roster-{'delta' if delta else 'full'}"


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
        # Who is in each meeting, for rosters and syncs (checked against the database each time).
        self.people = presence.PeopleCache()
        self.features: list[Events] = []
        self._tasks: set[asyncio.Task] = set()
        self._debounced: set[str] = set()
        # Presence bookkeeping across a database outage (see _heartbeat).
        self._db_lost_at: float | None = None
        self._presence_stale = False
        self._reap_after = 0.0
        # The feature runtimes. None of them starts a task or a process
        # before start(): a hub that is made and dropped leaves nothing.
        self.media = MediaService(
            ice_servers=settings.ice_servers,
            allow_loopback=settings.media_loopback,
            public_address=settings.media_public_address,
            on_tracks_changed=self._tracks_changed,
            on_active_speaker=self._active_speaker,
            on_offer=self.send_offer,
            on_pipe_closed=self._pipe_closed,
            pipe_bind_host=settings.media_address,
            pipe_announced_host=settings.media_announced_address,
            pipe_dead_after=settings.media_pipe_timeout_s,
            pipe_ports=settings.media_pipe_ports,
            pipe_srtp=settings.media_pipe_srtp,
        )
        self.metrics.watch_media(self.media.stats)
        # Media across processes: with Redis, the hub's other processes pipe
        # their tracks here when our clients want them, and ours there.
        self.cascade: Cascade | None = (
            Cascade(self.node_id, settings.redis_url, self.media, self._publish_tracks) if settings.redis_url else None
        )
        self.inquiry = InquiryRuntime(self, self.media.set_audio_allowlist)
        self.turnout = TurnoutPump(self)
        self.documents = DocumentsRuntime(self)
        self.recordings = RecordingRuntime(self, self.media, self.node_id, settings.recordings_path)
        self.exports = ExportRuntime(self)

    # -- events ---------------------------------------------------------------

    async def publish(
        self,
        logged: LoggedEvent,
        body: dict | None = None,
        *,
        event: str | None = None,
        audience: Collection[str] | None = None,
        rooms: Collection[str] | None = None,
        counted: bool = True,
    ) -> None:
        """Send one committed meeting event to its meeting, with its seq.

        It goes out under its name in the log, unless `event` names the
        feature's broadcast (the inquiry sends its whole folded state as
        `inquiry:state` for each of its changes). `body` replaces the logged
        payload when the wire carries more or less than the log keeps (the
        roster's names, a paper's share list); `audience` narrows it to those
        participants (a paper shared with some: the others see a gap in seq);
        `rooms` to those Socket.IO rooms (the roster's two shapes; the second
        is not `counted` again in the metrics).
        """
        name = event or logged.type
        if counted:
            self.metrics.meeting_events.labels(logged.type).inc()
        data = dict(logged.payload if body is None else body)
        data["seq"] = logged.seq
        if rooms is not None:
            await self.sio.emit(name, data, room=list(rooms), namespace=NAMESPACE)
        elif audience is None:
            await self.sio.emit(name, data, room=meeting_room(logged.meeting_id), namespace=NAMESPACE)
        elif audience:
            await self.sio.emit(name, data, room=[participant_room(p) for p in audience], namespace=NAMESPACE)

    async def record(
        self, meeting_id: str, type: str, payload: dict, *, publish: bool = True, actor_id: str | None = None
    ) -> LoggedEvent:
        """Append one event that no domain change goes with (the SFU's track
        list lives in memory), in its own transaction, then publish it."""
        async with self.db.transaction() as tx:
            logged = await events.append(tx, meeting_id, type, payload, actor_id=actor_id)
        if publish:
            await self.publish(logged)
        return logged

    def request_roster(self, meeting_id: str) -> None:
        """Publish the meeting's roster soon: once for a burst of joins and leaves."""
        self.debounce(f"roster:{meeting_id}", ROSTER_DEBOUNCE_S, lambda: self._publish_roster(meeting_id))

    async def _publish_roster(self, meeting_id: str) -> None:
        async with self.db.transaction() as tx:
            logged, participants, change = await presence.record_roster(tx, meeting_id, self.people)
        if change is None:
            await self.publish(logged, {"participants": participants})
            return
        # One seq, two shapes: the whole roster for clients that asked for it
        # (the contract's default), the presence change for those that keep
        # their roster themselves (auth `roster: "delta"`).
        await self.publish(logged, {"participants": participants}, rooms=[roster_room(meeting_id, delta=False)])
        await self.publish(logged, {"online": change.online, "offline": change.offline},
                           event=ROSTER_PRESENCE, rooms=[roster_room(meeting_id, delta=True)], counted=False)

    async def emit_to(self, participant_id: str, event: str, data: Any) -> None:
        await self.sio.emit(event, data, room=participant_room(participant_id), namespace=NAMESPACE)

    async def emit_unsequenced(self, meeting_id: str, event: str, data: Any) -> None:
        """For volatile signals that are not meeting events (e.g. active speaker)."""
        await self.sio.emit(event, data, room=meeting_room(meeting_id), namespace=NAMESPACE)

    # -- what the SFU tells the meeting ----------------------------------------

    async def tracks(self, meeting_id: str) -> list[dict]:
        """The meeting's tracks, published on any process of the hub."""
        if self.cascade is not None:
            return await self.cascade.tracks(meeting_id)
        return [t.to_dict() for t in self.media.tracks(meeting_id)]

    async def _tracks_changed(self, meeting_id: str) -> None:
        # This process records the tracks published through it (and only those).
        await self.recordings.sync(meeting_id)
        # A track piped in or out changes nothing the meeting sees: only
        # the process where a track is published or unpublished tells.
        if self.cascade is not None and not await self.cascade.local_tracks_changed(meeting_id):
            return
        await self._publish_tracks(meeting_id)

    async def _publish_tracks(self, meeting_id: str) -> None:
        await self.record(meeting_id, "media:tracks", {"tracks": await self.tracks(meeting_id)})

    async def _pipe_closed(self, meeting_id: str, remote_node: str, reason: str) -> None:
        if self.cascade is not None:
            await self.cascade.pipe_closed(meeting_id, remote_node, reason)

    async def _active_speaker(self, meeting_id: str, participant_id: str | None) -> None:
        # Volatile and frequent: not a meeting event, so no seq.
        await self.emit_unsequenced(meeting_id, "media:active-speaker", {"participant_id": participant_id})

    async def send_offer(self, meeting_id: str, participant_id: str, connection_id: str, sdp: str) -> None:
        # To the connection whose peer made the offer, never the participant's
        # room: another connection of the same participant (a reload) would
        # take an offer meant for a peer connection it does not have.
        consumers = self.media.consumers(meeting_id, participant_id, connection=connection_id)
        await self.sio.emit("media:offer", {"sdp": sdp, "consumers": consumers}, to=connection_id, namespace=NAMESPACE)

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
            waiting_for_db = False
            while True:
                try:
                    await job()
                    waiting_for_db = False
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    if unavailable_from(exc) is None:
                        log.exception("periodic job %s failed", name)
                    elif not waiting_for_db:  # one line per outage, not one per run
                        log.warning("periodic job %s: the database is unavailable", name)
                        waiting_for_db = True
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
            if unavailable_from(task.exception()) is not None:
                log.warning("task %s failed: the database is unavailable", task.get_name())
            else:
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
        self.spawn(self._heartbeat_loop(), "presence-heartbeat")
        memtrace.start_if_enabled(self)  # off unless PLENARY_TRACEMALLOC is set
        memtrace.start_trimming(self)
        self.inquiry.start()
        self.recordings.start()
        if self.cascade is not None:
            await self.cascade.start(self.spawn, self.every)
        for feature in self.features:
            for starter in feature.starters:
                await starter(self)

    async def meeting_closed(self, meeting_id: str, closed_by: str | None) -> None:
        """The meeting was closed (its `meeting:status` is out): each feature
        finishes what the meeting left running, then its recording stops, so
        the files and the timeline end with the last event."""
        for feature in self.features:
            for hook in feature.close_hooks:
                try:
                    await hook(self, meeting_id, closed_by)
                except Exception:
                    log.exception("close hook %s failed for meeting %s", hook.__qualname__, meeting_id)
        await self.recordings.stop_if_recording(meeting_id, closed_by)

    # -- presence heartbeat -----------------------------------------------------

    def presence_stale(self) -> None:
        """A presence write failed (the database was away): the next heartbeat
        that reaches the database makes the rows agree with this process."""
        self._presence_stale = True

    async def _heartbeat_loop(self) -> None:
        interval = presence.HEARTBEAT_INTERVAL.total_seconds()
        while True:
            try:
                await self._heartbeat()
                delay = interval
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._presence_stale = True
                if unavailable_from(exc) is None:
                    log.exception("presence heartbeat failed")
                elif self._db_lost_at is None:
                    log.warning("the database is unavailable (%s); node %s keeps its %d connections and retries "
                                "every %.0f s", type(exc).__name__, self.node_id, len(self._held()), OUTAGE_RETRY_S)
                if self._db_lost_at is None:
                    self._db_lost_at = time.monotonic()
                delay = min(interval, OUTAGE_RETRY_S)
            await asyncio.sleep(delay)

    def _namespace(self) -> Any:
        return self.sio.namespace_handlers.get(NAMESPACE)

    def _held(self) -> dict[str, tuple[str, str]]:
        ns = self._namespace()
        return ns.held() if ns is not None else {}

    def _held_sids(self) -> set[str]:
        ns = self._namespace()
        return ns.held_sids() if ns is not None else set()

    async def _heartbeat(self) -> None:
        recovering = self._db_lost_at is not None
        if recovering:
            # Every node's heartbeat stopped with the database: give the others
            # a full timeout to beat again before counting any of them dead.
            self._reap_after = time.monotonic() + presence.NODE_TIMEOUT.total_seconds()
        restore = self._presence_stale
        restored: set[str] = set()
        changed: set[str] = set()
        held_before = self._held()
        async with self.db.transaction() as tx:
            alive = await presence.heartbeat(tx, self.node_id)
            if not alive or restore:
                # Reaped by another node while this one could not reach the
                # database, or a presence write failed meanwhile.
                restored, changed = await presence.restore_node(tx, self.node_id, held_before, self._held_sids)
            reaped = await presence.reap_dead_nodes(tx) if time.monotonic() >= self._reap_after else []
            live = await presence.live_meeting_ids(tx)
        self._presence_stale = bool(restored - self._held_sids())  # closed while we wrote its row back
        if recovering:
            log.info("the database is back after %.1f s; node %s %s", time.monotonic() - self._db_lost_at,
                     self.node_id, "re-registered with %d connections" % len(restored) if not alive else "kept its row")
            self._db_lost_at = None
        elif not alive:
            log.warning("node %s had been reaped; re-registered with %d connections", self.node_id, len(restored))
        self.metrics.live_meetings.set(len(live))
        if reaped:
            # A node died: its clients went offline, and nobody ran their leave hooks.
            await self._run_lost_hooks(reaped)
        for meeting_id in changed | {c.meeting_id for c in reaped}:
            self.request_roster(meeting_id)

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
        # Before anything stops: every open recording file gets its trailer
        # while its producers still exist (SIGTERM comes here).
        await self.recordings.close()
        await self.exports.close()  # kills its worker; a job under way is failed ("interrupted")
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.cascade is not None:
            await self.cascade.close()
        await self.media.close()
        await self.documents.close()
        try:
            async with self.db.transaction() as tx:
                await presence.forget_node(tx, self.node_id)
        except Exception:
            log.exception("could not forget node %s", self.node_id)
        await self.db.dispose()
