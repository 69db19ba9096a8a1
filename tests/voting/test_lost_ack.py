"""A ballot whose ack, or whose cast, was lost in a network drop is counted
once when the client sends it again after reconnecting (issue 13, weak links).

The member's client talks to the hub through a TCP relay the test controls,
like a station's flaky uplink: it can hold one direction (bytes are dropped)
and then cut every connection abruptly (RST, no Socket.IO or WebSocket
goodbye). The client is python-socketio with its own reconnection, as the
browser client reconnects by itself.
"""
from __future__ import annotations

import asyncio
import contextlib

import pytest

from tests.helpers import ReconnectingClient, wait_until
from tests.voting.conftest import stored_counts


class FlakyLink:
    """A TCP relay to the hub: `hold_up` / `hold_down` drop what the client
    sends / receives; `cut()` aborts every connection it carries."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.hold_up = False
        self.hold_down = False
        self.dropped_up = 0  # bytes from the client that `hold_up` kept from the hub
        self._pairs: list[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = []
        self._tasks: set[asyncio.Task] = set()
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> "FlakyLink":
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            hub_reader, hub_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            client_writer.transport.abort()
            return
        self._pairs.append((client_writer, hub_writer))
        up = asyncio.ensure_future(self._pump(client_reader, hub_writer, lambda: self.hold_up, self._dropped_up))
        down = asyncio.ensure_future(self._pump(hub_reader, client_writer, lambda: self.hold_down))
        self._tasks |= {up, down}
        try:
            await asyncio.gather(up, down, return_exceptions=True)
        finally:
            self._tasks -= {up, down}
            client_writer.transport.abort()
            hub_writer.transport.abort()

    @staticmethod
    async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, held, dropped=None) -> None:
        try:
            while data := await reader.read(65536):
                if not held():
                    writer.write(data)
                    await writer.drain()
                elif dropped is not None:
                    dropped(len(data))
        except (ConnectionError, OSError):
            pass
        finally:
            writer.transport.abort()

    def _dropped_up(self, count: int) -> None:
        self.dropped_up += count

    def cut(self) -> None:
        """Every connection through the link dies at once, both ends reset."""
        for client_writer, hub_writer in self._pairs:
            client_writer.transport.abort()
            hub_writer.transport.abort()
        self._pairs.clear()
        self.hold_up = self.hold_down = False

    async def close(self) -> None:
        self.cut()
        for task in list(self._tasks):
            task.cancel()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


@pytest.fixture
async def flaky_link(hub):
    link = await FlakyLink(hub.client.port).start()
    yield link
    await link.close()


async def member_on(link: FlakyLink, token: str, clients: list) -> ReconnectingClient:
    client = ReconnectingClient(link.url, token)
    clients.append(client)
    await client.connect()
    await client.wait_connects(1)
    return client


def cast_into_the_drop(client: ReconnectingClient, payload: dict) -> asyncio.Future:
    """Send a cast whose ack will never come back (the link drops meanwhile)."""
    return asyncio.ensure_future(client.call("vote:cast", payload, timeout=2))


async def test_ballot_whose_ack_was_lost_is_counted_once_when_resent(hub, committee_of, flaky_link, clients):
    committee = await committee_of(2, connect=False)
    cc = committee.chair_client
    vid = (await cc.call("vote:open", {"subject": "回执丢失", "secret": True}))["vote_id"]
    member = await member_on(flaky_link, committee.members[0]["token"], clients)
    ballot = {"vote_id": vid, "choice": "满意", "ballot_id": "lost-ack-0001"}

    # The cast reaches the hub, which counts it; its ack is lost with the link.
    flaky_link.hold_down = True
    pending = cast_into_the_drop(member, ballot)
    await wait_until(async_equals(lambda: stored_counts(hub.hub.db, vid), (1, 1)), timeout=10)
    flaky_link.cut()
    with pytest.raises(Exception):  # timed out or disconnected: the client never saw the ack
        await pending
    await member.wait_connects(2, timeout=15)

    # Sent again after reconnecting, with the same ballot_id: the same ballot.
    resent = await member.call("vote:cast", ballot)
    assert resent["ok"] is True and resent["resent"] is True, resent
    assert await stored_counts(hub.hub.db, vid) == (1, 1)
    again = await member.call("vote:cast", ballot)  # and again (a double click): still the same receipt
    assert again == resent

    # A client that forgot its ballot_id and casts afresh replaces its ballot: never a second one.
    fresh = await member.call("vote:cast", {"vote_id": vid, "choice": "不满意"})
    assert fresh["ok"] is True and fresh["resent"] is False and fresh["receipt"] != resent["receipt"]
    assert await stored_counts(hub.hub.db, vid) == (1, 1)

    result = (await cc.call("vote:close", {"vote_id": vid}))["result"]
    assert result["cast"] == 1 and result["counts"] == {"满意": 0, "基本满意": 0, "不满意": 1}
    # The receipt of the replaced ballot is not in the published list; the latest one is.
    headers = {"Authorization": f"Bearer {committee.members[0]['token']}"}
    for receipt, counted in ((resent["receipt"], False), (fresh["receipt"], True)):
        resp = await hub.client.get(f"/api/votes/{vid}/verify", params={"receipt": receipt}, headers=headers)
        assert (await resp.json())["counted"] is counted


async def test_ballot_lost_on_the_way_up_is_counted_once_when_resent(hub, committee_of, flaky_link, clients):
    committee = await committee_of(2, connect=False)
    cc = committee.chair_client
    vid = (await cc.call("vote:open", {"subject": "上行丢失", "secret": False}))["vote_id"]
    member = await member_on(flaky_link, committee.members[1]["token"], clients)
    ballot = {"vote_id": vid, "choice": "基本满意", "ballot_id": "lost-cast-0001"}

    flaky_link.hold_up = True  # the cast never reaches the hub
    pending = cast_into_the_drop(member, ballot)
    await wait_until(lambda: flaky_link.dropped_up > 0, timeout=5)  # it left the client, and went nowhere
    flaky_link.cut()
    with pytest.raises(Exception):
        await pending
    assert await stored_counts(hub.hub.db, vid) == (0, 0)
    await member.wait_connects(2, timeout=15)

    first = await member.call("vote:cast", ballot)
    assert first["ok"] is True and first["resent"] is False  # the hub sees it for the first time
    assert (await member.call("vote:cast", ballot))["receipt"] == first["receipt"]
    assert await stored_counts(hub.hub.db, vid) == (1, 1)
    result = (await cc.call("vote:close", {"vote_id": vid}))["result"]
    assert result["cast"] == 1 and result["counts"]["基本满意"] == 1


async def test_ballot_resent_after_the_close_is_answered_or_refused_never_counted_twice(hub, committee_of, flaky_link, clients):
    """Reconnected only after the chair closed the vote: a ballot the hub
    counted gets its receipt back; one it never got is refused (`closed`), so
    the client can tell the voter it was not sent."""
    committee = await committee_of(2, connect=False)
    cc = committee.chair_client
    vid = (await cc.call("vote:open", {"subject": "结束后重发", "secret": True}))["vote_id"]
    counted_member = await member_on(flaky_link, committee.members[0]["token"], clients)
    lost_member = ReconnectingClient(hub.url, committee.members[1]["token"])
    clients.append(lost_member)
    await lost_member.connect()

    flaky_link.hold_down = True
    pending = cast_into_the_drop(counted_member, {"vote_id": vid, "choice": "满意", "ballot_id": "closed-ack-01"})
    await wait_until(async_equals(lambda: stored_counts(hub.hub.db, vid), (1, 1)), timeout=10)
    flaky_link.cut()
    with contextlib.suppress(Exception):
        await pending
    result = (await cc.call("vote:close", {"vote_id": vid}))["result"]
    assert result["cast"] == 1
    await counted_member.wait_connects(2, timeout=15)

    late = await counted_member.call("vote:cast", {"vote_id": vid, "choice": "满意", "ballot_id": "closed-ack-01"})
    assert late["ok"] is True and late["resent"] is True
    never = await lost_member.call("vote:cast", {"vote_id": vid, "choice": "不满意", "ballot_id": "never-sent-01"})
    assert never["ok"] is False and never["error"]["code"] == "closed"
    assert await stored_counts(hub.hub.db, vid) == (1, 1)


def async_equals(get, expected):
    async def check() -> bool:
        return await get() == expected

    return check
