from __future__ import annotations

import pytest

from media import aiortc_hooks
from media.service import MediaService


@pytest.fixture
async def service():
    # (meeting, participant, sdp, connection): in-process peers default their
    # connection id to the participant id.
    offers: list[tuple[str, str, str, str]] = []

    async def on_offer(meeting_id: str, participant_id: str, connection_id: str, sdp: str) -> None:
        offers.append((meeting_id, participant_id, sdp, connection_id))

    svc = MediaService(ice_servers=[], allow_loopback=True, on_offer=on_offer)
    svc.test_offers = offers  # type: ignore[attr-defined]
    yield svc
    await svc.close()
    aiortc_hooks.disable_loopback_candidates()
