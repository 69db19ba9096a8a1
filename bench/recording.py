"""Recording's cost (issue 14): the SFU's per-packet CPU with and without
recording, side by side in one run, and CPU per recorded stream-hour.

Runs bench/sfu.py's fan-out workload (one publisher: VP8 640x360 30 fps at
~1 Mbit/s + Opus; N subscribers) against two servers in the same run, the
cases interleaved: `plenary` (the SFU) and `plenary+rec` (the same SFU with
its recorder, recordings/recorder.py, recording every producer it forwards
into a temporary folder). Both print µs/pkt (server CPU, all threads, per
RTP packet delivered to subscribers).

Recording's own cost is the difference in server CPU between the two at the
same N, over the window: in seconds of CPU per hour of recording, per
recorded participant (one file: video + audio) and per track. It is the
median of `--repeat` runs with the range; the run ends by checking that
the files written decode (PyAV) and how big they are.

Usage (from the repo root, as root: bench/sfu.py runs in a private network
namespace):
  .venv/bin/python bench/recording.py --n 1,10,40 --seconds 10 --repeat 3
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PLAIN, RECORDING = "plenary", "plenary+rec"
TRACKS_PER_PARTICIPANT = 2  # the publisher's video and audio


def median_range(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{statistics.median(values):.1f} ({min(values):.1f}–{max(values):.1f})"


def check_files(since: float) -> str:
    """The files this run's recording servers wrote: count, size, decodable."""
    import av

    files = [f for d in glob.glob(os.path.join(tempfile.gettempdir(), "bench-recording-*"))
             if os.path.getmtime(d) >= since for f in glob.glob(os.path.join(d, "*", "*.webm"))]
    frames, broken = 0, []
    for path in files:
        try:
            with av.open(path) as container:
                frames += sum(1 for _ in container.decode(video=0))
        except (av.FFmpegError, OSError, IndexError) as exc:
            broken.append(f"{os.path.basename(path)}: {exc}")
    size = sum(os.path.getsize(f) for f in files) / 2**20
    status = "all decode" if not broken else f"{len(broken)} do not decode: {broken[:3]}"
    return f"{len(files)} files, {size:.1f} MiB, {frames} video frames; {status}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", default="1,10,40", help="subscriber counts")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", default="", help="also keep bench/sfu.py's JSON here")
    args = ap.parse_args()

    out = args.json or tempfile.mktemp(prefix="bench-recording-", suffix=".json")
    began = time.time()
    command = [sys.executable, os.path.join(HERE, "sfu.py"), "--servers", f"{PLAIN},{RECORDING}",
               "--n", args.n, "--seconds", str(args.seconds), "--repeat", str(args.repeat), "--json", out]
    print("$ " + " ".join(command), flush=True)
    subprocess.run(command, check=True, cwd=ROOT)

    with open(out) as fh:
        results = [r for r in json.load(fh)["results"] if r.get("ok") and r["workload"] == "fanout"]
    print("\n" + "=" * 100)
    print(f"Recording's cost, median of {args.repeat} runs (range), same run, cases interleaved:")
    print(f"{'N':>4}  {'µs/pkt plain':>22}  {'µs/pkt recording':>22}  {'ratio':>6}  "
          f"{'extra CPU, % of a core':>24}  {'CPU s per participant-hour':>28}  {'per track-hour':>16}")
    for n in sorted({r["n"] for r in results}):
        plain = {r["rep"]: r for r in results if r["n"] == n and r["server"] == PLAIN}
        rec = {r["rep"]: r for r in results if r["n"] == n and r["server"] == RECORDING}
        reps = sorted(set(plain) & set(rec))
        us_plain = [plain[i]["us_per_pkt"] for i in reps if plain[i].get("us_per_pkt")]
        us_rec = [rec[i]["us_per_pkt"] for i in reps if rec[i].get("us_per_pkt")]
        # Each rep pairs two neighbouring runs (same N, one after the other).
        extra = [rec[i]["cpu_core_share"] - plain[i]["cpu_core_share"] for i in reps]
        per_hour = [e * 3600 for e in extra]
        ratio = statistics.median(us_rec) / statistics.median(us_plain) if us_plain and us_rec else float("nan")
        print(f"{n:>4}  {median_range(us_plain):>22}  {median_range(us_rec):>22}  {ratio:>6.2f}  "
              f"{median_range([100 * e for e in extra]):>24}  {median_range(per_hour):>28}  "
              f"{median_range([h / TRACKS_PER_PARTICIPANT for h in per_hour]):>16}")
    print(f"Recorded: {check_files(began)}")
    print("CPU s per participant-hour = extra server CPU share x 3600: the seconds of one core that "
          "recording one participant's video + audio for an hour costs (below 3600 = below real time).")


if __name__ == "__main__":
    main()
