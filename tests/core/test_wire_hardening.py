"""The Socket.IO wire under hostile input, spoken raw (Engine.IO v4 frames).

Every undecodable event with an ack id is answered with the contract's error
on that id; garbage before joining a namespace closes the connection with one
log line; a client whose network vanishes shows offline within ~10 s.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from typing import Any

import aiohttp
import pytest

from signaling.wire import MAX_MESSAGE_BYTES, TRANSPORT_LIMIT_BYTES
from tests.helpers import EventClient

NS = "/meeting"


class RawSocket:
    """An Engine.IO v4 websocket spoken by hand; answers pings itself."""

    def __init__(self, session: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.session = session
        self.ws = ws
        self.frames: asyncio.Queue[Any] = asyncio.Queue()
        self.closed = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, base_url: str) -> "RawSocket":
        session = aiohttp.ClientSession()
        ws = await session.ws_connect(f"{base_url}/socket.io/?EIO=4&transport=websocket", max_msg_size=0)
        raw = cls(session, ws)
        handshake = await raw.expect("0")
        assert "pingInterval" in json.loads(handshake[1:])
        return raw

    async def _read(self) -> None:
        async for msg in self.ws:
            if msg.type == aiohttp.WSMsgType.TEXT and msg.data == "2":
                await self.ws.send_str("3")
            else:
                await self.frames.put(msg.data)
        self.closed.set()

    async def expect(self, prefix: str, timeout: float = 10) -> str:
        """The next text frame starting with `prefix` (others are skipped)."""
        async with asyncio.timeout(timeout):
            while True:
                frame = await self.frames.get()
                if isinstance(frame, str) and frame.startswith(prefix):
                    return frame

    async def join(self, token: str) -> None:
        await self.ws.send_str(f"40{NS}," + json.dumps({"token": token}))
        assert (await self.expect(f"40{NS},")).startswith(f"40{NS},{{")

    async def call_raw(self, ack_id: int, body: str, timeout: float = 10) -> Any:
        """Send `42/meeting,<ack_id><body>` and return the ack's first argument."""
        await self.ws.send_str(f"42{NS},{ack_id}{body}")
        frame = await self.expect(f"43{NS},{ack_id}[", timeout)
        return json.loads(frame[len(f"43{NS},{ack_id}"):])[0]

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()
        await self.session.close()


@pytest.fixture
async def raw_sockets():
    opened: list[RawSocket] = []
    yield opened
    for raw in opened:
        await raw.close()


async def _member_socket(hub, raw_sockets) -> RawSocket:
    mid = await hub.meeting()
    member = await hub.participant(mid, "委员", "member")
    raw = await RawSocket.open(hub.url)
    raw_sockets.append(raw)
    await raw.join(member["token"])
    return raw


def _assert_no_traceback(caplog) -> None:
    with_trace = [r for r in caplog.records if r.exc_info or r.exc_text or "Traceback" in r.getMessage()]
    assert not with_trace, [r.getMessage() for r in with_trace]


async def _still_works(raw: RawSocket) -> None:
    sync = await raw.call_raw(999, '["state:sync",{}]')
    assert sync["ok"] is True


async def test_huge_integer_is_answered_invalid(sqlite_hub, raw_sockets, caplog):
    caplog.set_level(logging.WARNING)
    raw = await _member_socket(sqlite_hub, raw_sockets)
    for digits in (101, 5000):
        ack = await raw.call_raw(7, '["vote:cast",{"vote_id":"x","choice":1' + "0" * (digits - 1) + "}]")
        assert ack["ok"] is False and ack["error"]["code"] == "invalid"
        assert "number" in ack["error"]["message"]
    await _still_works(raw)
    _assert_no_traceback(caplog)


async def test_deep_nesting_is_answered_invalid(sqlite_hub, raw_sockets, caplog):
    caplog.set_level(logging.WARNING)
    raw = await _member_socket(sqlite_hub, raw_sockets)
    for depth, reason in ((40, "nested deeper than 32"), (5_000, "nested deeper than 32"), (20_000, "values")):
        ack = await raw.call_raw(8, '["vote:cast",' + "[" * depth + "]" * depth + "]")
        assert ack["ok"] is False and ack["error"]["code"] == "invalid"
        assert reason in ack["error"]["message"], ack
    # Many values, each cheap: refused before decoding, by a count.
    ack = await raw.call_raw(9, '["vote:cast",[' + ",".join(["[]"] * 20_000) + "]]")
    assert ack["error"]["code"] == "invalid" and "at most 10000 are accepted" in ack["error"]["message"]
    await _still_works(raw)
    _assert_no_traceback(caplog)


async def test_invalid_json_and_bad_shapes_are_answered_on_the_ack_id(sqlite_hub, raw_sockets, caplog):
    caplog.set_level(logging.WARNING)
    raw = await _member_socket(sqlite_hub, raw_sockets)
    bodies = [
        '["vote:cast",{not json',
        '[not json',
        '{"an":"object"}',
        "[]",
        "[42]",
        '"just a string"',
        '["vote:cast",NaN]',
        '["vote:cast",{"choice":"\\ud800"',
    ]
    for n, body in enumerate(bodies, start=1):
        ack = await raw.call_raw(n, body)
        assert ack["ok"] is False and ack["error"]["code"] == "invalid", (body, ack)
        assert ack["error"]["message"]
    await _still_works(raw)
    _assert_no_traceback(caplog)
    wire_lines = [r for r in caplog.records if r.name == "signaling.wire"]
    assert len(wire_lines) == 1 and wire_lines[0].levelno == logging.WARNING


async def test_oversized_message_is_answered_too_large(sqlite_hub, raw_sockets, caplog):
    caplog.set_level(logging.WARNING)
    raw = await _member_socket(sqlite_hub, raw_sockets)
    # Within the message limit: the event's own limit answers (the SDP cap).
    ack = await raw.call_raw(11, '["media:publish",{"sdp":"' + "v" * (MAX_MESSAGE_BYTES // 2) + '"}]')
    assert ack["ok"] is False and ack["error"]["code"] != "too_large"
    # Over it: too_large on the ack id, and the connection stays.
    ack = await raw.call_raw(12, '["media:publish",{"sdp":"' + "v" * (MAX_MESSAGE_BYTES + 10) + '"}]')
    assert ack == {"ok": False, "error": {"code": "too_large", "message": ack["error"]["message"]}}
    assert str(MAX_MESSAGE_BYTES) in ack["error"]["message"]
    await _still_works(raw)
    # Over the transport limit the message is not read: closed with 1009.
    await raw.ws.send_str(f"42{NS},13" + '["x","' + "v" * TRANSPORT_LIMIT_BYTES + '"]')
    async with asyncio.timeout(10):
        await raw.closed.wait()
    assert raw.ws.close_code == aiohttp.WSCloseCode.MESSAGE_TOO_BIG
    _assert_no_traceback(caplog)


async def test_binary_garbage_from_a_member_is_ignored(sqlite_hub, raw_sockets, caplog):
    caplog.set_level(logging.WARNING)
    raw = await _member_socket(sqlite_hub, raw_sockets)
    for _ in range(20):
        await raw.ws.send_bytes(os.urandom(512))
    # Engine.IO-level garbage and binary-attachment events too.
    for frame in ("", "x", "b!!!", "4" + "[" * 20_000, "4{}", "9", f"451-{NS},5[\"x\",{{\"_placeholder\":true}}]"):
        await raw.ws.send_str(frame)
    ack = await raw.call_raw(14, '["state:sync",' + "[" * 50 + "]" * 50 + "]")
    assert ack["error"]["code"] == "invalid"
    await _still_works(raw)
    assert not raw.closed.is_set()
    _assert_no_traceback(caplog)
    assert len([r for r in caplog.records if r.name == "signaling.wire"]) == 1


async def test_garbage_without_a_namespace_closes_with_one_log_line(sqlite_hub, raw_sockets, caplog):
    caplog.set_level(logging.WARNING)
    raw = await RawSocket.open(sqlite_hub.url)
    raw_sockets.append(raw)
    sent = 0
    for _ in range(5000):
        if raw.ws.closed:
            break
        try:
            await raw.ws.send_str(f"42{NS},[not json")
        except ConnectionError:
            break
        sent += 1
    async with asyncio.timeout(10):
        await raw.closed.wait()
    assert sent >= 1
    refusal = await raw.expect(f"44{NS},", timeout=1)
    assert "malformed" in refusal
    ours = [r for r in caplog.records if r.name == "signaling.wire"]
    assert len(ours) == 1 and ours[0].levelno == logging.WARNING
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) <= 2, [r.getMessage() for r in warnings]
    _assert_no_traceback(caplog)
    # The hub is unharmed.
    other = await _member_socket(sqlite_hub, raw_sockets)
    await _still_works(other)


async def test_each_kind_of_garbage_closes_a_namespaceless_socket(sqlite_hub, raw_sockets, caplog):
    caplog.set_level(logging.WARNING)
    for frame in (
        b"\x00\xff garbage", "", "x", "4" + "[" * 20_000, f"42{NS},1[" + "[" * 20_000, "44{}",
        f'42{NS},1["state:sync",{{}}]',  # well-formed, but only CONNECT comes before a join
        f'40{NS},{{"token":"{"x" * 100_000}"}}',  # a CONNECT far over any token
    ):
        raw = await RawSocket.open(sqlite_hub.url)
        raw_sockets.append(raw)
        if isinstance(frame, bytes):
            await raw.ws.send_bytes(frame)
        else:
            await raw.ws.send_str(frame)
        async with asyncio.timeout(10):
            await raw.closed.wait()
    _assert_no_traceback(caplog)


async def test_handshake_announces_the_heartbeat(sqlite_hub, raw_sockets):
    session = aiohttp.ClientSession()
    try:
        async with session.ws_connect(f"{sqlite_hub.url}/socket.io/?EIO=4&transport=websocket") as ws:
            handshake = json.loads((await ws.receive_str())[1:])
    finally:
        await session.close()
    settings = sqlite_hub.hub.settings
    assert handshake["pingInterval"] == settings.ping_interval_s * 1000 == 5000
    assert handshake["pingTimeout"] == settings.ping_timeout_s * 1000 == 5000
    assert handshake["maxPayload"] == TRANSPORT_LIMIT_BYTES


async def test_long_polling_is_refused(sqlite_hub, caplog):
    caplog.set_level(logging.WARNING)
    resp = await sqlite_hub.client.get("/socket.io/?EIO=4&transport=polling")
    assert resp.status == 400
    resp = await sqlite_hub.client.post("/socket.io/?EIO=4&transport=polling&sid=x", data=b"\xff" * 100)
    assert resp.status == 400
    _assert_no_traceback(caplog)


class BlackholeProxy:
    """A TCP relay on 127.0.0.1 that can stop relaying without closing
    anything (to both ends the network has simply gone quiet), or delay
    every chunk by `delay_s` each way (a slow link)."""

    def __init__(self, target_port: int, delay_s: float = 0.0) -> None:
        self.target_port = target_port
        self.delay_s = delay_s
        self.relaying = True
        self._tasks: set[asyncio.Task] = set()
        self._writers: list[asyncio.StreamWriter] = []
        self._server: asyncio.Server | None = None

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def _accept(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        hub_r, hub_w = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._writers += [client_w, hub_w]
        for reader, writer in ((client_r, hub_w), (hub_r, client_w)):
            task = asyncio.create_task(self._relay(reader, writer))
            self._tasks.add(task)

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        due: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        sender = asyncio.create_task(self._send_when_due(due, writer))
        self._tasks.add(sender)
        loop = asyncio.get_running_loop()
        while data := await reader.read(65536):
            if self.relaying:
                due.put_nowait((loop.time() + self.delay_s, data))
        if self.relaying:
            due.put_nowait((loop.time() + self.delay_s, b""))

    async def _send_when_due(self, due: asyncio.Queue, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        while True:
            at, data = await due.get()
            await asyncio.sleep(max(0.0, at - loop.time()))
            if not data:
                writer.close()
                return
            writer.write(data)
            await writer.drain()

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for writer in self._writers:
            writer.close()
        if self._server:
            self._server.close()


async def test_a_silently_dropped_client_shows_offline_within_12s(sqlite_hub, clients):
    mid = await sqlite_hub.meeting()
    watcher_p = await sqlite_hub.participant(mid, "主持人", "chair")
    site_p = await sqlite_hub.participant(mid, "分会场", "member")
    watcher = await sqlite_hub.connect(watcher_p["token"])
    clients.append(watcher)
    proxy = BlackholeProxy(sqlite_hub.client.server.port)
    try:
        site = await EventClient(await proxy.start(), site_p["token"]).connect()
        clients.append(site)

        def online(roster: dict) -> bool:
            return {p["id"]: p["online"] for p in roster["participants"]}[site_p["id"]]

        await watcher.wait_for("roster", online)
        watcher.received["roster"].clear()
        proxy.relaying = False
        dropped_at = time.monotonic()
        await watcher.wait_for("roster", lambda r: not online(r), timeout=15)
        elapsed = time.monotonic() - dropped_at
        print(f"silent drop shown offline after {elapsed:.1f} s")
        assert elapsed < 12
    finally:
        await proxy.close()


async def test_a_slow_link_is_not_dropped(sqlite_hub, clients):
    """A 3 s round trip (1.5 s each way) stays online through two ping cycles."""
    mid = await sqlite_hub.meeting()
    watcher_p = await sqlite_hub.participant(mid, "主持人", "chair")
    site_p = await sqlite_hub.participant(mid, "分会场", "member")
    watcher = await sqlite_hub.connect(watcher_p["token"])
    clients.append(watcher)
    proxy = BlackholeProxy(sqlite_hub.client.server.port, delay_s=1.5)
    try:
        site = EventClient(await proxy.start(), site_p["token"])
        site.sio.eio.ping_timeout = 20  # the client's own wait; the server's is under test
        clients.append(await site.connect())

        def online(roster: dict) -> bool:
            return {p["id"]: p["online"] for p in roster["participants"]}[site_p["id"]]

        await watcher.wait_for("roster", online, timeout=15)
        watcher.received["roster"].clear()
        with pytest.raises(TimeoutError):
            await watcher.wait_for("roster", lambda r: not online(r), timeout=12)
        assert (await site.call("state:sync", timeout=15))["ok"] is True
    finally:
        await proxy.close()
