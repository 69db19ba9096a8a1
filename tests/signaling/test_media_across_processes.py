"""Two `plenary serve` processes on one PostgreSQL and one Redis are one hub,
media included: a participant publishing through one process is seen and
heard by a participant subscribed through the other, both ways."""
from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription

from sessions.identity import TokenService
from tests.conftest import SECRET
from tests.helpers import EventClient, ServeProcess, wait_until
from tests.media.media_testkit import MovingVideo, Tone, config

pytestmark = pytest.mark.multiprocess


async def meeting_over_rest(url: str, title: str, roles: list[tuple[str, str]]) -> list[dict]:
    """A meeting and its participants, made by the admin over REST on one process."""
    admin = {"Authorization": f"Bearer {TokenService(SECRET).admin_token()}"}
    async with aiohttp.ClientSession(headers=admin) as http:
        async with http.post(f"{url}/api/meetings", json={"title": title}) as resp:
            mid = (await resp.json())["id"]
        people = []
        for name, role in roles:
            async with http.post(f"{url}/api/meetings/{mid}/participants", json={"name": name, "role": role}) as resp:
                people.append(await resp.json())
    return people


async def media_gauges(url: str) -> dict[str, float]:
    """The process's plenary_media_* gauges from /metrics."""
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{url}/metrics") as resp:
            text = await resp.text()
    gauges = {}
    for line in text.splitlines():
        if line.startswith("plenary_media_"):
            name, value = line.split()
            gauges[name.removeprefix("plenary_media_")] = float(value)
    return gauges


async def _gauges_become(url: str, wanted: dict[str, float], timeout: float) -> dict[str, float]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        gauges = await media_gauges(url)
        if all(gauges.get(k) == v for k, v in wanted.items()):
            return gauges
        assert asyncio.get_running_loop().time() < deadline, f"gauges {gauges}, wanted {wanted}"
        await asyncio.sleep(0.1)


class Side:
    """One participant's client: Socket.IO plus a sending and a receiving peer connection."""

    def __init__(self, client: EventClient) -> None:
        self.client = client
        self.pcs: list[RTCPeerConnection] = []
        self.frames: dict[str, dict[str, int]] = {}  # participant id of the track -> kind -> frames
        self.readers: list[asyncio.Task] = []

    async def publish(self) -> None:
        pc = RTCPeerConnection(config())
        self.pcs.append(pc)
        for track in (MovingVideo(), Tone()):
            pc.addTransceiver(track, direction="sendonly")
        await pc.setLocalDescription(await pc.createOffer())
        ack = await self.client.call("media:publish", {"sdp": pc.localDescription.sdp})
        assert ack["ok"], ack
        await pc.setRemoteDescription(RTCSessionDescription(sdp=ack["sdp"], type="answer"))

    async def subscribe_all(self) -> None:
        """Subscribe to everything; answer every offer the hub sends (one per
        change, as tracks are piped in) for as long as the side lives."""
        rx = RTCPeerConnection(config())
        self.pcs.append(rx)
        owners: dict[str, str] = {}  # receive mid -> participant id
        rx.on("track", lambda track: self.readers.append(asyncio.ensure_future(self._read(track, rx, owners))))
        assert (await self.client.call("media:subscribe", {"tracks": "all"}))["ok"]

        async def answer_offers() -> None:
            answered = 0
            while True:
                await self.client.wait_for("media:offer", lambda _o: len(self.client.received["media:offer"]) > answered,
                                           timeout=3600)
                offer = self.client.received["media:offer"][answered]
                answered += 1
                owners.update({c["mid"]: c["participant_id"] for c in offer["consumers"]})
                await rx.setRemoteDescription(RTCSessionDescription(sdp=offer["sdp"], type="offer"))
                await rx.setLocalDescription(await rx.createAnswer())
                await self.client.call("media:answer", {"sdp": rx.localDescription.sdp})

        self.readers.append(asyncio.ensure_future(answer_offers()))

    async def _read(self, track, rx: RTCPeerConnection, owners: dict[str, str]) -> None:
        mid = next((t.mid for t in rx.getTransceivers() if t.receiver.track is track), None)
        try:
            while True:
                await track.recv()
                who = owners.get(mid, "?")
                counts = self.frames.setdefault(who, {"audio": 0, "video": 0})
                counts[track.kind] += 1
        except Exception:
            pass

    def decoded(self, participant_id: str, video: int = 20, audio: int = 20) -> bool:
        counts = self.frames.get(participant_id, {})
        return counts.get("video", 0) >= video and counts.get("audio", 0) >= audio

    async def close(self) -> None:
        for task in self.readers:
            task.cancel()
        for pc in self.pcs:
            await pc.close()
        await self.client.close()


async def test_publisher_and_subscriber_on_different_processes_see_and_hear_each_other(tmp_path, pg_url, redis_url):
    nodes = [ServeProcess(data_dir=tmp_path / f"node{i}", secret=SECRET, db_url=pg_url, redis_url=redis_url)
             for i in (1, 2)]
    sides: list[Side] = []
    try:
        for node in nodes:
            await node.start()
        people = await meeting_over_rest(nodes[0].url, "跨进程媒体", [("区人大主任", "chair"), ("联络站代表", "deputy")])
        chair = Side(await EventClient(nodes[0].url, people[0]["token"]).connect())
        sides.append(chair)
        deputy = Side(await EventClient(nodes[1].url, people[1]["token"]).connect())
        sides.append(deputy)

        # The chair publishes on process 1; process 2's client hears of it.
        await chair.publish()
        tracks = await deputy.client.wait_for("media:tracks", lambda m: len(m["tracks"]) == 2, timeout=15)
        assert {t["participant_id"] for t in tracks["tracks"]} == {people[0]["id"]}
        sync = await deputy.client.call("state:sync")
        assert sorted(t["id"] for t in sync["tracks"]) == sorted(t["id"] for t in tracks["tracks"])

        # The deputy on process 2 subscribes and decodes both.
        await deputy.subscribe_all()
        await wait_until(lambda: deputy.decoded(people[0]["id"]), timeout=30)

        # And the other way: the deputy publishes, the chair receives.
        await deputy.publish()
        await chair.client.wait_for(
            "media:tracks", lambda m: {t["participant_id"] for t in m["tracks"]} == {p["id"] for p in people},
            timeout=15)
        await chair.subscribe_all()
        await wait_until(lambda: chair.decoded(people[1]["id"]), timeout=30)
        # Both processes list the same four tracks.
        one = await chair.client.call("state:sync")
        two = await deputy.client.call("state:sync")
        assert len(one["tracks"]) == 4
        assert sorted(t["id"] for t in one["tracks"]) == sorted(t["id"] for t in two["tracks"])
    finally:
        for side in sides:
            await side.close()
        for node in nodes:
            await node.stop()


async def test_the_publishers_process_dies_and_it_comes_back_through_another(tmp_path, pg_url, redis_url):
    """kill -9 of the process a publisher is connected to: the subscriber on
    another process loses the tracks; the publisher connects through a third
    process and publishes again, and the subscriber decodes it again. A
    ballot cast before the death counts once, and the inquiry's timer goes on."""
    nodes = [ServeProcess(data_dir=tmp_path / f"node{i}", secret=SECRET, db_url=pg_url, redis_url=redis_url,
                          env={"PLENARY_NODE_TIMEOUT_S": "4"})
             for i in (1, 2, 3)]
    sides: list[Side] = []
    try:
        for node in nodes:
            await node.start()
        people = await meeting_over_rest(nodes[1].url, "进程故障",
                                         [("街道代表", "member"), ("主任", "chair"), ("交通局", "respondent")])
        member_id = people[0]["id"]
        publisher = Side(await EventClient(nodes[0].url, people[0]["token"]).connect())
        sides.append(publisher)
        chair = Side(await EventClient(nodes[1].url, people[1]["token"]).connect())
        sides.append(chair)

        await publisher.publish()
        await chair.subscribe_all()
        await wait_until(lambda: chair.decoded(member_id), timeout=30)
        vote = await chair.client.call("vote:open", {"subject": "故障前投票", "secret": True})
        assert vote["ok"], vote
        cast = await publisher.client.call("vote:cast", {"vote_id": vote["vote_id"], "choice": "满意",
                                                          "ballot_id": "before-death-1"})
        assert cast["ok"], cast
        for action in ({"action": "open_topic", "title": "故障中的询问", "respondents": [people[2]["id"]]},
                       {"action": "grant", "participant": member_id}):
            assert (await chair.client.call("inquiry:command", action))["ok"]
        timer = (await chair.client.call("state:sync"))["inquiry"]["timer"]
        seen = len(chair.client.received["media:tracks"])
        before = await media_gauges(nodes[1].url)
        assert before["pipes"] == 1 and before["pipe_producers"] == 2

        await nodes[0].stop(kill=True)
        # The subscriber's process drops the dead process's tracks and tells its clients.
        gone = await chair.client.wait_for(
            "media:tracks", lambda m: m["tracks"] == [] and len(chair.client.received["media:tracks"]) > seen,
            timeout=20)
        assert gone["tracks"] == []
        # Its pipe is torn down on the survivor: socket, piped producers and the consumers of them.
        after = await _gauges_become(nodes[1].url, {"pipes": 0, "pipe_producers": 0,
                                                    "consumers": before["consumers"] - 2}, timeout=15)
        assert after["transports"] == before["transports"] and after["peers"] == before["peers"]

        # The publisher comes back through the third process (a client's reconnect).
        await publisher.client.close()
        publisher.client = await EventClient(nodes[2].url, people[0]["token"]).connect()
        again = await publisher.client.call("vote:cast", {"vote_id": vote["vote_id"], "choice": "满意",
                                                           "ballot_id": "before-death-1"})
        assert again["ok"] and again["resent"] is True, again
        frames_before = dict(chair.frames.get(member_id, {}))
        await publisher.publish()
        await wait_until(
            lambda: chair.frames.get(member_id, {}).get("video", 0) >= frames_before.get("video", 0) + 20,
            timeout=30)
        result = await chair.client.call("vote:close", {"vote_id": vote["vote_id"]})
        assert result["ok"] and result["result"]["cast"] == 1, result
        # The floor and its timer outlived the process.
        inquiry = (await chair.client.call("state:sync"))["inquiry"]
        assert inquiry["speaker"] == member_id and inquiry["timer"] == timer
    finally:
        for side in sides:
            await side.close()
        for node in nodes:
            await node.stop()


async def test_three_processes_pipe_a_producer_once_per_process(tmp_path, pg_url, redis_url):
    """A publisher on process 1, two subscribers on each of processes 2 and 3:
    every subscriber decodes its video and audio, and process 1 pipes each of
    its two producers once per far process (two pipes, two producers each),
    not once per subscriber; processes 2 and 3 each take one pipe in."""
    nodes = [ServeProcess(data_dir=tmp_path / f"node{i}", secret=SECRET, db_url=pg_url, redis_url=redis_url)
             for i in (1, 2, 3)]
    sides: list[Side] = []
    try:
        # Started together; every start finishes (or fails) before the cleanup can run.
        for started in await asyncio.gather(*(node.start() for node in nodes), return_exceptions=True):
            if isinstance(started, BaseException):
                raise started
        people = await meeting_over_rest(nodes[0].url, "三进程媒体", [
            ("主任", "chair"), ("代表甲", "member"), ("代表乙", "member"), ("代表丙", "deputy"), ("代表丁", "deputy")])
        publisher_id = people[0]["id"]
        publisher = Side(await EventClient(nodes[0].url, people[0]["token"]).connect())
        sides.append(publisher)
        subscribers: list[Side] = []
        for person, node in zip(people[1:], (nodes[1], nodes[1], nodes[2], nodes[2])):
            side = Side(await EventClient(node.url, person["token"]).connect())
            sides.append(side)
            subscribers.append(side)

        await publisher.publish()
        for side in subscribers:
            tracks = await side.client.wait_for("media:tracks", lambda m: len(m["tracks"]) == 2, timeout=15)
            assert {(t["participant_id"], t["kind"]) for t in tracks["tracks"]} == {
                (publisher_id, "video"), (publisher_id, "audio")}
        for side in subscribers:
            await side.subscribe_all()
        await wait_until(lambda: all(side.decoded(publisher_id) for side in subscribers), timeout=40)

        # Process 1: two pipes (one per far process), four pipe consumers. A
        # pipe's consumers are keyed by producer, so 4 over 2 pipes of 2 local
        # producers is each producer on each pipe exactly once; once per
        # subscriber would be 8. Its only consumers are those pipe consumers.
        one = await _gauges_become(nodes[0].url, {"pipes": 2, "pipe_consumers": 4, "pipe_producers": 0,
                                                  "producers": 2, "consumers": 4}, timeout=15)
        assert one["peers"] == 1, one
        # Processes 2 and 3: one pipe in each, carrying both producers, which
        # each process's two subscribers consume (2 × 2 consumers).
        for node in nodes[1:]:
            far = await _gauges_become(node.url, {"pipes": 1, "pipe_producers": 2, "pipe_consumers": 0,
                                                  "producers": 2, "consumers": 4}, timeout=15)
            assert far["peers"] == 2, far
        # Still decoding, and still one pipe per process, once it all settled.
        counts = [dict(side.frames[publisher_id]) for side in subscribers]
        await wait_until(lambda: all(side.frames[publisher_id]["video"] >= c["video"] + 10
                                     and side.frames[publisher_id]["audio"] >= c["audio"] + 10
                                     for side, c in zip(subscribers, counts)), timeout=20)
        assert (await media_gauges(nodes[0].url))["pipe_consumers"] == 4
    finally:
        for side in sides:
            await side.close()
        await asyncio.gather(*(node.stop() for node in nodes), return_exceptions=True)
