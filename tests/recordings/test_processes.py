"""Recording with real `plenary serve` processes (issue 14, items 2 and 6):
SIGTERM and kill -9 mid-recording, a full disk, and two processes."""
from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import aiohttp
import pytest

from sessions.identity import TokenService
from tests.conftest import SECRET
from tests.helpers import EventClient, ServeProcess, wait_until
from tests.recordings.kit import play, publish

pytestmark = pytest.mark.multiprocess
ADMIN = {"Authorization": f"Bearer {TokenService(SECRET).admin_token()}"}


async def post(http: aiohttp.ClientSession, url: str, body: dict) -> dict:
    async with http.post(url, json=body, headers=ADMIN) as resp:
        assert resp.status == 201, await resp.text()
        return await resp.json()


async def get(http: aiohttp.ClientSession, url: str) -> dict:
    async with http.get(url, headers=ADMIN) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def meeting_with_chair(
    http: aiohttp.ClientSession, node: ServeProcess, *names: str, second_role: str = "member"
) -> tuple[str, list[dict]]:
    """A meeting whose first participant chairs; the others take `second_role`."""
    mid = (await post(http, f"{node.url}/api/meetings", {"title": "常委会会议"}))["id"]
    people = [
        await post(http, f"{node.url}/api/meetings/{mid}/participants",
                   {"name": name, "role": "chair" if i == 0 else second_role})
        for i, name in enumerate(names)
    ]
    return mid, people


async def recorded_media(http, node: ServeProcess, rid: str) -> list[dict]:
    view = await get(http, f"{node.url}/api/recordings/{rid}")
    return [f for f in view["files"] if f["kind"] == "media"]


async def played(path: Path):
    return await asyncio.get_running_loop().run_in_executor(None, play, path)


async def record_for(client: EventClient, seconds: float) -> str:
    started = await client.call("recording:start")
    assert started["ok"], started
    await asyncio.sleep(seconds)  # how much media the test wants on disk
    return started["recording_id"]


async def wait_for_bytes(path_of, minimum: int = 2000) -> None:
    await wait_until(lambda: (p := path_of()) is not None and p.exists() and p.stat().st_size >= minimum, timeout=20)


@pytest.mark.parametrize("signal", ["SIGTERM", "SIGKILL"])
async def test_a_process_that_ends_mid_recording_leaves_playable_files(tmp_path, signal):
    data = tmp_path / "node"
    node = await ServeProcess(data_dir=data, secret=SECRET).start()
    pc = None
    try:
        async with aiohttp.ClientSession() as http:
            mid, (chair,) = await meeting_with_chair(http, node, "主任")
            client = await EventClient(node.url, chair["token"]).connect()
            pc = await publish(client)
            folder = data / "recordings"
            rid = await record_for(client, 4)
            await wait_for_bytes(lambda: next(iter((folder / rid).glob("*.webm")), None))
            # Still publishing: the process itself must close (or lose) the file.
            await node.stop(kill=signal == "SIGKILL")
            await client.close()
    finally:
        if pc is not None:
            await pc.close()
        await node.stop()
    (path,) = (data / "recordings" / rid).glob("*.webm")
    playback = await played(path)
    assert playback.first_video_keyframe
    # Everything up to the end (kill -9: up to the last written cluster, ≤ 1 s).
    assert playback.video_frames >= (4 - (1.5 if signal == "SIGKILL" else 0.5)) * 30 * 0.9, playback
    assert playback.audio_samples > 48000 * 2

    # Started again on the same data: the listing says how each file ended.
    again = await ServeProcess(data_dir=data, secret=SECRET, env={"PLENARY_NODE_TIMEOUT_S": "2"}).start()
    try:
        async with aiohttp.ClientSession() as http:
            if signal == "SIGTERM":
                (entry,) = await recorded_media(http, again, rid)
                assert entry["state"] == "complete" and entry["duration_s"] > 3
                assert entry["bytes"] == path.stat().st_size
            else:
                # The dead process's file is marked once its node is reaped.
                async def interrupted() -> bool:
                    return (await recorded_media(http, again, rid))[0]["state"] == "interrupted"
                await wait_until(interrupted, timeout=30, interval=0.5)
    finally:
        await again.stop()


@pytest.mark.skipif(shutil.which("unshare") is None or os.geteuid() != 0, reason="needs unshare and root for a tmpfs")
async def test_a_full_disk_stops_the_recording_with_an_error_and_keeps_what_was_written(tmp_path):
    """The recordings folder is a 64 KiB tmpfs in the server's own mount
    namespace: a real ENOSPC, not a simulated one."""
    folder = tmp_path / "small-disk"
    folder.mkdir()
    mount = f"mount -t tmpfs -o size=64k tmpfs {folder} && exec \"$@\""
    node = ServeProcess(data_dir=tmp_path / "node", secret=SECRET, env={"PLENARY_RECORDINGS_DIR": str(folder)},
                        prefix=["unshare", "-m", "sh", "-c", mount, "sh"])
    await node.start()
    pc = None
    try:
        async with aiohttp.ClientSession() as http:
            mid, (chair, member) = await meeting_with_chair(http, node, "主任", "委员")
            client = await EventClient(node.url, chair["token"]).connect()
            watcher = await EventClient(node.url, member["token"]).connect()
            pc = await publish(client)
            rid = (await client.call("recording:start"))["recording_id"]
            stopped = await watcher.wait_for("recording:state", lambda s: not s["recording"], timeout=60)
            assert stopped["recording_id"] == rid
            assert stopped["error"]["code"] == "io" and "录制" in stopped["error"]["message"], stopped
            assert (await watcher.call("state:sync"))["recording"]["error"]["code"] == "io"
            # The file as the server's own namespace sees it.
            inside = Path(f"/proc/{node.proc.pid}/root") / str(folder).lstrip("/") / rid
            (entry,) = await recorded_media(http, node, rid)
            assert entry["state"] == "failed"
            copy = tmp_path / "copy.webm"
            copy.write_bytes((inside / entry["name"]).read_bytes())
            playback = await played(copy)
            assert playback.first_video_keyframe and playback.video_frames > 10, playback
            # The hub goes on: a new recording can start (and fails the same way).
            assert (await client.call("recording:start"))["ok"]
            await client.close()
            await watcher.close()
    finally:
        if pc is not None:
            await pc.close()
        await node.stop()


async def test_two_processes_record_their_own_publishers_and_one_stop_ends_both(tmp_path, pg_url, redis_url):
    shared = tmp_path / "shared"  # one data dir for the processes of one machine
    nodes = [ServeProcess(data_dir=shared, secret=SECRET, db_url=pg_url, redis_url=redis_url) for _ in range(2)]
    pcs = []
    opened: list[EventClient] = []
    try:
        for node in nodes:
            await node.start()
        async with aiohttp.ClientSession() as http:
            mid, (chair, member) = await meeting_with_chair(http, nodes[0], "主任", "秘书", second_role="clerk")
            a = await EventClient(nodes[0].url, chair["token"]).connect()
            b = await EventClient(nodes[1].url, member["token"]).connect()
            opened += [a, b]
            pcs += [await publish(a), await publish(b)]
            tracks = await b.wait_for("media:tracks", lambda t: len(t["tracks"]) == 4, timeout=20)
            assert {t["participant_id"] for t in tracks["tracks"]} == {chair["id"], member["id"]}
            rid = await record_for(a, 4)
            # Stopped on the other process than the one that started it.
            assert (await b.call("recording:stop"))["ok"]

            async def all_final() -> list[dict] | None:
                files = await recorded_media(http, nodes[1], rid)
                return files if len(files) == 2 and all(f["state"] == "complete" for f in files) else None

            files = await wait_until(all_final, timeout=15, interval=0.3)
            assert {f["participant_id"] for f in files} == {chair["id"], member["id"]}
            view = await get(http, f"{nodes[0].url}/api/recordings/{rid}")
            assert any(f["name"] == "timeline.jsonl" for f in view["files"])
        for entry in files:
            playback = await played(shared / "recordings" / rid / entry["name"])
            assert playback.first_video_keyframe and playback.video_frames > 2 * 30 * 0.9, (entry, playback)
            assert playback.audio_samples > 48000 * 2
    finally:
        for c in opened:
            await c.close()
        for pc in pcs:
            await pc.close()
        for node in nodes:
            await node.stop()
