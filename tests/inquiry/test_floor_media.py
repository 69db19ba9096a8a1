"""Floor control drives the SFU: with it on, a real aiortc subscriber receives
audio packets only from the chair and the floor (the floor holder, and the
department while it answers). Everything goes through Socket.IO signalling."""
import asyncio

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from media import aiortc_hooks
from tests.helpers import wait_until
from tests.media.media_testkit import Tone


class AudioPublisher:
    """A participant sending a tone over its own Socket.IO connection."""

    def __init__(self, client):
        self.client = client
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pc.addTransceiver(Tone(), direction="sendonly")

    async def publish(self):
        await self.pc.setLocalDescription(await self.pc.createOffer())
        ack = await self.client.call("media:publish", {"sdp": self.pc.localDescription.sdp})
        assert ack["ok"], ack
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=ack["sdp"], type="answer"))


class Listener:
    """Receives everything; counts RTP packets per sending participant."""

    def __init__(self, client):
        self.client = client
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.owner_of_mid: dict[str, str] = {}
        self.readers: list[asyncio.Task] = []
        self.pc.on("track", lambda track: self.readers.append(asyncio.ensure_future(self._drain(track))))

    async def _drain(self, track):
        # A received track nobody reads fills a queue.
        try:
            while True:
                await track.recv()
        except (MediaStreamError, asyncio.CancelledError):
            pass

    async def subscribe(self, offers_expected: int = 1):
        ack = await self.client.call("media:subscribe", {"tracks": "all"})
        assert ack["ok"], ack
        offer = await self.client.wait_for("media:offer")
        self.owner_of_mid = {c["mid"]: c["participant_id"] for c in offer["consumers"]}
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer["sdp"], type="offer"))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        ack = await self.client.call("media:answer", {"sdp": self.pc.localDescription.sdp})
        assert ack["ok"], ack

    async def packets(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for transceiver in self.pc.getTransceivers():
            owner = self.owner_of_mid.get(transceiver.mid)
            if owner is None:
                continue
            report = await transceiver.receiver.getStats()
            counts[owner] = sum(s.packetsReceived for s in report.values() if s.type == "inbound-rtp")
        return counts

    async def close(self):
        for task in self.readers:
            task.cancel()
        await asyncio.gather(*self.readers, return_exceptions=True)
        await self.pc.close()


async def heard(listener: Listener, *, steady_on: str) -> dict[str, int]:
    """Packets per participant over a window measured by `steady_on`'s own
    stream (about 1 s of 20 ms packets), after letting in-flight packets land."""

    async def grew_by(n, base):
        now = await listener.packets()
        return now if now[steady_on] - base[steady_on] >= n else None

    settle = await listener.packets()
    base = await wait_until(lambda: grew_by(10, settle), timeout=5)
    end = await wait_until(lambda: grew_by(50, base), timeout=5)
    return {pid: end[pid] - base[pid] for pid in end}


async def test_floor_control_forwards_only_chair_and_floor(sqlite_hub, clients):
    hub = sqlite_hub
    mid = await hub.meeting()
    people = {key: await hub.participant(mid, key, role) for key, role in (
        ("chair", "chair"), ("m1", "member"), ("m2", "member"), ("dept", "respondent"), ("listener", "observer"))}
    ids = {k: p["id"] for k, p in people.items()}
    conns = {}
    for key, p in people.items():
        conns[key] = await hub.connect(p["token"])
        clients.append(conns[key])
    publishers = [AudioPublisher(conns[k]) for k in ("chair", "m1", "m2", "dept")]
    listener = Listener(conns["listener"])
    chair = conns["chair"]

    async def command(action, **fields):
        ack = await chair.call("inquiry:command", {"action": action, **fields})
        assert ack["ok"], ack
        return ack

    try:
        for publisher in publishers:
            await publisher.publish()
        await conns["listener"].wait_for("media:tracks", lambda t: len(t["tracks"]) == 4)
        await listener.subscribe()
        everyone = {ids[k] for k in ("chair", "m1", "m2", "dept")}
        await wait_until(lambda: _all_flowing(listener, everyone), timeout=15)

        # Floor control on, a topic open, the floor to m1: only chair and m1 are heard.
        await command("floor_control", on=True)
        await command("open_topic", title="电价", respondents=[ids["dept"]])
        await command("grant", participant=ids["m1"])
        window = await heard(listener, steady_on=ids["chair"])
        assert window[ids["m1"]] > 25 and window[ids["chair"]] >= 50
        assert window[ids["m2"]] == 0 and window[ids["dept"]] == 0, window

        # The department answers: it joins the floor; m2 stays silent.
        await command("answer", respondent=ids["dept"])
        window = await heard(listener, steady_on=ids["chair"])
        assert window[ids["dept"]] > 25 and window[ids["m1"]] > 25
        assert window[ids["m2"]] == 0, window

        # Floor control off: everyone is forwarded again.
        await command("floor_control", on=False)
        window = await heard(listener, steady_on=ids["chair"])
        assert all(window[ids[k]] > 25 for k in ("m1", "m2", "dept")), window
    finally:
        await listener.close()
        for publisher in publishers:
            await publisher.pc.close()
        aiortc_hooks.disable_loopback_candidates()


async def _all_flowing(listener: Listener, pids: set[str]) -> bool:
    counts = await listener.packets()
    return set(counts) == pids and all(n > 20 for n in counts.values())


async def test_floor_control_reaches_the_routers_of_another_process(aiohttp_client, tmp_path, pg_url, redis_url, clients):
    """Each process has its own SFU routers: a command on process A must set
    the allowlist on process B's router too (B's clock follows the log)."""
    from sessions.identity import TokenService
    from tests.conftest import SECRET, HubUnderTest, make_settings
    from web.app import create_app

    a, b = [
        HubUnderTest(await aiohttp_client(create_app(make_settings(tmp_path / name, pg_url, redis_url))),
                     TokenService(SECRET))
        for name in ("a", "b")
    ]
    mid = await a.meeting()
    people = {key: await a.participant(mid, key, role) for key, role in (
        ("chair", "chair"), ("m1", "member"), ("dept", "respondent"), ("listener", "observer"))}
    chair = await a.connect(people["chair"]["token"])
    listener = await b.connect(people["listener"]["token"])
    clients.extend([chair, listener])
    try:
        # Subscribing makes B's router for the meeting (nothing is published yet).
        assert (await listener.call("media:subscribe", {"tracks": "all"}))["ok"]
        router_b = b.hub.media.router(mid)
        assert router_b is not None and a.hub.media.router(mid) is None
        for action in ({"action": "floor_control", "on": True},
                       {"action": "open_topic", "title": "t", "respondents": [people["dept"]["id"]]},
                       {"action": "grant", "participant": people["m1"]["id"]}):
            assert (await chair.call("inquiry:command", action))["ok"]
        want = {people["chair"]["id"], people["m1"]["id"]}
        await wait_until(lambda: router_b.audio_allowlist == want, timeout=5)
        assert (await chair.call("inquiry:command", {"action": "floor_control", "on": False}))["ok"]
        await wait_until(lambda: router_b.audio_allowlist is None, timeout=5)
    finally:
        aiortc_hooks.disable_loopback_candidates()


async def test_a_router_made_after_floor_control_starts_with_it(sqlite_hub, clients):
    """Floor control switched on while nobody has media: the meeting's first
    router, made later, must not forward every microphone until a clock tick."""
    hub = sqlite_hub
    mid = await hub.meeting()
    people = {key: await hub.participant(mid, key, role) for key, role in (
        ("chair", "chair"), ("m1", "member"), ("dept", "respondent"), ("listener", "observer"))}
    chair = await hub.connect(people["chair"]["token"])
    listener = await hub.connect(people["listener"]["token"])
    clients.extend([chair, listener])
    try:
        for action in ({"action": "floor_control", "on": True},
                       {"action": "open_topic", "title": "t", "respondents": [people["dept"]["id"]]},
                       {"action": "grant", "participant": people["m1"]["id"]}):
            assert (await chair.call("inquiry:command", action))["ok"]
        assert hub.hub.media.router(mid) is None
        assert (await listener.call("media:subscribe", {"tracks": "all"}))["ok"]
        router = hub.hub.media.router(mid)
        assert router is not None
        # Read at once, in the same loop turn as the router's creation.
        assert router.audio_allowlist == {people["chair"]["id"], people["m1"]["id"]}
    finally:
        aiortc_hooks.disable_loopback_candidates()


async def test_floor_control_holds_for_microphones_on_another_process(aiohttp_client, tmp_path, pg_url, redis_url,
                                                                     clients):
    """Members publishing through process B, a listener on process A: their
    audio is piped to A, and A's floor lets through only the chair and the
    floor holder, as for microphones of its own clients."""
    from sessions.identity import TokenService
    from tests.conftest import SECRET, HubUnderTest, make_settings
    from web.app import create_app

    a, b = [
        HubUnderTest(await aiohttp_client(create_app(make_settings(tmp_path / name, pg_url, redis_url))),
                     TokenService(SECRET))
        for name in ("a", "b")
    ]
    mid = await a.meeting()
    people = {key: await a.participant(mid, key, role) for key, role in (
        ("chair", "chair"), ("m1", "member"), ("m2", "member"), ("dept", "respondent"), ("listener", "observer"))}
    ids = {k: p["id"] for k, p in people.items()}
    conns = {key: await (b if key in ("m1", "m2") else a).connect(p["token"]) for key, p in people.items()}
    clients.extend(conns.values())
    publishers = [AudioPublisher(conns[k]) for k in ("chair", "m1", "m2")]
    listener = Listener(conns["listener"])

    async def command(action, **fields):
        ack = await conns["chair"].call("inquiry:command", {"action": action, **fields})
        assert ack["ok"], ack

    try:
        for publisher in publishers:
            await publisher.publish()
        await conns["listener"].wait_for("media:tracks", lambda t: len(t["tracks"]) == 3, timeout=15)
        await listener.subscribe()
        everyone = {ids["chair"], ids["m1"], ids["m2"]}
        # m1 and m2 arrive through the pipe from B: each may bring its own offer.
        await _answer_offers_until(listener, everyone)
        await wait_until(lambda: _all_flowing(listener, everyone), timeout=20)
        assert set(a.hub.media.pipe_consumer_counts(mid)) == set()  # A sends nothing to B: nobody there listens
        assert len(b.hub.media.pipe_consumer_counts(mid)) == 2  # B pipes m1's and m2's microphones to A

        await command("floor_control", on=True)
        await command("open_topic", title="跨进程询问", respondents=[ids["dept"]])
        await command("grant", participant=ids["m1"])
        window = await heard(listener, steady_on=ids["chair"])
        assert window[ids["m1"]] > 25 and window[ids["chair"]] >= 50
        assert window[ids["m2"]] == 0, window

        await command("floor_control", on=False)
        window = await heard(listener, steady_on=ids["chair"])
        assert window[ids["m2"]] > 25 and window[ids["m1"]] > 25, window
    finally:
        await listener.close()
        for publisher in publishers:
            await publisher.pc.close()
        aiortc_hooks.disable_loopback_candidates()


async def _answer_offers_until(listener: Listener, pids: set[str], timeout: float = 20) -> None:
    """Apply each further media:offer (tracks piped in after the first) until
    the listener receives a transceiver from every one of `pids`."""
    answered = 1
    deadline = asyncio.get_running_loop().time() + timeout
    while set(listener.owner_of_mid.values()) != pids:
        remaining = deadline - asyncio.get_running_loop().time()
        assert remaining > 0, f"offers never covered {pids - set(listener.owner_of_mid.values())}"
        await listener.client.wait_for(
            "media:offer", lambda _o: len(listener.client.received["media:offer"]) > answered, timeout=remaining)
        offer = listener.client.received["media:offer"][answered]
        answered += 1
        listener.owner_of_mid.update({c["mid"]: c["participant_id"] for c in offer["consumers"]})
        await listener.pc.setRemoteDescription(RTCSessionDescription(sdp=offer["sdp"], type="offer"))
        await listener.pc.setLocalDescription(await listener.pc.createAnswer())
        ack = await listener.client.call("media:answer", {"sdp": listener.pc.localDescription.sdp})
        assert ack["ok"], ack
