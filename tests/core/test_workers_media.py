"""`plenary serve --workers 2` on one port is one hub for media too: a
publisher and a subscriber that the kernel placed on different workers are
joined by a pipe between the two processes, and the subscriber decodes the
publisher's video and audio.

Which worker holds a connection is read from the presence tables
(`where_connected`, as in test_workers.py)."""
from __future__ import annotations

import aiohttp
import pytest

from sessions.identity import TokenService
from tests.conftest import SECRET
from tests.core.test_workers import participant_via, plain_dsn, where_connected
from tests.helpers import EventClient, SupervisedServe, wait_until
from tests.signaling.test_media_across_processes import Side

pytestmark = pytest.mark.multiprocess

NS = "/meeting"


async def pipe_gauges_of_both_workers(url: str, probes: int = 60) -> set[tuple[float, float, float]]:
    """(pipes, pipe_consumers, pipe_producers) as answered by the workers
    behind `url`: /metrics over fresh connections, until two different
    answers came (the kernel spreads connections) or `probes` ran out."""
    seen: set[tuple[float, float, float]] = set()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http:
        for _ in range(probes):
            async with http.get(f"{url}/metrics") as resp:
                text = await resp.text()
            gauges = dict(line.split() for line in text.splitlines() if line.startswith("plenary_media_pipe"))
            seen.add(tuple(float(gauges[f"plenary_media_{k}"]) for k in ("pipes", "pipe_consumers", "pipe_producers")))
            if len(seen) >= 2:
                break
    return seen


async def test_publisher_and_subscriber_on_different_workers_of_one_port(tmp_path, pg_url, redis_url):
    serve = SupervisedServe(workers=2, data_dir=tmp_path / "data", secret=SECRET, db_url=pg_url,
                            redis_url=redis_url)
    dsn = plain_dsn(pg_url)
    sides: list[Side] = []
    stray: list[EventClient] = []
    try:
        await serve.start()
        workers = await serve.nodes()
        assert len(workers) == 2 and len(set(workers.values())) == 2, workers
        admin = {"Authorization": f"Bearer {TokenService(SECRET).admin_token()}"}
        async with aiohttp.ClientSession(headers=admin) as http:
            async with http.post(f"{serve.url}/api/meetings", json={"title": "多进程媒体"}) as resp:
                assert resp.status == 201
                mid = (await resp.json())["id"]

        # Both clients connect to the same URL; the kernel picks the worker.
        # New participants connect until one lands on the other worker.
        publisher_p = await participant_via(serve, mid, "发布者")
        publisher = Side(await EventClient(serve.url, publisher_p["token"]).connect())
        sides.append(publisher)
        publisher_node = (await where_connected(dsn))[publisher.client.sio.get_sid(NS)]
        assert publisher_node in workers
        subscriber = None
        for i in range(40):
            person = await participant_via(serve, mid, f"订阅者{i}")
            client = await EventClient(serve.url, person["token"]).connect()
            if (await where_connected(dsn))[client.sio.get_sid(NS)] != publisher_node:
                subscriber = Side(client)
                sides.append(subscriber)
                break
            stray.append(client)
        else:
            pytest.fail(f"40 connections all landed on the publisher's worker {publisher_node}")
        for client in stray:  # only the two of them stay in the meeting
            await client.close()
        stray.clear()

        await publisher.publish()
        tracks = await subscriber.client.wait_for("media:tracks", lambda m: len(m["tracks"]) == 2, timeout=15)
        assert {(t["participant_id"], t["kind"]) for t in tracks["tracks"]} == {
            (publisher_p["id"], "video"), (publisher_p["id"], "audio")}
        await subscriber.subscribe_all()
        await wait_until(lambda: subscriber.decoded(publisher_p["id"], video=30, audio=30), timeout=40)

        # And the two were on different workers throughout (no reconnects: EventClient does not).
        placed = await where_connected(dsn)
        assert placed[publisher.client.sio.get_sid(NS)] == publisher_node
        assert placed[subscriber.client.sio.get_sid(NS)] not in (publisher_node, None)
        assert set(placed.values()) <= set(workers)
        # The media went over a pipe between the two workers: over fresh
        # connections /metrics answers from each in turn, one sending both
        # producers out, the other taking them in.
        seen = await pipe_gauges_of_both_workers(serve.url)
        assert seen == {(1, 2, 0), (1, 0, 2)}, seen
    finally:
        for client in stray:
            await client.close()
        for side in sides:
            await side.close()
        await serve.stop()
