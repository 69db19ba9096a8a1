"""The cascade (signaling/cascade.py): media services that stand for separate
processes find each other's tracks through the real Redis and pipe them,
once per process, with real aiortc publishers and subscribers."""
from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from media import aiortc_hooks
from media.service import MediaService
from signaling.cascade import Cascade
from tests.media.media_testkit import MovingVideo, Publisher, Subscriber, Tone, wait_for


class Node:
    """One "process": a MediaService, its Cascade and the tasks they start,
    wired as signaling/hub.py wires them."""

    def __init__(self, name: str, redis_url: str, meeting: str) -> None:
        self.name = name
        self.key = f"{name}-{uuid.uuid4().hex[:8]}"
        self.meeting = meeting
        self.tasks: set[asyncio.Task] = set()
        self.subscribers: dict[str, Subscriber] = {}
        self.remote_track_notices = 0
        self.media = MediaService(
            ice_servers=[], allow_loopback=True, on_tracks_changed=self._tracks_changed,
            on_pipe_closed=self._pipe_closed, on_offer=self._offer,
        )
        self.cascade = Cascade(self.key, redis_url, self.media, self._remote_tracks)

    async def _tracks_changed(self, meeting_id: str) -> None:
        await self.cascade.local_tracks_changed(meeting_id)

    async def _pipe_closed(self, meeting_id: str, node: str, reason: str) -> None:
        await self.cascade.pipe_closed(meeting_id, node, reason)

    async def _remote_tracks(self, meeting_id: str) -> None:
        self.remote_track_notices += 1

    async def _offer(self, meeting_id: str, participant_id: str, connection_id: str, sdp: str) -> None:
        sub = self.subscribers.get(participant_id)
        if sub is not None:
            self.spawn(sub.apply_offer(sdp), f"offer:{participant_id}")

    def spawn(self, coro: Awaitable[Any], name: str) -> asyncio.Task:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    def every(self, interval: float, job: Callable[[], Awaitable[Any]], name: str) -> asyncio.Task:
        async def loop() -> None:
            while True:
                await job()
                await asyncio.sleep(interval)

        return self.spawn(loop(), name)

    async def start(self) -> "Node":
        await self.cascade.start(self.spawn, self.every)
        return self

    async def subscribe_all(self, pid: str) -> Subscriber:
        sub = Subscriber(self.media, self.meeting, pid)
        self.subscribers[pid] = sub
        await sub.subscribe("all")
        self.cascade.reconcile_soon(self.meeting)
        return sub

    async def die(self) -> None:
        """Stop as kill -9 would: no goodbye on the pipes, nothing withdrawn
        from Redis, the heartbeat just stops."""
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for pipe in list(self.media._pipes.values()):
            pipe.abort()
        self.dead = True

    async def close(self) -> None:
        for sub in self.subscribers.values():
            await sub.close()
        if not getattr(self, "dead", False):
            await self.cascade.close()
        else:
            await self.cascade.redis.aclose()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.media.close()


@pytest.fixture
async def nodes(redis_url) -> AsyncIterator[Callable[[str], Awaitable[Node]]]:
    meeting = f"m-{uuid.uuid4().hex[:10]}"
    made: list[Node] = []

    async def make(name: str) -> Node:
        node = await Node(name, redis_url, meeting).start()
        made.append(node)
        return node

    yield make
    for node in made:
        await node.close()
    aiortc_hooks.disable_loopback_candidates()


async def eventually(read: Callable[[], Awaitable[Any]], done: Callable[[Any], bool], timeout: float = 10) -> Any:
    """Poll an async reading (Redis, across processes) until it satisfies `done`."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await read()
        if done(value) or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(0.05)


async def publish_av(node: Node, pid: str = "alice") -> Publisher:
    pub = Publisher(node.media, node.meeting, pid)
    pub.add(MovingVideo())
    pub.add(Tone())
    await pub.publish()
    return pub


async def test_a_subscriber_on_another_process_decodes_what_is_published(nodes) -> None:
    a, b = await nodes("A"), await nodes("B")
    pub = await publish_av(a)
    try:
        # Every process lists the meeting's tracks, wherever they are published.
        listed = await eventually(lambda: b.cascade.tracks(b.meeting), lambda t: len(t) == 2)
        assert {(t["participant_id"], t["kind"]) for t in listed} == {("alice", "video"), ("alice", "audio")}
        sub = await b.subscribe_all("bob")
        await wait_for(lambda: sub.frames["video"] >= 30 and sub.frames["audio"] >= 40, 30, "bob decodes")
        # Piped once: A sends each producer to B over one pipe consumer.
        assert set(a.media.pipe_consumer_counts(a.meeting).values()) == {1}
    finally:
        await pub.close()


async def test_a_producer_is_piped_once_per_process_however_many_subscribe(nodes) -> None:
    a, b, c = await nodes("A"), await nodes("B"), await nodes("C")
    pub = await publish_av(a)
    try:
        subs = [await b.subscribe_all("bob"), await b.subscribe_all("ben"), await c.subscribe_all("cai")]
        await wait_for(lambda: all(s.frames["video"] >= 30 and s.frames["audio"] >= 40 for s in subs), 40,
                       "every subscriber decodes")
        counts = a.media.pipe_consumer_counts(a.meeting)
        assert len(counts) == 2 and set(counts.values()) == {2}  # two producers, each to B and to C once
        assert len(a.media.pipes(a.meeting)) == 2
    finally:
        await pub.close()


async def test_a_publisher_that_leaves_is_gone_everywhere(nodes) -> None:
    a, b = await nodes("A"), await nodes("B")
    pub = await publish_av(a)
    sub = await b.subscribe_all("bob")
    await wait_for(lambda: sub.frames["video"] >= 10, 30, "bob decodes")
    await a.media.leave(a.meeting, "alice")
    await pub.close()

    assert await eventually(lambda: b.cascade.tracks(b.meeting), lambda t: t == []) == []
    await wait_for(lambda: not b.media.tracks(b.meeting), 10, "B's piped tracks closed")


async def test_a_process_that_dies_takes_its_tracks_and_pipes_with_it(nodes) -> None:
    a, b = await nodes("A"), await nodes("B")
    pub = await publish_av(a)
    sub = await b.subscribe_all("bob")
    await wait_for(lambda: sub.frames["video"] >= 10, 30, "bob decodes")
    assert b.media.stats()["pipes"] == 1
    assert len(await b.cascade.tracks(b.meeting)) == 2
    await a.die()
    await wait_for(lambda: b.media.stats()["pipes"] == 0 and not b.media.tracks(b.meeting), 20,
                   "B tears down the dead pipe")
    await pub.close()

    assert await eventually(lambda: b.cascade.tracks(b.meeting), lambda t: t == [], timeout=15) == []
    await wait_for(lambda: b.remote_track_notices >= 1, 5, "B tells its clients the tracks are gone")


async def test_malformed_messages_cost_nothing(nodes, caplog) -> None:
    """Garbage and half-formed requests on a node's channel are logged and
    dropped; the node still pipes what its subscribers want afterwards."""
    import json

    from signaling.cascade import _node_channel

    a, b = await nodes("A"), await nodes("B")
    channel = _node_channel(b.key)
    for junk in ("not json", json.dumps([1, 2]), json.dumps({"op": "piped", "meeting": b.meeting}),
                 json.dumps({"op": "piped", "meeting": b.meeting, "from": a.key, "info": {"host": 1},
                             "producers": ["x"]}),
                 json.dumps({"op": "want", "meeting": b.meeting, "from": a.key, "info": None}),
                 json.dumps({"op": "unwant", "meeting": b.meeting, "from": a.key, "producers": 5})):
        await a.cascade.redis.publish(channel, junk)
    pub = await publish_av(a)
    try:
        sub = await b.subscribe_all("bob")
        await wait_for(lambda: sub.frames["video"] >= 20 and sub.frames["audio"] >= 20, 30, "bob decodes")
    finally:
        await pub.close()
    messages = [r.getMessage() for r in caplog.records if r.name == "signaling.cascade"]
    assert sum("malformed" in m or "unreadable" in m or "refused" in m for m in messages) >= 4, messages
    assert not any("subscription lost" in m for m in messages), messages  # the listener never broke


async def test_redis_restarting_stops_no_media_and_the_cascade_comes_back(caplog) -> None:
    """A private Redis stopped under two nodes: the pipe that is up keeps
    carrying media; once Redis is back (empty), each node writes its tracks
    again and a publisher who started meanwhile is piped too."""
    from tests.helpers import PrivateRedis

    try:
        redis = await PrivateRedis().start()
    except FileNotFoundError as exc:
        pytest.skip(f"redis-server is missing: {exc}")
    meeting = f"m-{uuid.uuid4().hex[:10]}"
    a, b = await Node("A", redis.url, meeting).start(), await Node("B", redis.url, meeting).start()
    pubs: list[Publisher] = []
    try:
        pubs.append(await publish_av(a))
        sub = await b.subscribe_all("bob")
        await wait_for(lambda: sub.frames["video"] >= 10, 30, "bob decodes")

        await redis.stop()
        before = sub.frames["video"]
        await wait_for(lambda: sub.frames["video"] >= before + 30, 15, "media flows while Redis is away")
        pubs.append(await publish_av(a, "carol"))  # listed nowhere until Redis is back

        await redis.start()
        await wait_for(lambda: len(b.media.tracks(meeting)) == 4, 20, "carol's tracks piped after the restart")
        listed = await eventually(lambda: b.cascade.tracks(meeting), lambda t: len(t) == 4)
        assert {t["participant_id"] for t in listed} == {"alice", "carol"}
        warnings = [r.getMessage() for r in caplog.records if r.name == "signaling.cascade" and r.levelname == "WARNING"]
        assert len(warnings) <= 6, warnings  # a line per outage and kind, not one a second
    finally:
        for pub in pubs:
            await pub.close()
        await a.close()
        await b.close()
        await redis.stop()
        aiortc_hooks.disable_loopback_candidates()
