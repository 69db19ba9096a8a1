"""The pipe's own cost (issue 12): CPU per packet that crosses a pipe between
two Plenary processes, measured at a rate high enough for per-process CPU
accounting to resolve it.

Two bench SFU processes (bench/plenary_sfu_server.py), A and B. A raw UDP
sender (its own process) plays the far end of a plain-RTP pipe into A, so A
holds a producer fed at ``--rate`` packets/s without any publisher's encoder
or ICE/DTLS in the way. Then, per run:

  baseline  A receives the stream, nothing consumes it; B idles.
  piped     A pipes the producer to B (SRTP by default, as in production),
            B makes it a producer of its own router.

  egress  = (A's CPU piped - A's CPU baseline) / packets B received
  ingress = (B's CPU piped - B's CPU baseline) / packets B received

i.e. what one piped stream adds at its source (pipe consumer: rewrite,
protect, sendto) and at its destination (recv, unprotect, route to the
producer), per packet. The sender paces in 1 ms ticks and adds the pipe's
keepalive, so A's pipe to it stays up.

    .venv/bin/python bench/pipe.py [--rate 5000] [--size 1100] [--seconds 10] [--runs 3] [--plain]
"""
from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import platform
import socket
import statistics
import struct
import subprocess
import sys
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
for path in (HERE, ROOT):
    if path not in sys.path:
        sys.path.insert(0, path)

import psutil  # noqa: E402

from media.pipe_wire import APP_KEEPALIVE, app_packet  # noqa: E402
from plenary_peer import PlenaryServer  # noqa: E402

SOURCE_SSRC = 0x5EED0001
PAYLOAD_TYPE = 111


def sender(port_out: Any, target: Any, stop: Any, rate: int, size: int) -> None:
    """The far end of A's plain pipe: RTP at `rate` packets/s, plus keepalives."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    port_out.put(sock.getsockname()[1])
    host, port = target.get()
    payload = bytes(range(256)) * (size // 256 + 1)
    payload = payload[:size]
    header = struct.Struct("!BBHII")
    keepalive = app_packet(APP_KEEPALIVE, SOURCE_SSRC)
    seq = 0
    ts = 0
    sent = 0
    started = time.perf_counter()
    next_keepalive = started
    while not stop.is_set():
        now = time.perf_counter()
        due = int((now - started) * rate)
        while sent < due:
            sock.sendto(header.pack(0x80, PAYLOAD_TYPE, seq & 0xFFFF, ts & 0xFFFFFFFF, SOURCE_SSRC) + payload,
                        (host, port))
            seq += 1
            ts += 960
            sent += 1
        if now >= next_keepalive:
            sock.sendto(keepalive, (host, port))
            next_keepalive = now + 0.5
        time.sleep(0.001)
    sock.close()


def cpu_seconds(pid: int) -> float:
    t = psutil.Process(pid).cpu_times()
    return t.user + t.system


def received(stats: dict[str, Any]) -> int:
    return int(stats.get("packets_received", 0))


async def one_run(args: argparse.Namespace, run: int) -> dict[str, float]:
    a = PlenaryServer(port=args.port, media_addr="", extra_args=["--pipe-addr", "127.0.0.1"])
    b = PlenaryServer(port=args.port + 1, media_addr="", extra_args=["--pipe-addr", "127.0.0.1"])
    ctx = mp.get_context("spawn")
    port_q, target_q, stop = ctx.Queue(), ctx.Queue(), ctx.Event()
    proc = ctx.Process(target=sender, args=(port_q, target_q, stop, args.rate, args.size), daemon=True)
    try:
        await asyncio.gather(a.start(), b.start())
        proc.start()
        sender_port = port_q.get(timeout=10)
        info = await a._call("POST", "/pipe/open", {"remote": "source", "srtp": False})
        await a._call("POST", "/pipe/connect", {"remote": "source", "info": {"host": "127.0.0.1", "port": sender_port}})
        await a._call("POST", "/pipe/in", {"remote": "source", "params": {
            "producer_id": "stream", "participant_id": "source", "kind": "audio", "source": "microphone",
            "mime_type": "audio/opus", "clock_rate": 48000, "payload_type": PAYLOAD_TYPE,
            "ssrc": SOURCE_SSRC, "nack": False, "codec_parameters": {}}})
        target_q.put((info["host"], info["port"]))
        await asyncio.sleep(args.warmup)

        async def window() -> tuple[float, float, int, int, float]:
            a0, b0 = cpu_seconds(a.pid), cpu_seconds(b.pid)
            ra0, rb0 = received(await a._call("GET", "/stats")), received(await b._call("GET", "/stats"))
            t0 = time.monotonic()
            await asyncio.sleep(args.seconds)
            dt = time.monotonic() - t0
            a1, b1 = cpu_seconds(a.pid), cpu_seconds(b.pid)
            ra1, rb1 = received(await a._call("GET", "/stats")), received(await b._call("GET", "/stats"))
            return (a1 - a0) / dt, (b1 - b0) / dt, ra1 - ra0, rb1 - rb0, dt

        base_a, base_b, base_in, _, dt0 = await window()

        srtp = not args.plain
        info_b = await b._call("POST", "/pipe/open", {"remote": "A", "srtp": srtp})
        info_a = await a._call("POST", "/pipe/open", {"remote": "B", "srtp": srtp})
        await a._call("POST", "/pipe/connect", {"remote": "B", "info": info_b})
        await b._call("POST", "/pipe/connect", {"remote": "A", "info": info_a})
        params = await a._call("POST", "/pipe/out", {"remote": "B", "producer": "stream"})
        await b._call("POST", "/pipe/in", {"remote": "A", "params": params})
        await asyncio.sleep(args.warmup)
        piped_a, piped_b, piped_in, piped_out, dt1 = await window()
    finally:
        stop.set()
        proc.join(5)
        await asyncio.gather(a.stop(), b.stop(), return_exceptions=True)
    rate_b = piped_out / dt1
    row = {
        "run": run,
        "sent_rate": args.rate,
        "a_in_rate": base_in / dt0,
        "b_in_rate": rate_b,
        "delivered": rate_b / (base_in / dt0) if base_in else 0.0,
        "base_a": base_a, "base_b": base_b, "piped_a": piped_a, "piped_b": piped_b,
        "egress_us": (piped_a - base_a) / rate_b * 1e6 if rate_b else float("nan"),
        "ingress_us": (piped_b - base_b) / rate_b * 1e6 if rate_b else float("nan"),
    }
    row["pipe_us"] = row["egress_us"] + row["ingress_us"]
    print(f"run {run}: A receives {row['a_in_rate']:.0f} pkt/s, B receives {rate_b:.0f} pkt/s over the pipe "
          f"({100 * row['delivered']:.1f}%); A {100 * base_a:.1f}% -> {100 * piped_a:.1f}% of a core, "
          f"B {100 * base_b:.1f}% -> {100 * piped_b:.1f}%; egress {row['egress_us']:.2f} µs, "
          f"ingress {row['ingress_us']:.2f} µs, pipe {row['pipe_us']:.2f} µs per packet", flush=True)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=int, default=5000, help="packets per second into the pipe")
    ap.add_argument("--size", type=int, default=1100, help="RTP payload bytes (video ~1100, Opus ~100)")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--plain", action="store_true", help="plain RTP on the A->B pipe (default SRTP)")
    ap.add_argument("--port", type=int, default=8865)
    args = ap.parse_args()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    print(f"Machine: {model} | {os.cpu_count()} cores | kernel {platform.release()} | Python {platform.python_version()} "
          f"| commit {commit}")
    print(f"Pipe A->B {'plain RTP' if args.plain else 'SRTP'}; {args.rate} pkt/s of {args.size}-byte payloads; "
          f"{args.seconds:.0f} s windows; {args.runs} runs; load average {os.getloadavg()}", flush=True)
    rows = [asyncio.run(one_run(args, i + 1)) for i in range(args.runs)]

    def summary(key: str, unit: str, scale: float = 1.0) -> str:
        values = [r[key] * scale for r in rows]
        return f"{statistics.median(values):.2f} {unit} [{min(values):.2f}-{max(values):.2f}]"

    print(f"\nMedian of {len(rows)} runs [range]:")
    print(f"  egress (source process)       {summary('egress_us', 'µs/pkt')}")
    print(f"  ingress (destination process) {summary('ingress_us', 'µs/pkt')}")
    print(f"  the pipe, both ends           {summary('pipe_us', 'µs/pkt')}")
    print(f"  delivered over the pipe       {summary('delivered', '%', 100)}")
    print(f"  A's CPU receiving only        {summary('base_a', '% of a core', 100)}")


if __name__ == "__main__":
    main()
