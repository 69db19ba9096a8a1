"""Prometheus metrics, one registry per app so tests can build many apps."""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.connected_clients = Gauge(
            "plenary_connected_clients", "Socket.IO clients connected to this process", registry=self.registry
        )
        self.live_meetings = Gauge(
            "plenary_live_meetings", "Meetings with at least one client online, hub-wide", registry=self.registry
        )
        self.events = Counter(
            "plenary_events_total", "Client events handled by this process", ["event", "outcome"], registry=self.registry
        )
        self.meeting_events = Counter(
            "plenary_meeting_events_total", "Events appended to meeting logs by this process", ["type"],
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
