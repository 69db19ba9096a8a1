"""The export (issue 14, item 8): a composed file of the meeting made by a
background job in a worker process (recordings/compose.py, recordings/exports.py).

Participants' files are made here with PyAV the way the recorder writes them
(WebM: VP8 video and Opus audio with its OpusHead, millisecond timestamps),
each participant a solid colour and a tone of their own, so which tile is
large and whose voice is in the mix can be read back from the composed file.
The floor comes from a real inquiry run through the hub: its timeline says
who holds the floor when.
"""
from __future__ import annotations

import asyncio
import math
import os
from datetime import timedelta
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from recordings.exports import floor_changes
from recordings.models import Recording, RecordingFile
from recordings.timeline import build_timeline
from sessions.models import utcnow

RED, GREEN, BLUE = (220, 30, 30), (30, 200, 30), (30, 30, 220)


def write_participant_file(
    path: Path, rgb: tuple[int, int, int], seconds: float, *, tone_hz: float, fps: int = 15,
    size: tuple[int, int] = (320, 180), moving: bool = False, bitrate: str = "300k",
) -> None:
    """A recorder-like WebM: VP8 of a solid colour (with `moving`: a sliding
    bar and sensor-like noise, so the encoder spends bits as on a camera)
    and Opus of a steady tone, both from time 0."""
    width, height = size
    rng = np.random.default_rng(abs(hash(path.name)) % 2**32)
    base = np.empty((height, width, 3), np.uint8)
    base[:] = rgb
    with av.open(str(path), "w", format="webm") as container:
        video = container.add_stream("libvpx", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = {"deadline": "realtime", "cpu-used": "8", "b": bitrate, "g": str(fps * 4)}
        audio = container.add_stream("libopus", rate=48000, layout="stereo")
        for i in range(int(seconds * fps)):
            image = base
            if moving:
                image = base.copy()
                x = (i * 6) % (width - 40)
                image[height // 4: 3 * height // 4, x:x + 40] = 235
                image = np.clip(image.astype(np.int16) + rng.integers(-12, 12, image.shape), 0, 255).astype(np.uint8)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        for i in range(int(seconds * 48000) // 960):
            t = (np.arange(960) + i * 960) / 48000
            mono = (0.2 * np.sin(2 * math.pi * tone_hz * t)).astype(np.float32)
            frame = av.AudioFrame.from_ndarray(np.stack([mono, mono]).T.reshape(1, -1), format="flt", layout="stereo")
            frame.sample_rate, frame.pts, frame.time_base = 48000, i * 960, Fraction(1, 48000)
            container.mux(audio.encode(frame))
        container.mux(audio.encode(None))


def frames_at(path: Path, moments: list[float]) -> dict[float, np.ndarray]:
    """The decoded RGB picture shown at each moment (the last frame at or before it)."""
    wanted = sorted(moments)
    found: dict[float, np.ndarray] = {}
    with av.open(str(path)) as container:
        previous = None
        for frame in container.decode(video=0):
            while wanted and frame.time > wanted[0] + 1e-6:
                found[wanted.pop(0)] = previous
            previous = frame.to_ndarray(format="rgb24")
        for moment in wanted:
            found[moment] = previous
    return found


def colour(picture: np.ndarray, x: int, y: int) -> str:
    """The dominant colour around (x, y): red, green, blue or black."""
    r, g, b = picture[y - 4:y + 4, x - 4:x + 4].reshape(-1, 3).mean(axis=0)
    if max(r, g, b) < 50:
        return "black"
    return ("red", "green", "blue")[int(np.argmax([r, g, b]))]


def tone_levels(path: Path, tones: list[float]) -> tuple[int, list[float]]:
    """The audio's sample rate and the magnitude of each tone in its spectrum, relative to the median."""
    with av.open(str(path)) as container:
        rate = container.streams.audio[0].rate
        samples = np.concatenate([f.to_ndarray().mean(axis=0) for f in container.decode(audio=0)])
    spectrum = np.abs(np.fft.rfft(samples))
    freqs = np.fft.rfftfreq(len(samples), 1 / rate)
    floor = float(np.median(spectrum)) or 1e-9
    return rate, [float(spectrum[np.abs(freqs - tone) < 3].max() / floor) for tone in tones]


async def test_the_composed_file_shows_the_floor_holder_large_and_mixes_everyone(hub, clients):
    mid = await hub.meeting()
    env = await hub.site("生态环境局", "department")
    people = {
        "chair": await hub.participant(mid, "主任", "chair"),
        "clerk": await hub.participant(mid, "秘书长", "clerk"),
        "m1": await hub.participant(mid, "委员甲", "member"),
        "m2": await hub.participant(mid, "委员乙", "member"),
        "r1": await hub.participant(mid, "环境局长", "respondent", env["id"]),
    }
    ids = {k: p["id"] for k, p in people.items()}
    chair = await hub.connect(people["chair"]["token"])
    clients.append(chair)

    async def command(action: str, **fields) -> None:
        ack = await chair.call("inquiry:command", {"action": action, **fields})
        assert ack["ok"], ack

    # The meeting, in real time: the floor changes hands every second or so.
    await command("open_topic", title="大气污染防治", respondents=[ids["r1"]])
    started_at = utcnow() - timedelta(seconds=1)
    await command("grant", participant=ids["m1"])
    await asyncio.sleep(1.6)  # the member's question lasts this long
    await command("answer", respondent=ids["r1"])
    await asyncio.sleep(1.2)
    await command("end_turn")  # nobody holds the floor: the department stays large
    await asyncio.sleep(1.0)
    await command("grant", participant=ids["m2"])
    stopped_at = utcnow() + timedelta(seconds=1.5)
    meeting_s = (stopped_at - started_at).total_seconds()

    rid = "recexport1"
    async with hub.hub.db.transaction() as tx:
        recording = Recording(id=rid, meeting_id=mid, started_at=started_at, stopped_at=stopped_at)
        tx.add(recording)
        await tx.flush()
        floor = floor_changes(await build_timeline(tx, recording))
    assert [who for _, who in floor] == [None, ids["m1"], ids["r1"], None, ids["m2"]], floor
    granted_m1, answered, ended, granted_m2 = (at for at, _ in floor[1:])

    # The files the recorder would have written: the department's camera
    # has a gap just before its answer (a reconnect: two segments).
    m1, m2, r1 = ids["m1"], ids["m2"], ids["r1"]
    files = [
        (f"{m1}-01-node.webm", m1, 1, RED, 440.0, 0.2, meeting_s - 0.4),
        (f"{r1}-01-node.webm", r1, 1, GREEN, 660.0, 0.3, answered - 0.6 - 0.3),
        (f"{r1}-02-node.webm", r1, 2, GREEN, 660.0, answered - 0.2, meeting_s - 0.3 - (answered - 0.2)),
        (f"{m2}-01-node.webm", m2, 1, BLUE, 880.0, 0.5, meeting_s - 1.0),
    ]
    folder = hub.hub.settings.recordings_path / rid
    folder.mkdir(parents=True)
    for name, _, _, rgb, tone, _, seconds in files:
        await asyncio.to_thread(write_participant_file, folder / name, rgb, seconds, tone_hz=tone)
    async with hub.hub.db.transaction() as tx:
        for name, who, segment, _, _, offset, seconds in files:
            tx.add(RecordingFile(
                recording_id=rid, name=name, kind="media", participant_id=who, node_id="node", segment=segment,
                tracks=[{"kind": "video", "codec": "vp8"}, {"kind": "audio", "codec": "opus"}], offset_s=offset,
                bytes=(folder / name).stat().st_size, duration_s=seconds, state="complete",
            ))

    auth = {"Authorization": f"Bearer {people['clerk']['token']}"}
    # A member may not export; an unknown recording is 404.
    member = {"Authorization": f"Bearer {people['m1']['token']}"}
    resp = await hub.client.post(f"/api/recordings/{rid}/export", headers=member)
    assert resp.status == 403 and (await resp.json())["error"]["code"] == "forbidden"
    resp = await hub.client.post("/api/recordings/nosuchrecording/export", headers=auth)
    assert resp.status == 404

    resp = await hub.client.post(f"/api/recordings/{rid}/export", headers=auth)
    assert resp.status == 202, await resp.text()
    assert (await resp.json())["export"] == {"state": "queued", "progress": 0.0, "error": None, "file": None}
    again = await hub.client.post(f"/api/recordings/{rid}/export", headers=hub.admin_headers())
    assert again.status == 409 and (await again.json())["error"]["code"] == "conflict"

    # The chair watches it run; the recording's view says the same.
    done = await chair.wait_for("recording:export", lambda d: d["state"] in ("done", "failed"), timeout=90)
    assert done == {"recording_id": rid, "state": "done", "progress": 1.0}, done
    told = [d for d in chair.received["recording:export"] if d["recording_id"] == rid]
    assert [d["state"] for d in told][:2] == ["queued", "running"], told
    progress = [d["progress"] for d in told]
    assert progress == sorted(progress), progress
    view_resp = await hub.client.get(f"/api/recordings/{rid}", headers=auth)
    view = await view_resp.json()
    assert view["export"] == {"state": "done", "progress": 1.0, "error": None, "file": "composed.mp4"}, view
    [composed] = [f for f in view["files"] if f["kind"] == "composed"]
    assert composed["name"] == "composed.mp4" and composed["state"] == "complete"
    assert abs(composed["duration_s"] - meeting_s) <= 0.5, (composed, meeting_s)

    # The file as a client downloads it.
    resp = await hub.client.get(composed["url"], headers=auth)
    assert resp.status == 200 and resp.headers["Content-Type"] == "video/mp4"
    output = Path(hub.hub.settings.data_dir) / "downloaded.mp4"
    output.write_bytes(await resp.read())
    with av.open(str(output)) as container:
        assert abs(container.duration / 1e6 - meeting_s) <= 0.5, (container.duration, meeting_s)
        stream = container.streams.video[0]
        assert (stream.codec_context.name, stream.width, stream.height) == ("h264", 960, 540)
        assert container.streams.audio and container.streams.audio[0].codec_context.name == "aac"

    # Big: x < 720; small tiles: x 720..960, 135 high each.
    big, tile0, tile1 = (360, 270), (840, 67), (840, 202)
    moments = {
        "m1 asks": granted_m1 + 0.4,
        "r1's camera is away": answered - 0.45,
        "r1 answers": answered + 0.5,
        "nobody holds the floor": ended + 0.5,
        "m2 asks": granted_m2 + 0.5,
    }
    pictures = frames_at(output, list(moments.values()))
    seen = {what: tuple(colour(pictures[t], *xy) for xy in (big, tile0, tile1)) for what, t in moments.items()}
    assert seen == {
        "m1 asks": ("red", "green", "blue"),
        "r1's camera is away": ("red", "blue", "black"),  # no picture: no tile, the slot stays black
        "r1 answers": ("green", "red", "blue"),
        "nobody holds the floor": ("green", "red", "blue"),
        "m2 asks": ("blue", "red", "green"),
    }, seen

    # Everyone's voice is in the mix.
    rate, levels = tone_levels(output, [440.0, 660.0, 880.0])
    assert rate == 48000
    assert all(level > 50 for level in levels), levels


async def test_export_refused_while_recording_and_interrupted_at_shutdown(sqlite_hub, clients):
    hub = sqlite_hub
    mid = await hub.meeting()
    chair = await hub.participant(mid, "主任", "chair")
    member = await hub.participant(mid, "委员", "member")
    watcher = await hub.connect(chair["token"])
    clients.append(watcher)
    started_at = utcnow() - timedelta(minutes=30)
    async with hub.hub.db.transaction() as tx:
        tx.add(Recording(id="recrunning", meeting_id=mid, started_at=started_at))
    resp = await hub.client.post("/api/recordings/recrunning/export", headers=hub.admin_headers())
    assert resp.status == 409 and (await resp.json())["error"]["code"] == "state"

    # A long meeting (30 minutes, one short file): still composing when the hub shuts down.
    async with hub.hub.db.transaction() as tx:
        tx.add(Recording(id="reclong", meeting_id=mid, started_at=started_at, stopped_at=utcnow()))
        tx.add(RecordingFile(recording_id="reclong", name=f"{member['id']}-01-node.webm", kind="media",
                             participant_id=member["id"], offset_s=1.0, duration_s=2.0, state="complete"))
    folder = hub.hub.settings.recordings_path / "reclong"
    folder.mkdir(parents=True)
    await asyncio.to_thread(write_participant_file, folder / f"{member['id']}-01-node.webm", RED, 2.0, tone_hz=440.0)
    resp = await hub.client.post("/api/recordings/reclong/export", headers={"Authorization": f"Bearer {chair['token']}"})
    assert resp.status == 202
    await watcher.wait_for("recording:export", lambda d: d["state"] == "running" and d["progress"] > 0, timeout=60)
    exports = hub.hub.exports
    [worker] = exports._workers.values()
    assert worker.returncode is None
    assert os.getpriority(os.PRIO_PROCESS, worker.pid) >= os.getpriority(os.PRIO_PROCESS, 0) + 10

    await exports.close()
    assert worker.returncode is not None  # killed and reaped
    async with hub.hub.db.read() as session:
        row = await session.get(Recording, "reclong")
        assert (row.export_state, row.export_error) == ("failed", "interrupted")
        assert 0 < row.export_progress < 1
    assert not (folder / "composed.mp4").exists() and not (folder / "composed.mp4.partial").exists()
    resp = await hub.client.post("/api/recordings/reclong/export", headers=hub.admin_headers())
    assert resp.status == 409 and (await resp.json())["error"]["code"] == "state"  # the hub is shutting down
