"""What a feature runtime below the signalling layer needs from the hub.

`voting/` and `sessions/` must not import the hub (it lives above them, in
`signaling/`); they are handed an object with this shape instead. The hub in
`signaling/hub.py` is one.
"""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Coroutine
from pathlib import Path
from typing import Any, Protocol

from sessions.db import Database
from sessions.events import LoggedEvent


class RenderSettings(Protocol):
    data_dir: Path
    render_memory_bytes: int
    render_page_seconds: float
    render_workers: int


class Host(Protocol):
    @property
    def db(self) -> Database: ...

    @property
    def settings(self) -> RenderSettings: ...

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task: ...

    def every(self, interval_s: float, job: Callable[[], Awaitable[Any]], name: str) -> asyncio.Task: ...

    async def publish(
        self,
        logged: LoggedEvent,
        body: dict | None = None,
        *,
        event: str | None = None,
        audience: Collection[str] | None = None,
    ) -> None: ...
