"""The export's cost (issue 14, item 8): CPU seconds per hour of meeting.

Composes a synthetic meeting with the export's own worker
(`python -m recordings.compose`, as the hub runs it, at nice +10) and
measures the worker's CPU (user + sys, from RUSAGE_CHILDREN), so the figure
is what an export costs the machine: the real-time factor is CPU seconds
per second of meeting (below 1: cheaper than real time on one core).

The meeting: `--participants` people (default 4), each a `--minutes` long
WebM (default 10) of VP8 640x360 at `--fps` (default 30, ~800 kbit/s of
moving, noisy frames, so the decoder works as on a camera) and Opus,
starting a moment apart; the floor passes round every 30 s. The files are
made once (a 60 s clip per participant, encoded with libvpx, then repeated
by remuxing) and cached under /tmp/plenary-bench-export/.

Usage (from the repo root): .venv/bin/python bench/export.py [--runs 3]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from recordings.compose import ComposeJob, MediaInput  # noqa: E402

CACHE = Path("/tmp/plenary-bench-export")
CLIP_S = 60
COLOURS = [(200, 60, 60), (60, 180, 60), (60, 60, 200), (190, 170, 40), (150, 60, 170), (40, 160, 170)]


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def looped(clip: Path, target: Path, times: int) -> None:
    """`clip` repeated `times` over by remuxing (no re-encoding): a long file cheaply."""
    import av

    with av.open(str(clip)) as src:
        length_ms = int(src.duration / 1000)  # microseconds → ms
        packets = [(p.stream.index, p.pts, p.dts, p.is_keyframe, bytes(p)) for p in src.demux() if p.size]
        with av.open(str(target) + ".partial", "w", format="webm") as out:
            streams = {s.index: out.add_stream_from_template(s) for s in src.streams}
            for k in range(times):
                for index, pts, dts, keyframe, data in packets:
                    packet = av.Packet(data)
                    packet.stream = streams[index]
                    packet.time_base = src.streams[index].time_base
                    shift = int(k * length_ms / 1000 / src.streams[index].time_base)
                    packet.pts = pts + shift
                    packet.dts = (dts if dts is not None else pts) + shift
                    packet.is_keyframe = keyframe
                    out.mux(packet)
    os.replace(str(target) + ".partial", target)


def meeting(participants: int, minutes: int, fps: int) -> tuple[Path, list[MediaInput], float]:
    from tests.recordings.test_export import write_participant_file

    clips = CACHE / f"clips-f{fps}"  # shared by every meeting length
    folder = CACHE / f"p{participants}-m{minutes}-f{fps}"
    clips.mkdir(parents=True, exist_ok=True)
    folder.mkdir(parents=True, exist_ok=True)
    media = []
    for i in range(participants):
        clip = clips / f"clip-{i}.webm"
        if not clip.exists():
            print(f"making the {CLIP_S} s clip of participant {i} ...", flush=True)
            write_participant_file(clip.with_suffix(".tmp"), COLOURS[i % len(COLOURS)], CLIP_S,
                                   tone_hz=300 + 110 * i, fps=fps, size=(640, 360), moving=True, bitrate="800k")
            os.replace(clip.with_suffix(".tmp"), clip)
        name = f"p{i}-01-node.webm"
        if not (folder / name).exists():
            looped(clip, folder / name, max(1, minutes * 60 // CLIP_S))
        offset = 0.4 + 0.9 * i  # people arrive a moment apart
        media.append(MediaInput(name, f"p{i}", offset, minutes * 60.0 - offset))
    return folder, media, minutes * 60.0


def run_once(job: ComposeJob) -> dict:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "recordings.compose", "--nice", "10"], input=json.dumps(job.to_dict()).encode(),
        capture_output=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    if proc.returncode != 0 or not lines or not lines[-1].get("done"):
        raise SystemExit(f"the worker failed ({proc.returncode}): {lines[-1:]} {proc.stderr.decode()[-2000:]}")
    return {
        "cpu_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        "user_s": after.ru_utime - before.ru_utime, "sys_s": after.ru_stime - before.ru_stime,
        "wall_s": wall, "bytes": lines[-1]["bytes"], "duration_s": lines[-1]["duration_s"],
        "max_rss_mb": after.ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=4)
    parser.add_argument("--minutes", type=int, default=10)
    parser.add_argument("--fps", type=int, default=30, help="the participants' camera frame rate")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--preset", default="ultrafast", help="x264 preset of the composed file")
    args = parser.parse_args()

    folder, media, meeting_s = meeting(args.participants, args.minutes, args.fps)
    floor = [(t, f"p{(int(t) // 30) % args.participants}") for t in range(0, int(meeting_s), 30)]
    job = ComposeJob(directory=folder, files=media, floor=floor, duration_s=meeting_s,
                     output=folder / "out" / "composed.mp4", preset=args.preset)
    print(f"machine: {os.cpu_count()} CPUs ({os.sched_getaffinity(0).__len__()} usable), {cpu_model()}")
    print(f"meeting: {args.participants} participants x {args.minutes} min of VP8 640x360 {args.fps} fps + Opus; "
          f"output {job.width}x{job.height} {job.fps} fps H.264 {job.preset} + AAC")
    results = []
    for run in range(args.runs):
        print(f"run {run + 1}: load average before {load()}", flush=True)
        r = run_once(job)
        factor = r["cpu_s"] / meeting_s
        results.append(factor)
        print(f"  worker CPU {r['cpu_s']:.1f} s (user {r['user_s']:.1f}, sys {r['sys_s']:.1f}), wall {r['wall_s']:.1f} s,"
              f" real-time factor {factor:.3f} = {factor * 3600:.0f} CPU s per hour of meeting;"
              f" output {r['bytes'] / 2**20:.1f} MiB for {r['duration_s']:.0f} s; peak RSS {r['max_rss_mb']:.0f} MiB;"
              f" load after {load()}", flush=True)
    median = statistics.median(results)
    print(f"real-time factor: median {median:.3f} (range {min(results):.3f}–{max(results):.3f}) over {len(results)} runs"
          f" = {median * 3600:.0f} CPU s per hour of meeting ({median * 60:.1f} CPU min per hour)")


if __name__ == "__main__":
    main()
