"""Media across processes: which producers live where, who wants which, and
the pipes between them, signalled over Redis.

Each process keeps a meeting's router for its own clients (media/). A
producer is piped to every other process that has a subscriber for it, once
per process: mediasoup's pipeToRouter, driven by this module. What Redis
holds and carries:

- `plenary:cascade:alive:<node>`: the node's heartbeat (a key with a TTL). A
  node whose key expired is dead for the cascade: its tracks drop out of
  every listing, and the pipes to it die by their own liveness check.
- `plenary:cascade:tracks:<meeting>`: a hash, node -> JSON list of the
  tracks published on that node (its local producers only: a piped track is
  never piped on). The union over live nodes is the meeting's track list on
  every process (`media:tracks`, `state:sync`).
- channel `plenary:cascade:all`: "tracks" notices (a node's list changed).
- channel `plenary:cascade:node:<node>`: requests to one node: "want" (pipe
  these producers to me; here is my end of the pipe), "piped" (here are
  their parameters and my end), "unwant" (stop sending these).

The receiving side asks: a node that has a local subscriber wanting a track
published elsewhere opens its end of the pipe and sends "want" to the
publisher's node, which connects its end, makes one pipe consumer per
producer (however many subscribers the far node has) and answers "piped";
the asker then makes the pipe producers its subscribers consume. A
reconcile pass (on every notice, every local subscription and once a
second) compares what is wanted with what is piped in and mends the
difference, so a lost message or a dead pipe costs a second, not a track.
Nothing here is needed for correctness beyond what Redis and the pipes
hold: a process that restarts rebuilds it all from them.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from media.service import MediaError, MediaService
from signaling.redis_client import bounded_redis

log = logging.getLogger(__name__)

PREFIX = "plenary:cascade"
ALIVE_TTL_S = 6
ALIVE_REFRESH_S = 2.0
RECONCILE_S = 1.0
# A "want" not answered by then is asked again (a lost message, a node busy).
ASK_AGAIN_S = 3.0

Spawn = Callable[[Awaitable[Any], str], asyncio.Task]
Every = Callable[[float, Callable[[], Awaitable[Any]], str], asyncio.Task]
TracksChanged = Callable[[str], Awaitable[None]]


def _alive_key(node: str) -> str:
    return f"{PREFIX}:alive:{node}"


def _tracks_key(meeting_id: str) -> str:
    return f"{PREFIX}:tracks:{meeting_id}"


def _node_channel(node: str) -> str:
    return f"{PREFIX}:node:{node}"


ALL_CHANNEL = f"{PREFIX}:all"


class Cascade:
    """One per hub process that runs with Redis (signaling/hub.py makes it)."""

    def __init__(self, node_id: str, redis_url: str, media: MediaService, on_remote_tracks: TracksChanged) -> None:
        self.node_id = node_id
        self.media = media
        # Tell this process's clients that the meeting's track list changed
        # because of another node (one that died, so nobody else will).
        self.on_remote_tracks = on_remote_tracks
        self.redis_url = redis_url
        self.redis = bounded_redis(redis_url, decode_responses=True)
        # (meeting, node) -> producer ids piped in from that node / out to it.
        self._inbound: dict[tuple[str, str], set[str]] = {}
        self._outbound: dict[tuple[str, str], set[str]] = {}
        # (meeting, node) -> the far end's PipeInfo our end is connected to.
        self._connected: dict[tuple[str, str], dict] = {}
        # (meeting, node, producer) -> when we last asked for it.
        self._asked: dict[tuple[str, str, str], float] = {}
        # Meetings with something here: a router, a pipe, local tracks.
        self._meetings: set[str] = set()
        # (meeting, node) -> not asked again before then (its pipe just died).
        self._quiet_until: dict[tuple[str, str], float] = {}
        # meeting -> this node's own tracks as last listed in Redis.
        self._local: dict[str, list[dict]] = {}
        # meeting -> the live nodes whose tracks we last saw listed.
        self._listed_nodes: dict[str, set[str]] = {}
        self._piped_in = asyncio.Condition()
        self._pending: dict[str, asyncio.Task] = {}
        self._spawn: Spawn | None = None
        self._redis_away = False
        # Meetings whose track list must leave Redis once it answers again.
        self._withdraw: set[str] = set()

    # -- life cycle -----------------------------------------------------------

    async def start(self, spawn: Spawn, every: Every) -> None:
        self._spawn = spawn
        await self._refresh_alive()
        subscribed = asyncio.Event()
        spawn(self._listen(subscribed), "cascade-listen")
        await subscribed.wait()
        every(ALIVE_REFRESH_S, self._while_redis_answers(self._refresh_alive), "cascade-alive")
        every(RECONCILE_S, self._while_redis_answers(self._reconcile_all), "cascade-reconcile")

    def _while_redis_answers(self, job: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
        """A periodic job that skips its turns while Redis is away, saying so
        once per outage instead of a traceback a second."""

        async def run() -> None:
            try:
                await job()
            except (RedisConnectionError, RedisTimeoutError) as exc:
                if not self._redis_away:
                    log.warning("cascade: Redis is unavailable (%s); media keeps flowing on the pipes it has",
                                type(exc).__name__)
                    self._redis_away = True
                return
            if self._redis_away:
                log.info("cascade: Redis is back")
                self._redis_away = False

        return run

    async def close(self) -> None:
        """Leave cleanly: our tracks drop out of every listing at once."""
        try:
            for meeting_id in list(self._meetings):
                if await self.redis.hdel(_tracks_key(meeting_id), self.node_id):
                    await self._notify_tracks(meeting_id)
            await self.redis.delete(_alive_key(self.node_id))
        except Exception:
            log.warning("cascade: could not withdraw this node's tracks from Redis", exc_info=True)
        for task in self._pending.values():
            task.cancel()
        await self.redis.aclose()

    async def _refresh_alive(self) -> None:
        await self.redis.set(_alive_key(self.node_id), "1", ex=ALIVE_TTL_S)
        # Our own track lists again: a Redis that restarted empty, or a write
        # lost while it was away, is mended within one refresh.
        for meeting_id, tracks in list(self._local.items()):
            await self.redis.hset(_tracks_key(meeting_id), self.node_id, json.dumps(tracks))
        for meeting_id in list(self._withdraw):
            await self.redis.hdel(_tracks_key(meeting_id), self.node_id)
            await self._notify_tracks(meeting_id)
            self._withdraw.discard(meeting_id)

    # -- what lives where ------------------------------------------------------

    async def local_tracks_changed(self, meeting_id: str) -> bool:
        """The meeting's tracks here changed: list this node's own for all.
        False when its own did not change (a track piped in or out)."""
        tracks = [t.to_dict() for t in self.media.tracks(meeting_id, local_only=True)]
        self._meetings.add(meeting_id)
        if self._local.get(meeting_id) == tracks:
            return False
        if tracks:
            self._local[meeting_id] = tracks
        else:
            self._local.pop(meeting_id, None)
        try:
            if tracks:
                await self.redis.hset(_tracks_key(meeting_id), self.node_id, json.dumps(tracks))
            else:
                await self.redis.hdel(_tracks_key(meeting_id), self.node_id)
            await self._notify_tracks(meeting_id)
        except (RedisConnectionError, RedisTimeoutError):
            # The heartbeat writes the list again once Redis answers; a
            # removal is mended by the heartbeat key's expiry only if we die,
            # so remember to withdraw it too.
            if not tracks:
                self._withdraw.add(meeting_id)
            log.warning("cascade: Redis is unavailable; the track list of %s is written when it is back", meeting_id)
        return True

    async def _notify_tracks(self, meeting_id: str) -> None:
        await self.redis.publish(ALL_CHANNEL, json.dumps({"op": "tracks", "meeting": meeting_id, "from": self.node_id}))

    async def tracks(self, meeting_id: str) -> list[dict]:
        """The meeting's tracks on every live node, this one's first (while
        Redis is away: those this process has, its own and piped in)."""
        try:
            listing = await self._listing(meeting_id)
        except (RedisConnectionError, RedisTimeoutError):
            return [t.to_dict() for t in self.media.tracks(meeting_id)]
        local = [t.to_dict() for t in self.media.tracks(meeting_id, local_only=True)]
        seen = {t["id"] for t in local}
        merged = list(local)
        for node in sorted(listing):
            if node == self.node_id:
                continue
            for track in listing[node]:
                if track["id"] not in seen:
                    seen.add(track["id"])
                    merged.append(track)
        return merged

    async def _alive(self, nodes: list[str]) -> list[bool]:
        if not nodes:
            return []
        return [flag is not None for flag in await self.redis.mget([_alive_key(n) for n in nodes])]

    async def _listing(self, meeting_id: str) -> dict[str, list[dict]]:
        """node -> its tracks, live nodes only."""
        raw = await self.redis.hgetall(_tracks_key(meeting_id))
        if not raw:
            return {}
        nodes = sorted(raw)
        listing = {}
        for node, alive in zip(nodes, await self._alive(nodes)):
            if not alive:
                continue
            try:
                listing[node] = [t for t in json.loads(raw[node]) if isinstance(t, dict) and "id" in t]
            except (ValueError, TypeError):
                log.warning("cascade: unreadable track list of node %s", node)
        return listing

    # -- wanting ---------------------------------------------------------------

    def reconcile_soon(self, meeting_id: str) -> None:
        """Compare wanted and piped-in tracks shortly (one pass for a burst)."""
        self._meetings.add(meeting_id)
        if meeting_id in self._pending or self._spawn is None:
            return

        async def run() -> None:
            try:
                await self.reconcile(meeting_id)
            finally:
                self._pending.pop(meeting_id, None)

        self._pending[meeting_id] = self._spawn(run(), f"cascade-reconcile:{meeting_id}")

    async def _reconcile_all(self) -> None:
        for meeting_id in list(self._meetings):
            await self.reconcile(meeting_id)

    async def reconcile(self, meeting_id: str) -> None:
        wants = self.media.wants(meeting_id)
        listing = {n: t for n, t in (await self._listing(meeting_id)).items() if n != self.node_id}
        now = time.monotonic()
        for node, tracks in listing.items():
            offered = {t["id"] for t in tracks}
            desired = offered if wants == "all" else offered & wants
            have = self._inbound.setdefault((meeting_id, node), set())
            for producer_id in sorted(have - desired):
                # Gone at its source, or nobody here wants it any more.
                await self.media.unpipe_producer(meeting_id, node, producer_id)
                have.discard(producer_id)
                if producer_id in offered:
                    await self._send(node, {"op": "unwant", "meeting": meeting_id, "producers": [producer_id]})
            if now < self._quiet_until.get((meeting_id, node), 0.0):
                continue  # its pipe just died: it may be dead too, its heartbeat key will tell
            missing = [
                p for p in sorted(desired - have)
                if now - self._asked.get((meeting_id, node, p), -ASK_AGAIN_S) >= ASK_AGAIN_S
            ]
            if missing:
                await self._ask(meeting_id, node, missing)
        for (m, node) in list(self._inbound):
            if m == meeting_id and node not in listing:
                # The node died or has nothing for this meeting any more.
                for producer_id in self._inbound.pop((m, node)):
                    await self.media.unpipe_producer(meeting_id, node, producer_id)
        far = [p["remote_key"] for p in self.media.pipes(meeting_id)]
        for node, alive in zip(far, await self._alive(far)):
            if not alive:
                # Its heartbeat key expired: close our end, connected or still
                # waiting for an answer, without waiting for the pipe's own timeout.
                await self.media.close_pipe(meeting_id, node)
                self._forget_pipe(meeting_id, node)
        await self._close_idle_pipes(meeting_id)
        await self._announce_departures(meeting_id, set(listing))
        if not self._inbound_of(meeting_id) and not self._outbound_of(meeting_id) \
                and self.media.router(meeting_id) is None:
            self._meetings.discard(meeting_id)
            self._listed_nodes.pop(meeting_id, None)

    async def ensure(self, meeting_id: str, producer_ids: list[str], timeout: float = 5.0) -> None:
        """Pipe in these producers of other nodes before a subscriber names them."""
        local = {t.id for t in self.media.tracks(meeting_id)}
        wanted = [p for p in producer_ids if p not in local]
        if not wanted:
            return
        listing = await self._listing(meeting_id)
        for node, tracks in listing.items():
            here = [t["id"] for t in tracks if t["id"] in wanted]
            if node != self.node_id and here:
                await self._ask(meeting_id, node, here)

        def arrived() -> bool:
            piped = {t.id for t in self.media.tracks(meeting_id)}
            return all(p in piped for p in wanted if any(p in {t["id"] for t in ts} for ts in listing.values()))

        async with self._piped_in:
            try:
                await asyncio.wait_for(self._piped_in.wait_for(arrived), timeout)
            except asyncio.TimeoutError:
                pass  # subscribe then refuses what did not come: not_found

    async def _ask(self, meeting_id: str, node: str, producer_ids: list[str]) -> None:
        info = await self.media.open_pipe(meeting_id, node)
        now = time.monotonic()
        for producer_id in producer_ids:
            self._asked[(meeting_id, node, producer_id)] = now
        await self._send(node, {"op": "want", "meeting": meeting_id, "info": info.to_dict(), "producers": producer_ids})

    async def _close_idle_pipes(self, meeting_id: str) -> None:
        for pipe in self.media.pipes(meeting_id):
            node = pipe.get("remote_key")
            key = (meeting_id, node)
            if not self._inbound.get(key) and not self._outbound.get(key) and key in self._connected:
                await self.media.close_pipe(meeting_id, node)
                self._forget_pipe(meeting_id, node)

    async def _announce_departures(self, meeting_id: str, nodes: set[str]) -> None:
        before = self._listed_nodes.get(meeting_id)
        self._listed_nodes[meeting_id] = nodes
        if before is None or not (before - nodes):
            return
        # A node left the listing without a word (its heartbeat expired): its
        # clients' tracks are gone, and it cannot say so. One survivor tells.
        for node in before - nodes:
            if await self.redis.set(f"{PREFIX}:gone:{meeting_id}:{node}", self.node_id, nx=True, ex=60):
                await self.on_remote_tracks(meeting_id)
                return

    def _inbound_of(self, meeting_id: str) -> bool:
        return any(ids for (m, _n), ids in self._inbound.items() if m == meeting_id)

    def _outbound_of(self, meeting_id: str) -> bool:
        return any(ids for (m, _n), ids in self._outbound.items() if m == meeting_id)

    # -- messages --------------------------------------------------------------

    async def _send(self, node: str, message: dict) -> None:
        await self.redis.publish(_node_channel(node), json.dumps({**message, "from": self.node_id}))

    async def _listen(self, subscribed: asyncio.Event) -> None:
        """Hear this node's channel and the notices, with a subscriber of its
        own (no read timeout: the channels may be quiet for hours), made
        again every second while Redis is away."""
        while True:
            subscriber = bounded_redis(self.redis_url, read_timeout=None, decode_responses=True)
            pubsub = subscriber.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(_node_channel(self.node_id), ALL_CHANNEL)
                subscribed.set()
                async for message in pubsub.listen():
                    await self._on_message(message.get("data"))
            except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
                if not self._redis_away:
                    log.warning("cascade: Redis subscription lost (%s); subscribing again every second",
                                type(exc).__name__)
                    self._redis_away = True
                subscribed.set()  # start-up goes on; the pipes come once Redis answers
            finally:
                await pubsub.aclose()
                await subscriber.aclose()
            await asyncio.sleep(1.0)

    async def _on_message(self, data: Any) -> None:
        try:
            message = json.loads(data)
            op, meeting_id, sender = message["op"], message["meeting"], message["from"]
        except (TypeError, ValueError, KeyError):
            log.warning("cascade: unreadable message %.200r", data)
            return
        if sender == self.node_id:
            return
        try:
            if op == "tracks":
                if meeting_id in self._meetings or self.media.router(meeting_id) is not None:
                    self.reconcile_soon(meeting_id)
            elif op == "want":
                await self._on_want(meeting_id, sender, message)
            elif op == "piped":
                await self._on_piped(meeting_id, sender, message)
            elif op == "unwant":
                for producer_id in message.get("producers", []):
                    await self.media.unpipe_producer(meeting_id, sender, producer_id)
                    self._outbound.get((meeting_id, sender), set()).discard(producer_id)
        except MediaError as exc:
            log.warning("cascade: %s from %s for %s refused: %s", op, sender, meeting_id, exc.message)
        except (RedisConnectionError, RedisTimeoutError):
            log.warning("cascade: Redis went away while answering %s from %s; the next pass asks again", op, sender)
        except (KeyError, TypeError, ValueError, AttributeError):
            # One bad message from a peer must not cost the subscription.
            log.warning("cascade: malformed %s from %s for %s: %.200r", op, sender, meeting_id, message)

    async def _connect(self, meeting_id: str, node: str, info: dict) -> None:
        key = (meeting_id, node)
        known = self._connected.get(key)
        if known == info:
            return
        if known is not None:
            # The far end made a new pipe (it lost the old one): start afresh.
            await self.media.close_pipe(meeting_id, node)
            self._forget_pipe(meeting_id, node)
        await self.media.open_pipe(meeting_id, node)
        await self.media.connect_pipe(meeting_id, node, info)
        self._connected[key] = info

    async def _on_want(self, meeting_id: str, node: str, message: dict) -> None:
        await self._connect(meeting_id, node, message["info"])
        self._meetings.add(meeting_id)
        params = []
        for producer_id in message.get("producers", []):
            try:
                params.append(self.media.pipe_producer_out(meeting_id, node, producer_id).to_dict())
            except MediaError:
                continue  # gone meanwhile: the asker's next listing shows it
            self._outbound.setdefault((meeting_id, node), set()).add(producer_id)
        info = await self.media.open_pipe(meeting_id, node)
        await self._send(node, {"op": "piped", "meeting": meeting_id, "info": info.to_dict(), "producers": params})

    async def _on_piped(self, meeting_id: str, node: str, message: dict) -> None:
        await self._connect(meeting_id, node, message["info"])
        have = self._inbound.setdefault((meeting_id, node), set())
        for params in message.get("producers", []):
            producer_id = params.get("producer_id")
            if producer_id in have:
                continue
            await self.media.pipe_producer_in(meeting_id, node, params)
            have.add(producer_id)
        async with self._piped_in:
            self._piped_in.notify_all()

    # -- pipes that end ------------------------------------------------------------

    async def pipe_closed(self, meeting_id: str, node: str, reason: str) -> None:
        """MediaService's on_pipe_closed: forget it; the next pass re-asks if needed."""
        self._forget_pipe(meeting_id, node)
        if reason in ("timeout", "goodbye"):
            # Do not ask the far node again until its heartbeat key has had
            # time to expire: a dead node is still listed for a few seconds.
            self._quiet_until[(meeting_id, node)] = time.monotonic() + ALIVE_TTL_S + ALIVE_REFRESH_S
        if reason != "closed":
            log.info("cascade: pipe of %s to node %s ended (%s)", meeting_id, node, reason)
            self.reconcile_soon(meeting_id)

    def _forget_pipe(self, meeting_id: str, node: str) -> None:
        key = (meeting_id, node)
        self._connected.pop(key, None)
        self._inbound.pop(key, None)
        self._outbound.pop(key, None)
        for asked in [a for a in self._asked if a[0] == meeting_id and a[1] == node]:
            del self._asked[asked]
