"""Opt-in tracemalloc snapshots, to find what a long-running hub retains.

Off unless PLENARY_TRACEMALLOC is set to a frame count (e.g. 25): then the
hub traces allocations from start-up and writes `tracemalloc-<n>.snap` into
`<data dir>/tracemalloc/` every PLENARY_TRACEMALLOC_EVERY_S seconds (default
60; 0 = never by timer) and whenever it gets SIGUSR1. Diff two snapshots with

    .venv/bin/python -m signaling.memtrace OLD.snap NEW.snap [--top 25]

Tracing costs CPU and memory (several times the hub's own allocations in
bookkeeping), so this is for a soak, never for production.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import time
import tracemalloc
from pathlib import Path

from sessions.host import Host

log = logging.getLogger(__name__)


def frames_wanted() -> int:
    try:
        return max(0, int(os.environ.get("PLENARY_TRACEMALLOC", "0")))
    except ValueError:
        return 0


class SnapshotWriter:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.written = 0

    def write(self) -> Path:
        """Blocks the loop for as long as the snapshot takes: fine for a soak."""
        import gc

        gc.collect()  # what is still allocated after this is retained, not garbage
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"tracemalloc-{self.written:03d}.snap"
        tracemalloc.take_snapshot().dump(str(path))
        self.written += 1
        log.info("tracemalloc snapshot %s (traced %.1f MB)", path, tracemalloc.get_traced_memory()[0] / 1e6)
        return path


WATCHED_TYPES = ("RTCPeerConnection", "RTCDtlsTransport", "RTCIceTransport", "RTCSctpTransport", "Connection",
                 "CodecContext", "VideoCodecContext", "AudioCodecContext", "Session", "AsyncSession", "AsyncConnection",
                 "Socket", "AsyncSocket", "Task", "Future", "Caller", "_Bucket",
                 "WebSocketResponse", "RequestHandler")


def type_counts(top: int = 30) -> tuple[list[tuple[str, int]], dict[str, int]]:
    """Live gc-tracked objects by type (after a full collection): the top
    `top` types, and the counts of per-connection types worth watching."""
    import gc
    from collections import Counter

    gc.collect()
    counts: Counter[str] = Counter()
    for obj in gc.get_objects():
        kind = type(obj)
        counts[f"{kind.__module__}.{kind.__qualname__}"] += 1
    watched = {name: n for name, n in counts.items() if name.rsplit(".", 1)[-1] in WATCHED_TYPES}
    return counts.most_common(top), watched


def log_type_counts() -> None:
    """SIGUSR2 (only with PLENARY_TRACEMALLOC): log what is alive, by type."""
    most, watched = type_counts()
    traced = tracemalloc.get_traced_memory()[0] / 1e6 if tracemalloc.is_tracing() else 0.0
    log.warning("live objects (traced %.1f MB): top %s; watched %s", traced, most, sorted(watched.items()))


def start_if_enabled(hub: Host) -> SnapshotWriter | None:
    frames = frames_wanted()
    if not frames:
        return None
    if not tracemalloc.is_tracing():
        tracemalloc.start(frames)
    writer = SnapshotWriter(hub.settings.data_dir / "tracemalloc")
    try:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGUSR1, writer.write)
        loop.add_signal_handler(signal.SIGUSR2, log_type_counts)
    except (NotImplementedError, RuntimeError):
        pass
    every = float(os.environ.get("PLENARY_TRACEMALLOC_EVERY_S", "60"))
    if every > 0:
        async def write() -> None:
            writer.write()

        hub.every(every, write, "tracemalloc-snapshots")
    log.warning("tracemalloc is on (%d frames): snapshots go to %s", frames, writer.folder)
    return writer


# -- giving freed memory back -------------------------------------------------------

MALLOC_ARENAS = 2
_M_ARENA_MAX = -8  # glibc's mallopt parameter number


def limit_malloc_arenas() -> bool:
    """Cap glibc's malloc arenas (default 8 per core) before threads start.

    Every thread that allocates (executors, aiosqlite's connection threads,
    the render pool's helpers) gets an arena of its own, and each keeps the
    high-water mark of what it once held, in pieces malloc_trim cannot give
    back. The soak showed RSS stepping up with each storm of joins while
    Python's own heap stayed flat. MALLOC_ARENA_MAX in the environment wins.
    """
    if "MALLOC_ARENA_MAX" in os.environ:
        return False
    import ctypes

    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return mallopt(_M_ARENA_MAX, MALLOC_ARENAS) == 1

TRIM_INTERVAL_S = 60.0


def _malloc_trim():
    """glibc's malloc_trim, or None elsewhere (musl, macOS)."""
    import ctypes

    try:
        trim = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


def start_trimming(hub: Host) -> bool:
    """Once a minute: collect cyclic garbage, then hand free heap pages back.

    web/cli.py freezes start-up objects and raises the collector's
    thresholds to keep full passes out of busy seconds; with them a full
    pass came about every 100 minutes, while every minute left 37-56 k
    objects in garbage cycles (aiortc peer connections, websockets,
    sessions) that only a full pass frees: RSS climbed with no plateau in a
    10-minute soak. One full pass a minute costs 80-160 ms of loop time
    (bench/soak.py, 2 cores). Then malloc_trim: a storm of joins allocates
    in many threads' glibc arenas, which keep what is freed.
    bench/soak.py, storms of 300 every 45 s: RSS once all had left 227-234
    MB before, 202-210 MB with this. Off with PLENARY_MEMORY_UPKEEP_S=0."""
    trim = _malloc_trim()
    try:
        interval = float(os.environ.get("PLENARY_MEMORY_UPKEEP_S", TRIM_INTERVAL_S))
    except ValueError:
        interval = TRIM_INTERVAL_S
    if interval <= 0:
        return False

    async def upkeep() -> None:
        import gc

        started = time.perf_counter()
        found = gc.collect()
        # Python's own heap (blocks allocated after the collection) next to
        # the gc figures: if it stays flat while RSS climbs, the growth is
        # native (C libraries, arenas), not Python objects.
        log.info("memory upkeep: %d objects in cycles freed in %.0f ms; %d Python blocks allocated", found,
                 (time.perf_counter() - started) * 1e3, sys.getallocatedblocks())
        if trim is not None:
            # In a thread: it walks every arena, a few ms with a big heap.
            await asyncio.get_running_loop().run_in_executor(None, trim, 0)

    hub.every(interval, upkeep, "memory-upkeep")
    return True


def diff(old: Path, new: Path, top: int = 25, key: str = "traceback") -> str:
    """The allocation sites whose retained size grew most from old to new."""
    ignore = [tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, "<frozen importlib._bootstrap*")]
    before = tracemalloc.Snapshot.load(str(old)).filter_traces(ignore)
    after = tracemalloc.Snapshot.load(str(new)).filter_traces(ignore)
    stats = after.compare_to(before, key)
    total = sum(s.size_diff for s in stats)
    lines = [f"{old.name} → {new.name}: {total / 1e6:+.2f} MB retained in all"]
    for stat in stats[:top]:
        lines.append(f"{stat.size_diff / 1024:+9.1f} KiB {stat.count_diff:+7d} blocks  (now {stat.size / 1024:.1f} KiB)")
        frames = stat.traceback.format(limit=12 if key == "traceback" else 1)
        lines.extend("      " + f for f in frames)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description="diff two tracemalloc snapshots of a hub")
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--by", choices=["traceback", "lineno", "filename"], default="traceback")
    args = parser.parse_args()
    print(diff(args.old, args.new, args.top, args.by))


if __name__ == "__main__":
    main()
