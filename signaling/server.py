"""The Socket.IO server on `/meeting`: auth on connect, validated dispatch."""
from __future__ import annotations

import asyncio
import importlib
import logging
import pkgutil
import time
from typing import TYPE_CHECKING, Any

import socketio
from pydantic import ValidationError

import signaling.handlers
from sessions import directory, presence
from sessions.errors import (
    HubError, Invalid, NotFound, RateLimited, TooLarge, Unauthorized, format_validation_error, unavailable_from,
)
from sessions.meetings import invitations
from sessions.roles import Role
from signaling.redis_client import bounded_redis
from signaling.hub import roster_room
from signaling.registry import Caller, Events, EventSpec
from signaling.wire import TRANSPORT_LIMIT_BYTES, WireError, WireServer

if TYPE_CHECKING:
    from signaling.hub import Hub

log = logging.getLogger(__name__)

# A client may burst, but not flood: refills RATE per second up to BURST.
RATE = 30.0
BURST = 120.0
# Engine.IO heartbeat: the server pings every PING_INTERVAL_S and drops a
# client that has not answered PING_TIMEOUT_S later, so a site whose network
# vanished shows offline within about 10 s (engine.io's defaults, 25 + 20,
# took 44 s). A link with a round trip under ~5 s is never dropped.
PING_INTERVAL_S = 5.0
PING_TIMEOUT_S = 5.0


# Redis: seconds for a publish to answer (signaling/redis_client.py bounds the
# connect); while Redis is away the subscriber tries again this often
# (python-socketio doubles its wait up to 60 s, so broadcasts between
# processes stayed off for up to a minute after Redis came back).
REDIS_PUBLISH_TIMEOUT_S = 2.0
REDIS_RETRY_S = 0.5


class HubRedisManager(socketio.AsyncRedisManager):
    """python-socketio's Redis manager, made to ride out a Redis restart.

    The subscriber reconnects and subscribes again every REDIS_RETRY_S while
    Redis is away (one warning when it goes, one line when it is back), and
    publishing has a client of its own with bounded waits: while Redis is
    away an emit still reaches this process's clients (python-socketio
    delivers locally before it publishes) and the publish fails at once
    (refused) or within the connect and publish timeouts (unreachable), and
    after a failure emits skip publishing for REDIS_RETRY_S, so no handler
    that emits is held long. What other
    processes would have received meanwhile is lost (Redis pub/sub keeps
    nothing); their clients see a gap in `seq` and ask for `state:sync`.
    """

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self._publisher: Any = None
        self._subscriber: Any = None
        self._publish_failing = False
        self._publish_failed_at = 0.0

    def _client(self, *, read_timeout: float | None) -> Any:
        return bounded_redis(self.redis_url, read_timeout=read_timeout)

    async def _publish(self, data: Any) -> Any:
        if self._publish_failing and time.monotonic() - self._publish_failed_at < REDIS_RETRY_S:
            return None  # Redis just failed: do not make every emit wait for it again
        message = self.json.dumps(data)
        for attempt in (1, 2):
            try:
                if self._publisher is None:
                    self._publisher = self._client(read_timeout=REDIS_PUBLISH_TIMEOUT_S)
                result = await self._publisher.publish(self.channel, message)
            except Exception as exc:
                old, self._publisher = self._publisher, None
                await _close_quietly(old)
                if attempt == 2:
                    if not self._publish_failing:
                        log.warning("cannot publish to Redis (%s): until it is back, broadcasts reach only "
                                    "this process's clients", type(exc).__name__)
                    self._publish_failing = True
                    self._publish_failed_at = time.monotonic()
                continue
            if self._publish_failing:
                log.info("publishing to Redis again")
                self._publish_failing = False
            return result
        return None

    async def _redis_listen_with_retries(self):  # type: ignore[override]
        lost_at: float | None = None
        while True:
            try:
                if self._subscriber is None:
                    # No read timeout: the channel may be quiet for hours.
                    self._subscriber = self._client(read_timeout=None)
                    self.pubsub = self._subscriber.pubsub(ignore_subscribe_messages=True)
                    await self.pubsub.subscribe(self.channel)
                    if lost_at is not None:
                        log.info("Redis is back after %.1f s: broadcasts between processes resume",
                                 time.monotonic() - lost_at)
                        lost_at = None
                async for message in self.pubsub.listen():
                    yield message
                raise ConnectionError("the Redis subscription ended")
            except Exception as exc:
                if lost_at is None:
                    lost_at = time.monotonic()
                    log.warning("lost the Redis subscription (%s): retrying every %.1f s", type(exc).__name__,
                                REDIS_RETRY_S)
                subscriber, pubsub, self._subscriber = self._subscriber, self.pubsub, None
                await _close_quietly(pubsub)
                await _close_quietly(subscriber)
                await asyncio.sleep(REDIS_RETRY_S)


async def _close_quietly(client: Any) -> None:
    if client is None:
        return
    try:
        await client.aclose()
    except Exception:
        pass


def create_sio(
    redis_url: str | None, ping_interval_s: float = PING_INTERVAL_S, ping_timeout_s: float = PING_TIMEOUT_S
) -> socketio.AsyncServer:
    manager = HubRedisManager(redis_url) if redis_url else None
    # WireServer: undecodable or oversized packets are answered on their ack
    # id (see signaling/wire.py for the limits and what happens to the rest).
    return WireServer(
        async_mode="aiohttp",
        client_manager=manager,
        cors_allowed_origins=[],
        max_http_buffer_size=TRANSPORT_LIMIT_BYTES,
        # Every client of ours (browser, bench, tests) speaks websocket only;
        # long-polling would be a second decode path (engine.io logs a
        # traceback per malformed POST) that nobody uses.
        transports=["websocket"],
        ping_interval=ping_interval_s,
        ping_timeout=ping_timeout_s,
        logger=False,
        engineio_logger=False,
    )


def discover_events() -> list[Events]:
    found = []
    for info in sorted(pkgutil.iter_modules(signaling.handlers.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"signaling.handlers.{info.name}")
        if isinstance(getattr(module, "events", None), Events):
            found.append(module.events)
    return found


class _Bucket:
    __slots__ = ("tokens", "stamp")

    def __init__(self) -> None:
        self.tokens = BURST
        self.stamp = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(BURST, self.tokens + (now - self.stamp) * RATE)
        self.stamp = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class MeetingNamespace(socketio.AsyncNamespace):
    def __init__(self, hub: "Hub", feature_events: list[Events]) -> None:
        super().__init__("/meeting")
        self.hub = hub
        self.specs: dict[str, EventSpec] = {}
        self.features = feature_events
        for feature in feature_events:
            self.specs.update(feature.specs)
        self._callers: dict[str, Caller] = {}
        self._buckets: dict[str, _Bucket] = {}
        # Sids being admitted: their presence row may be written before they
        # become callers (the heartbeat's restore must not drop such a row).
        self._joining: set[str] = set()

    async def trigger_event(self, event: str | WireError, *args: Any) -> Any:
        if isinstance(event, WireError):
            return self.refuse_undecodable(args[0], event)
        if event == "connect":
            return await self.on_connect(*args)
        if event == "disconnect":
            return await self.on_disconnect(args[0])
        sid, *rest = args
        return await self.dispatch(sid, event, rest[0] if rest else None)

    def held(self) -> dict[str, tuple[str, str]]:
        """The connections this process holds: sid → (meeting_id, participant_id)."""
        return {sid: (c.meeting_id, c.participant_id) for sid, c in self._callers.items()}

    def held_sids(self) -> set[str]:
        """Sids held or being admitted right now."""
        return set(self._callers) | self._joining

    async def on_connect(self, sid: str, environ: dict, auth: Any = None) -> None:
        self._joining.add(sid)
        try:
            await self._connect(sid, environ, auth)
        finally:
            self._joining.discard(sid)

    async def _connect(self, sid: str, environ: dict, auth: Any = None) -> None:
        try:
            await self._admit(sid, auth)
        except socketio.exceptions.ConnectionRefusedError:
            raise  # python-socketio undoes a refused join itself
        except BaseException as exc:
            down = unavailable_from(exc) if isinstance(exc, Exception) else None
            if down is not None:
                # The database is away: refuse with why; the client retries.
                await asyncio.shield(self._abandon_join(sid))
                log.warning("join %s refused: the database is unavailable", sid)
                raise socketio.exceptions.ConnectionRefusedError(down.message) from None
            # A join cancelled (its client left mid-join: Engine.IO cancels
            # the handler, and python-socketio calls no disconnect handler for
            # a connection still joining) or failed is undone by nobody: its
            # rooms, caller entry and presence row would stay all day.
            await asyncio.shield(self._abandon_join(sid))
            if isinstance(exc, Exception):
                log.exception("join %s failed", sid)
                raise socketio.exceptions.ConnectionRefusedError("the hub could not admit this connection") from None
            raise
        if not self._still_connected(sid):
            # Engine.IO reported the connection closed while we admitted it,
            # from another task (GuardedWebSocket.close for a silent peer, a
            # ping timeout), so nothing cancelled this join: python-socketio
            # skipped the disconnect handler (the sid was still pending) and
            # marks the sid connected once we return, so its caller, rooms,
            # gauge and presence row would stay all day (bench/soak.py:
            # ~2 per storm of 150). Undo it here; nothing awaits between
            # this check and python-socketio's bookkeeping.
            await asyncio.shield(self._abandon_join(sid))
            raise socketio.exceptions.ConnectionRefusedError("the connection closed while joining")

    def _still_connected(self, sid: str) -> bool:
        eio_sid = self.server.manager.eio_sid_from_sid(sid, self.namespace)
        socket = self.server.eio.sockets.get(eio_sid) if eio_sid is not None else None
        return socket is not None and not socket.closing and not socket.closed

    async def _abandon_join(self, sid: str) -> None:
        if self._callers.pop(sid, None) is not None:
            self.hub.metrics.connected_clients.dec()
        self._buckets.pop(sid, None)
        await self.server.manager.disconnect(sid, self.namespace, ignore_queue=True)
        try:
            async with self.hub.db.transaction() as tx:
                await presence.disconnect(tx, sid)
        except Exception as exc:
            # The heartbeat drops the row once the database answers again.
            self.hub.presence_stale()
            if unavailable_from(exc) is None:
                log.exception("could not drop the presence row of abandoned join %s", sid)

    async def _admit(self, sid: str, auth: Any) -> None:
        token = auth.get("token") if isinstance(auth, dict) else None
        roster = auth.get("roster", "full") if isinstance(auth, dict) else "full"
        try:
            if roster not in ("full", "delta"):
                raise Invalid('auth "roster" is "full" (the default) or "delta"')
            identity = self.hub.tokens.verify(token if isinstance(token, str) else None)
            if identity.is_admin:
                raise Unauthorized("an admin token does not join a meeting; use a participant's join link")
            wanted = auth.get("meeting_id") if isinstance(auth, dict) else None
            if wanted is not None and wanted != identity.meeting_id:
                raise Unauthorized("token is for another meeting")
            async with self.hub.db.transaction() as tx:
                try:
                    participant = await directory.get_participant(tx, identity.sub)
                except NotFound:
                    raise Unauthorized("token names no participant of this hub") from None
                if participant.meeting_id != identity.meeting_id:
                    raise Unauthorized("token is for another meeting")
                if participant.role != identity.role.value:
                    raise Unauthorized("token's role no longer matches the participant")
                # A re-issued link's old token, or a closed meeting: refused.
                await invitations.check_link(tx, identity, connecting=True)
                await presence.connect(tx, sid, self.hub.node_id, participant.meeting_id, participant.id)
        except HubError as exc:
            raise socketio.exceptions.ConnectionRefusedError(exc.message) from None
        caller = Caller(sid, participant.id, participant.meeting_id, Role(participant.role), participant.name)
        self._callers[sid] = caller
        self._buckets[sid] = _Bucket()
        await self.enter_room(sid, f"m:{caller.meeting_id}")
        await self.enter_room(sid, roster_room(caller.meeting_id, delta=roster == "delta"))
        await self.enter_room(sid, f"p:{caller.participant_id}")
        self.hub.metrics.connected_clients.inc()
        # Goes out after connect returns, so the newcomer is in the room.
        self.hub.request_roster(caller.meeting_id)

    async def on_disconnect(self, sid: str) -> None:
        caller = self._callers.pop(sid, None)
        self._buckets.pop(sid, None)
        if caller is None:
            return
        self.hub.metrics.connected_clients.dec()
        # The row goes first, so a leave hook that asks "is this participant
        # still connected anywhere?" sees the answer after this leave; two
        # tabs closing together then cannot each count the other and skip.
        try:
            async with self.hub.db.transaction() as tx:
                await presence.disconnect(tx, sid)
        except Exception as exc:
            # The leave hooks run anyway: a media peer left behind holds
            # sockets, a thread's buffers and memory for the rest of the day.
            # The row goes at the heartbeat after the database answers again.
            self.hub.presence_stale()
            if unavailable_from(exc) is None:
                log.exception("could not drop the presence row of %s", sid)
            else:
                log.warning("could not drop the presence row of %s: the database is unavailable", sid)
        for feature in self.features:
            for hook in feature.leave_hooks:
                try:
                    await hook(self.hub, caller)
                except Exception:
                    log.exception("leave hook failed for %s", caller.participant_id)
        self.hub.request_roster(caller.meeting_id)

    def refuse_undecodable(self, sid: str, error: WireError) -> dict:
        """A packet with an ack id whose body could not be decoded."""
        bucket = self._buckets.get(sid)
        if sid not in self._callers or bucket is None:
            return _refuse(Unauthorized("not connected"))
        if not bucket.take():
            self.hub.metrics.events.labels("malformed", "rate_limited").inc()
            return _refuse(RateLimited("too many events; slow down"))
        self.hub.metrics.events.labels("malformed", error.code).inc()
        exc = TooLarge(error.message) if error.code == "too_large" else Invalid(error.message)
        return _refuse(exc)

    async def dispatch(self, sid: str, event: str, data: Any) -> dict:
        metrics = self.hub.metrics.events
        caller = self._callers.get(sid)
        spec = self.specs.get(event)
        if caller is None:
            return _refuse(Unauthorized("not connected"))
        if not self._buckets[sid].take():
            metrics.labels(event if spec else "unknown", "rate_limited").inc()
            return _refuse(RateLimited("too many events; slow down"))
        if spec is None:
            metrics.labels("unknown", "invalid").inc()
            return _refuse(Invalid(f"unknown event {event!r}"))
        try:
            if spec.roles is not None:
                caller.require(spec.roles, event)
            if data is None:
                data = {}
            if not isinstance(data, dict):
                raise Invalid("payload must be an object")
            try:
                payload = spec.model.model_validate(data)
            except ValidationError as exc:
                raise Invalid(format_validation_error(exc)) from None
            extra = await spec.handler(self.hub, caller, payload)
        except HubError as exc:
            metrics.labels(event, exc.code).inc()
            return _refuse(exc)
        except Exception as exc:
            down = unavailable_from(exc)
            if down is not None:
                # One line, no traceback: the outage is logged by the heartbeat.
                log.warning("event %s from %s: the database is unavailable", event, caller.participant_id)
                metrics.labels(event, down.code).inc()
                return _refuse(down)
            log.exception("event %s from %s failed", event, caller.participant_id)
            metrics.labels(event, "internal").inc()
            return {"ok": False, "error": {"code": "internal", "message": "the hub could not handle this event"}}
        metrics.labels(event, "ok").inc()
        return {"ok": True, **(extra or {})}


def _refuse(exc: HubError) -> dict:
    return {"ok": False, "error": exc.to_dict()}
