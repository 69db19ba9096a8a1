"""Fixtures of the fuzz suite: the world it attacks, and the hub's log."""
from __future__ import annotations

import asyncio
import logging
from collections import Counter

import pytest

from tests.fuzz.world import World, make_meeting
from tests.helpers import wait_until


@pytest.fixture
async def world(hub):
    site = await hub.site("城建局", "department")
    a, b = await asyncio.gather(make_meeting(hub, "A", site["id"]), make_meeting(hub, "B", site["id"]))
    made = World(hub, a, b, site["id"])
    yield made
    await asyncio.gather(*(s.close() for s in made.sockets))
    # Let the hub see every leave while its database still exists (the
    # database fixture drops it right after this one): all shown offline.
    async def all_offline() -> bool:
        for meeting in (a, b):
            resp = await hub.client.get(f"/api/meetings/{meeting.mid}", headers=hub.admin_headers())
            if any(p["online"] for p in (await resp.json())["participants"]):
                return False
        return True

    try:
        await wait_until(all_offline, timeout=10, interval=0.1)
    except TimeoutError:
        pass  # a teardown nicety, not what the suite tests


@pytest.fixture
def hub_log(caplog):
    """Records at WARNING and above; the test asserts none carries a traceback."""
    caplog.set_level(logging.WARNING)

    def tracebacks() -> list[str]:
        """One line per distinct logged failure, with how often it came."""
        seen: Counter[str] = Counter()
        for r in caplog.records:
            if r.levelno >= logging.WARNING and (r.exc_info or "Traceback" in r.getMessage()):
                kind = r.exc_info[0].__name__ if r.exc_info and r.exc_info[0] else "Traceback"
                seen[f"{r.name}: {r.getMessage()[:150]} ({kind}: {str(r.exc_info[1] if r.exc_info else '')[:100]})"] += 1
        return [f"{n} x {line}" for line, n in seen.most_common()]

    return tracebacks


