"""Connections that come and go leave nothing behind (issue 10, item 6).

A station hub runs all day: each connection that ends, however it ends,
must take its per-connection state with it — the namespace's caller and
rate-limit tables, python-socketio's rooms, the presence row, the connected
gauge, the tasks it started.  These tests count those (and objects by type,
with gc), never RSS: RSS moves with the allocator, counts do not.
"""
from __future__ import annotations

import gc
import json
from collections import Counter

import aiohttp
import socketio
from sqlalchemy import func, select, update

from sessions.models import Connection, Meeting
from tests.helpers import NS, wait_until

CYCLES = 30
# What one server-side connection is made of: Engine.IO's socket, the
# namespace's caller and bucket, aiohttp's websocket and request handler,
# and the tasks and queues they run on.  (Type caches, yarl's URL cache and
# the like grow with first uses, not with connections, so are not counted.)
PER_CONNECTION_TYPES = {"AsyncSocket", "Caller", "_Bucket", "WebSocketResponse", "RequestHandler", "Task", "Queue"}


def _count_objects() -> Counter:
    gc.collect()
    return Counter(name for o in gc.get_objects() if (name := type(o).__name__) in PER_CONNECTION_TYPES)


def _sockets_of(hub) -> int:
    """This hub's Engine.IO sockets still in memory: other tests' hubs may
    still be letting theirs go, so a process-wide count would wait on them."""
    gc.collect()
    server = hub.sio.eio
    return sum(1 for o in gc.get_objects() if type(o).__name__ == "AsyncSocket" and getattr(o, "server", None) is server)


def _tables(hub) -> dict[str, int]:
    """Everything one /meeting connection adds an entry to."""
    namespace = hub.sio.namespace_handlers["/meeting"]
    manager = hub.sio.manager
    rooms = manager.rooms.get(NS, {})
    return {
        "callers": len(namespace._callers),
        "buckets": len(namespace._buckets),
        "room_members": sum(len(members) for members in rooms.values()),
        "rooms": len(rooms),
        "environ": len(hub.sio.environ),
        "eio_sockets": len(hub.sio.eio.sockets),
        "connected_gauge": int(hub.metrics.connected_clients._value.get()),
    }


async def _online_rows(hub) -> int:
    async with hub.db.read() as session:
        return await session.scalar(select(func.count()).select_from(Connection))


async def _settled(hub, baseline: dict[str, int], timeout: float = 20) -> dict[str, int]:
    """The tables once the hub has handled the disconnects it has seen (or
    as they are after `timeout`, for the assertion to show)."""
    try:
        await wait_until(lambda: _tables(hub) == baseline, timeout)
    except TimeoutError:
        pass
    return _tables(hub)


async def _join_and_drop(url: str, token: str) -> None:
    """What a browser closed mid-join does: Engine.IO open, the namespace
    CONNECT with the token, and the socket gone before the hub answers."""
    async with aiohttp.ClientSession() as http:
        # No waiting for the hub's close frame either: a browser tab just goes.
        quick = aiohttp.ClientWSTimeout(ws_close=0.2)
        async with http.ws_connect(f"{url}/socket.io/?EIO=4&transport=websocket", timeout=quick) as ws:
            opened = await ws.receive()
            assert opened.type == aiohttp.WSMsgType.TEXT and opened.data.startswith("0"), opened
            await ws.send_str(f"40{NS}," + json.dumps({"token": token}))
            # close at once: the hub is still checking the token


async def _join_then_vanish(url: str, token: str) -> None:
    """A joined client whose network goes: TCP closes, no DISCONNECT packet."""
    sio = socketio.AsyncClient(reconnection=False)
    await sio.connect(url, auth={"token": token}, namespaces=[NS], transports=["websocket"], wait_timeout=10)
    await sio.eio.ws.close()
    await sio.disconnect()


async def test_connections_that_end_leave_no_per_connection_state(sqlite_hub, clients):
    mid = await sqlite_hub.meeting()
    chair = await sqlite_hub.participant(mid, "主任", "chair")
    members = [await sqlite_hub.participant(mid, f"委员{i}", "member") for i in range(5)]
    hub = sqlite_hub.hub
    # Engine.IO keeps a closed socket until its pending ping timer fires (up
    # to ping_interval, 25 s): bounded, so not what this test is after.  A
    # short interval lets the count below see only what outlives it.
    hub.sio.eio.ping_interval = 0.5
    clients.append(await sqlite_hub.connect(chair["token"]))  # keeps the meeting's rooms alive
    # Two rounds of each way first: imports, pools and type caches warm up outside the count.
    for _ in range(2):
        warm = await sqlite_hub.connect(members[0]["token"])
        await warm.call("state:sync")
        await warm.close()
        await _join_and_drop(sqlite_hub.url, members[0]["token"])
        await _join_then_vanish(sqlite_hub.url, members[0]["token"])
    await wait_until(lambda: len(hub.sio.namespace_handlers["/meeting"]._callers) == 1 and len(hub.sio.environ) == 1)
    # The warm-up's closed sockets wait for their ping timer; the roster debounce runs.
    await wait_until(lambda: _sockets_of(hub) == 1
                     and not any(t.get_name().startswith("debounce:") for t in hub._tasks), 15, interval=0.2)
    baseline = _tables(hub)
    tasks_before = hub.task_count
    rows_before = await _online_rows(hub)
    objects_before = _count_objects()

    for i in range(CYCLES):
        token = members[i % len(members)]["token"]
        client = await sqlite_hub.connect(token)
        await client.call("state:sync")
        await client.close()
        await _join_and_drop(sqlite_hub.url, token)
        await _join_then_vanish(sqlite_hub.url, token)

    after = await _settled(hub, baseline)
    assert after == baseline, f"per-connection state left behind: {baseline} → {after}"
    await wait_until(lambda: hub.task_count <= tasks_before, 10)
    assert await _online_rows(hub) == rows_before, "presence rows of closed connections stay online"

    def grown() -> dict[str, int]:
        # Ten of a kind left over is a leak: 3 × CYCLES connections came and went.
        now = _count_objects()
        return {name: now[name] - objects_before[name] for name in now if now[name] - objects_before[name] >= CYCLES // 3}

    # Closed sockets go when their ping timer fires; give the loop that long.
    try:
        await wait_until(lambda: not grown(), timeout=15, interval=0.5)
    except TimeoutError:
        pass
    left_over = grown()
    assert not left_over, f"per-connection objects left over: {left_over}"


async def test_a_client_gone_while_its_join_is_checked_leaves_nothing(sqlite_hub, clients):
    """The join's database work is made to wait (a writer holds the meeting
    row) until the hub has seen the socket close: python-socketio calls no
    disconnect handler for a connection still joining, so whatever the join
    sets up after that point is the hub's to undo."""
    mid = await sqlite_hub.meeting()
    chair = await sqlite_hub.participant(mid, "主任", "chair")
    member = await sqlite_hub.participant(mid, "委员", "member")
    hub = sqlite_hub.hub
    chair_client = await sqlite_hub.connect(chair["token"])
    clients.append(chair_client)
    await wait_until(lambda: len(hub.sio.namespace_handlers["/meeting"]._callers) == 1)
    baseline = _tables(hub)
    rows_before = await _online_rows(hub)

    for _ in range(3):
        async with hub.db.transaction() as tx:
            # Take the write lock: the join's presence row must wait for it.
            await tx.execute(update(Meeting).where(Meeting.id == mid).values(title=Meeting.title))
            await _join_and_drop(sqlite_hub.url, member["token"])
            await wait_until(lambda: len(hub.sio.environ) == baseline["environ"])

    # Each join goes on once the lock is free, and must then notice its client is gone.
    after = await _settled(hub, baseline, timeout=10)
    assert after == baseline, f"a join whose client had gone left state behind: {baseline} → {after}"

    async def rows_back() -> bool:
        return await _online_rows(hub) == rows_before

    try:
        await wait_until(rows_back, 10)
    except TimeoutError:
        raise AssertionError("a client gone while joining stays online") from None
    roster = (await chair_client.call("state:sync"))["roster"]
    assert [p["name"] for p in roster if p["online"]] == ["主任"], roster


async def test_a_connection_closed_while_its_join_runs_leaves_nothing(sqlite_hub, clients):
    """The join has started (python-socketio holds the sid as pending) when
    Engine.IO reports the connection closed from another task (what
    GuardedWebSocket.close does for a peer gone silent, and a ping timeout):
    python-socketio skips the disconnect handler for a pending sid and
    marks it connected once the join returns, so the hub must see for
    itself that the connection went.  bench/soak.py storms left ~2 callers,
    their rooms and presence rows per 150 joins this way."""
    mid = await sqlite_hub.meeting()
    chair = await sqlite_hub.participant(mid, "主任", "chair")
    member = await sqlite_hub.participant(mid, "委员", "member")
    hub = sqlite_hub.hub
    chair_client = await sqlite_hub.connect(chair["token"])
    clients.append(chair_client)
    await wait_until(lambda: len(hub.sio.namespace_handlers["/meeting"]._callers) == 1)
    baseline = _tables(hub)
    rows_before = await _online_rows(hub)

    def joining() -> list[str]:
        return list(hub.sio.manager.pending_connect.get(NS, []))

    for _ in range(3):
        async with aiohttp.ClientSession() as http:
            quick = aiohttp.ClientWSTimeout(ws_close=0.2)
            async with http.ws_connect(f"{sqlite_hub.url}/socket.io/?EIO=4&transport=websocket", timeout=quick) as ws:
                await ws.receive()
                async with hub.db.transaction() as tx:
                    # Take the write lock: the join's presence row waits for it.
                    await tx.execute(update(Meeting).where(Meeting.id == mid).values(title=Meeting.title))
                    await ws.send_str(f"40{NS}," + json.dumps({"token": member["token"]}))
                    await wait_until(lambda: len(joining()) == 1)  # the hub is inside the join now
                    eio_sid = hub.sio.manager.eio_sid_from_sid(joining()[0], NS)
                    await hub.sio.eio.sockets[eio_sid].close(wait=False, abort=True)
                    assert len(hub.sio.environ) == baseline["environ"]
                # SQLite's busy handler backs off: the join may take a while to go on.
                await wait_until(lambda: not joining(), 20)

    after = await _settled(hub, baseline, timeout=10)
    assert after == baseline, f"a join whose connection closed mid-join left state behind: {baseline} → {after}"

    async def rows_back() -> bool:
        return await _online_rows(hub) == rows_before

    try:
        await wait_until(rows_back, 10)
    except TimeoutError:
        raise AssertionError("a connection closed mid-join stays online") from None
