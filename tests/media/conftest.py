from __future__ import annotations

import pytest

from media import aiortc_hooks
from media.service import MediaService


@pytest.fixture
async def service():
    offers: list[tuple[str, str, str]] = []

    async def on_offer(meeting_id: str, participant_id: str, sdp: str) -> None:
        offers.append((meeting_id, participant_id, sdp))

    svc = MediaService(ice_servers=[], allow_loopback=True, on_offer=on_offer)
    svc.test_offers = offers  # type: ignore[attr-defined]
    yield svc
    await svc.close()
    aiortc_hooks.disable_loopback_candidates()
