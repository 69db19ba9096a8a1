"""Recording real aiortc publishers through the hub (issue 14, items 1, 4, 6).

Publishers send real VP8/H.264 and Opus with a sync mark (tests/recordings/
kit.py); the files are opened and decoded with PyAV as a player would."""
from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

from tests.helpers import wait_until
from tests.recordings.kit import play, publish, sync_errors

RECORD_S = 10.0


def files_dir(sqlite_hub, recording_id: str) -> Path:
    return sqlite_hub.hub.settings.recordings_path / recording_id


async def recording_view(sqlite_hub, rid: str, token: str | None = None) -> dict:
    headers = {"Authorization": f"Bearer {token}"} if token else sqlite_hub.admin_headers()
    resp = await sqlite_hub.client.get(f"/api/recordings/{rid}", headers=headers)
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def wait_for_frames(sqlite_hub, mid: str, count: int = 2) -> None:
    """Until the hub receives media from `count` tracks of the meeting."""
    media = sqlite_hub.hub.media
    await wait_until(lambda: sum(p.packets > 20 for p in media.local_producers(mid)) >= count, timeout=20)


async def publishing_chair(sqlite_hub, clients, video_codec: str = "vp8"):
    """A meeting whose chair publishes a marked camera and microphone, flowing."""
    mid = await sqlite_hub.meeting()
    chair = await sqlite_hub.participant(mid, "主任", "chair")
    client = await sqlite_hub.connect(chair["token"])
    clients.append(client)
    pc = await publish(client, video_codec=video_codec)
    await wait_for_frames(sqlite_hub, mid)
    return mid, chair, client, pc


def media_files(view: dict) -> list[dict]:
    return [f for f in view["files"] if f["kind"] == "media"]


async def play_file(sqlite_hub, rid: str, name: str):
    return await asyncio.get_running_loop().run_in_executor(None, play, files_dir(sqlite_hub, rid) / name)


async def test_vp8_and_opus_are_recorded_playable_and_in_sync(sqlite_hub, clients):
    mid = await sqlite_hub.meeting()
    chair = await sqlite_hub.participant(mid, "主任", "chair")
    member = await sqlite_hub.participant(mid, "委员", "member")
    c = await sqlite_hub.connect(chair["token"])
    m = await sqlite_hub.connect(member["token"])
    clients += [c, m]
    pc = await publish(c)
    try:
        await wait_for_frames(sqlite_hub, mid)
        started = await c.call("recording:start")
        assert started["ok"], started
        began = time.monotonic()
        rid = started["recording_id"]
        state = await m.wait_for("recording:state", lambda s: s["recording"])
        assert state["recording_id"] == rid and isinstance(state["seq"], int)
        await asyncio.sleep(RECORD_S)  # the length of the recording itself
        stopped = await c.call("recording:stop")
        interval = time.monotonic() - began
        assert stopped == {"ok": True, "recording_id": rid}
        await m.wait_for("recording:state", lambda s: not s["recording"] and s["recording_id"] == rid)
    finally:
        await pc.close()

    view = await recording_view(sqlite_hub, rid)
    media = [f for f in view["files"] if f["kind"] == "media"]
    assert len(media) == 1, view
    (entry,) = media
    assert entry["participant_id"] == chair["id"] and entry["state"] == "complete"
    assert entry["name"].endswith(".webm")
    assert {t["codec"] for t in entry["tracks"]} == {"vp8", "opus"}
    assert 0 <= entry["offset_s"] < 1.5, entry
    path = files_dir(sqlite_hub, rid) / entry["name"]
    assert entry["bytes"] == path.stat().st_size > 0

    playback = await asyncio.get_running_loop().run_in_executor(None, play, path)
    assert playback.codecs == ["vp8", "opus"] and playback.format.startswith("matroska")
    assert playback.first_video_keyframe
    # The file runs from the first keyframe after the start to the stop.
    assert abs(playback.video_duration_s - interval) <= 0.3 + entry["offset_s"], (playback.video_duration_s, interval)
    assert abs(entry["duration_s"] - playback.video_duration_s) < 0.2
    expected_frames = playback.video_duration_s * 30
    assert abs(playback.video_frames - expected_frames) <= 0.05 * expected_frames, playback.video_frames
    assert playback.audio_samples >= 48000 * (playback.video_duration_s - 0.5)
    # Every mark (one each 2 s) shows as a white frame and a burst at the same moment.
    assert len(playback.white_frames_s) >= 4, playback.white_frames_s
    errors = sync_errors(playback)
    assert max(errors) <= 0.1, (errors, playback.white_frames_s, playback.bursts_s)


async def test_h264_publisher_gives_a_playable_mkv(sqlite_hub, clients):
    mid, _chair, c, pc = await publishing_chair(sqlite_hub, clients, video_codec="h264")
    try:
        rid = (await c.call("recording:start"))["recording_id"]
        producers = sqlite_hub.hub.media.local_producers(mid)
        assert {p.mime_type.lower() for p in producers} == {"video/h264", "audio/opus"}
        await wait_until(lambda: any(p.stats()["packets"] for p in producers), timeout=5)
        await asyncio.sleep(4)
        assert (await c.call("recording:stop"))["ok"]
    finally:
        await pc.close()
    (entry,) = media_files(await recording_view(sqlite_hub, rid))
    assert entry["name"].endswith(".mkv")
    playback = await play_file(sqlite_hub, rid, entry["name"])
    assert playback.codecs == ["h264", "opus"]
    assert playback.first_video_keyframe
    assert playback.video_frames >= 3 * 30 * 0.9, playback
    assert playback.audio_samples > 48000 * 3


async def test_a_publisher_who_reconnects_gives_a_second_segment(sqlite_hub, clients):
    mid, chair, c, pc = await publishing_chair(sqlite_hub, clients)
    rid = (await c.call("recording:start"))["recording_id"]
    await asyncio.sleep(3)
    # The link drops: socket and peer connection gone, then a new page.
    await pc.close()
    await c.close()
    again = await sqlite_hub.connect(chair["token"])
    clients.append(again)
    pc = await publish(again)
    try:
        await wait_for_frames(sqlite_hub, mid)
        await asyncio.sleep(3)
        assert (await again.call("recording:stop"))["ok"]
    finally:
        await pc.close()
    view = await recording_view(sqlite_hub, rid)
    media = sorted(media_files(view), key=lambda f: f["segment"])
    assert [f["segment"] for f in media] == [1, 2], view
    assert media[1]["offset_s"] > media[0]["offset_s"] + 2.5
    for entry in media:
        assert entry["state"] == "complete"
        playback = await play_file(sqlite_hub, rid, entry["name"])
        assert playback.first_video_keyframe and playback.video_frames > 2 * 30 * 0.9, (entry, playback)
        assert playback.audio_samples > 48000 * 2


async def test_every_site_sees_the_recording_state_and_only_operators_control_it(sqlite_hub, clients):
    mid = await sqlite_hub.meeting()
    clerk = await sqlite_hub.participant(mid, "秘书", "clerk")
    member = await sqlite_hub.participant(mid, "委员", "member")
    c = await sqlite_hub.connect(clerk["token"])
    m = await sqlite_hub.connect(member["token"])
    clients += [c, m]
    idle = await m.call("state:sync")
    assert idle["recording"] == {"recording": False, "recording_id": None, "started_at": None, "error": None}
    refused = await m.call("recording:start")
    assert refused["ok"] is False and refused["error"]["code"] == "forbidden"
    assert (await c.call("recording:stop"))["error"]["code"] == "state"
    rid = (await c.call("recording:start"))["recording_id"]
    again = await c.call("recording:start")
    assert again["ok"] is False and again["error"]["code"] == "state"
    late = await sqlite_hub.connect(member["token"])
    clients.append(late)
    synced = await late.call("state:sync")
    assert synced["recording"]["recording"] is True and synced["recording"]["recording_id"] == rid
    assert (await m.call("recording:stop"))["error"]["code"] == "forbidden"
    assert (await c.call("recording:stop"))["ok"]
    state = await late.wait_for("recording:state", lambda s: not s["recording"])
    assert state["recording_id"] == rid and state["error"] is None
    assert (await late.call("state:sync"))["recording"]["recording"] is False


async def test_files_are_served_to_operators_only_by_their_own_names_with_ranges(sqlite_hub, clients):
    mid, chair, c, pc = await publishing_chair(sqlite_hub, clients)
    member = await sqlite_hub.participant(mid, "委员", "member")
    try:
        rid = (await c.call("recording:start"))["recording_id"]
        await asyncio.sleep(2)
        assert (await c.call("recording:stop"))["ok"]
    finally:
        await pc.close()
    client = sqlite_hub.client
    chair_auth = {"Authorization": f"Bearer {chair['token']}"}
    member_auth = {"Authorization": f"Bearer {member['token']}"}
    listing = await client.get(f"/api/meetings/{mid}/recordings", headers=chair_auth)
    assert listing.status == 200
    (view,) = await listing.json()
    names = {f["name"]: f for f in view["files"]}
    assert "timeline.jsonl" in names and names["timeline.jsonl"]["kind"] == "timeline"
    media_name = next(n for n, f in names.items() if f["kind"] == "media")

    for path in (f"/api/meetings/{mid}/recordings", f"/api/recordings/{rid}", names[media_name]["url"]):
        resp = await client.get(path, headers=member_auth)
        assert resp.status == 403, path
        assert (await resp.json())["error"]["code"] == "forbidden"
    assert (await client.get(f"/api/recordings/{rid}")).status == 401

    whole = await client.get(names[media_name]["url"], headers=chair_auth)
    assert whole.status == 200 and whole.headers["Content-Type"] == "video/webm"
    body = await whole.read()
    assert len(body) == names[media_name]["bytes"]
    part = await client.get(names[media_name]["url"], headers={**chair_auth, "Range": "bytes=100-199"})
    assert part.status == 206
    assert await part.read() == body[100:200]
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(body)}"

    (sqlite_hub.hub.settings.data_dir / "secret-note.txt").write_text("not yours")
    for name in ("../../secret", "..%2F..%2Fsecret", "%2e%2e%2fplenary.db", "..", "nope.webm",
                 f"..%2F{rid}%2F{media_name}", "timeline.jsonl%00.webm"):
        resp = await client.get(f"/api/recordings/{rid}/files/{name}", headers=chair_auth)
        assert resp.status in (400, 404), (name, resp.status)
        assert (await resp.json())["error"]["code"] in ("not_found", "invalid"), name
    assert (await client.get(f"/api/recordings/{'x' * 500}", headers=chair_auth)).status == 404


async def test_packets_lost_on_the_way_in_are_gaps_never_a_corrupt_file(sqlite_hub, clients):
    """Uplink loss the publisher never repairs (the hook drops the packet and
    its retransmissions): the frames that lose a packet, and those after
    them until the next keyframe, are left out; every frame written decodes."""
    mid, _chair, c, pc = await publishing_chair(sqlite_hub, clients)
    try:
        (video,) = [p for p in sqlite_hub.hub.media.local_producers(mid) if p.kind == "video"]
        rid = (await c.call("recording:start"))["recording_id"]
        await asyncio.sleep(1)
        plis = video.plis_sent
        video.drop_hook = lambda seq: seq % 50 == 0  # about one loss every second or two
        await asyncio.sleep(5)
        assert (await c.call("recording:stop"))["ok"]
    finally:
        await pc.close()
    assert video.plis_sent > plis  # the recorder asked for a keyframe after a loss
    (entry,) = media_files(await recording_view(sqlite_hub, rid))
    playback = await play_file(sqlite_hub, rid, entry["name"])
    assert playback.first_video_keyframe
    # Fewer frames than were sent, but what is there plays.
    assert 30 < playback.video_frames < 30 * 6 * 0.97, playback
    assert playback.audio_samples > 48000 * 5


async def test_a_stalled_disk_leaves_a_gap_not_a_growing_queue(sqlite_hub, clients, caplog):
    """The writer threads stop (a disk that stalls): frames waiting for them
    stay under the bound and the rest are left out; when the disk is back the
    file goes on from a keyframe, and what was written plays."""
    recorder = sqlite_hub.hub.recordings.recorder
    recorder.max_pending_bytes = 12_000  # a few seconds of the test camera, not 32 MB
    mid, _chair, c, pc = await publishing_chair(sqlite_hub, clients)
    gate = threading.Event()
    try:
        (video,) = [p for p in sqlite_hub.hub.media.local_producers(mid) if p.kind == "video"]
        rid = (await c.call("recording:start"))["recording_id"]
        (active,) = recorder._active.values()
        await wait_until(lambda: any(f.file is not None for f in active.files.values()), timeout=15)
        (open_file,) = active.files.values()
        segment = open_file.segment
        # Both writer threads busy with a write that does not return, as on a stalled disk.
        stalls = [recorder._pool.submit(gate.wait, 60) for _ in range(2)]
        held = []

        def dropping() -> bool:
            held.append(segment.pending_bytes)
            return segment.dropped > 160  # two seconds of video (30/s) and audio (50/s) left out
        await wait_until(dropping, timeout=30)
        plis = video.plis_sent
        gate.set()
        for stall in stalls:
            await asyncio.wrap_future(stall)
        await wait_until(lambda: open_file.dropped == 0 and "caught up" in caplog.text, timeout=15)
        assert video.plis_sent > plis  # video resumes from a keyframe it asked for
        written = open_file.file.duration_s
        await wait_until(lambda: open_file.file.duration_s > written + 2, timeout=15)
        assert (await c.call("recording:stop"))["ok"]
    finally:
        gate.set()
        await pc.close()
    # The queue never held more than its bound and one frame.
    assert max(held) <= 12_000 + 20_000, max(held)
    assert "the disk is 0.0 MB behind" in caplog.text
    (entry,) = media_files(await recording_view(sqlite_hub, rid))
    assert entry["state"] == "complete"
    playback = await play_file(sqlite_hub, rid, entry["name"])
    assert playback.first_video_keyframe
    # The gap of about two seconds: fewer frames and samples than the file's
    # span holds (30 fps, 48 kHz), and what is there decodes.
    assert 60 < playback.video_frames < 30 * (playback.video_duration_s - 1.5), playback
    assert playback.audio_samples < 48000 * (playback.video_duration_s - 1.5), playback


async def test_closing_the_meeting_stops_its_recording(sqlite_hub, clients):
    mid, _chair, c, pc = await publishing_chair(sqlite_hub, clients)
    try:
        rid = (await c.call("recording:start"))["recording_id"]
        await asyncio.sleep(2)
        resp = await sqlite_hub.client.post(f"/api/meetings/{mid}/status", json={"status": "closed"},
                                            headers=sqlite_hub.admin_headers())
        assert resp.status == 200, await resp.text()
    finally:
        await pc.close()
    view = await recording_view(sqlite_hub, rid)
    assert view["recording"] is False and view["stopped_at"] is not None
    assert [f["state"] for f in media_files(view)] == ["complete"]
    assert any(f["name"] == "timeline.jsonl" for f in view["files"])
