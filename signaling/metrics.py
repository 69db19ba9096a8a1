"""Prometheus metrics, one registry per app so tests can build many apps."""
from __future__ import annotations

import asyncio
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, ProcessCollector, generate_latest


def _asyncio_tasks() -> int:
    """Tasks alive on this process's loop: a count that climbs under steady
    load is work nobody owns (bench/soak.py watches it)."""
    try:
        return len(asyncio.all_tasks())
    except RuntimeError:  # scraped from outside a running loop
        return 0


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        # process_resident_memory_bytes, process_open_fds, CPU seconds: what
        # shows a hub that runs all day keeping flat (read from /proc).
        ProcessCollector(registry=self.registry)
        self.connected_clients = Gauge(
            "plenary_connected_clients", "Socket.IO clients connected to this process", registry=self.registry
        )
        self.live_meetings = Gauge(
            "plenary_live_meetings", "Meetings with at least one client online, hub-wide", registry=self.registry
        )
        self.asyncio_tasks = Gauge(
            "plenary_asyncio_tasks", "asyncio tasks alive in this process, counted when scraped",
            registry=self.registry,
        )
        self.asyncio_tasks.set_function(_asyncio_tasks)
        self.events = Counter(
            "plenary_events_total", "Client events handled by this process", ["event", "outcome"], registry=self.registry
        )
        self.meeting_events = Counter(
            "plenary_meeting_events_total", "Events appended to meeting logs by this process", ["type"],
            registry=self.registry,
        )

    def watch_media(self, stats: Callable[[], dict]) -> None:
        """Gauges of this process's SFU, read from its stats when scraped:
        what an operator watches for leaks, and tests count after a failure."""
        for key, what in (
            ("routers", "meeting routers"), ("peers", "client connections with media"),
            ("transports", "client peer connections"), ("producers", "producers (tracks published or piped in)"),
            ("consumers", "consumers"), ("pipes", "UDP pipes to other processes"),
            ("pipe_consumers", "producers sent over pipes, one per far process"),
            ("pipe_producers", "producers piped in from other processes"),
            ("video_suspended", "video consumers paused because their subscriber's downlink is weak"),
        ):
            gauge = Gauge(f"plenary_media_{key}", f"SFU: {what}, in this process", registry=self.registry)
            gauge.set_function(lambda key=key: stats().get(key, 0))

    def render(self) -> bytes:
        return generate_latest(self.registry)
