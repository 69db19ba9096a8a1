"""Every page a participant fetches carries their name and site, faintly, diagonally."""
from __future__ import annotations

import numpy as np
from PIL import Image

from tests.documents.pdfs import make_pdf
from tests.documents.util import get_page, page_image, upload


def _self_overlap(mask: np.ndarray, dx: int, dy: int) -> float:
    """Share of marked pixels that are still marked after shifting by (dx, dy)."""
    h, w = mask.shape
    a = mask[max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)]
    b = mask[max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)]
    return float((a & b).sum() / mask.sum())


async def test_watermark_is_faint_diagonal_and_per_viewer(sqlite_hub):
    hub = sqlite_hub
    mid = await hub.meeting()
    city = await hub.site("市人大常委会", "city")
    station = await hub.site("城关联络站", "station", city["id"])
    chair = await hub.participant(mid, "主任", "chair")
    deputy = await hub.participant(mid, "王代表", "deputy", station["id"])
    member = await hub.participant(mid, "李委员", "member")
    _, doc = await upload(hub, mid, chair["token"], make_pdf(2))

    marked = await page_image(hub, doc["id"], 1, deputy["token"])
    plain_path = await hub.hub.documents.renderer.plain_page(_sha_of(hub, doc["id"]), 1)
    plain = Image.open(plain_path).convert("RGB")
    assert marked.size == plain.size and plain.width == 1600

    diff = np.abs(np.asarray(marked, dtype=np.int16) - np.asarray(plain, dtype=np.int16)).max(axis=2)
    changed = diff > 0
    # Present over the whole page, but faint: no pixel changes by more than a shade.
    assert changed.mean() > 0.01, "no watermark"
    assert diff.max() <= 48, f"watermark too strong: {diff.max()}"
    h, w = changed.shape
    for quadrant in (changed[: h // 2, : w // 2], changed[: h // 2, w // 2 :], changed[h // 2 :, : w // 2], changed[h // 2 :, w // 2 :]):
        assert quadrant.mean() > 0.002
    # Diagonal: the marks run at 30° up to the right. The pattern overlaps
    # itself when shifted along that direction, and not across it, nor
    # horizontally or vertically.
    shift = 80
    along = _self_overlap(changed, round(shift * np.cos(np.radians(30))), -round(shift * np.sin(np.radians(30))))
    across = _self_overlap(changed, round(shift * np.cos(np.radians(30))), round(shift * np.sin(np.radians(30))))
    assert along > 0.2, along
    assert max(across, _self_overlap(changed, shift, 0), _self_overlap(changed, 0, shift)) < along / 4

    # Another viewer gets another mark on the same page; their own is stable (cached, same ETag).
    other = await page_image(hub, doc["id"], 1, member["token"])
    assert np.asarray(other).tobytes() != np.asarray(marked).tobytes()
    first = await get_page(hub, doc["id"], 1, deputy["token"])
    etag = first.headers["ETag"]
    assert "private" in first.headers["Cache-Control"]
    again = await get_page(hub, doc["id"], 1, deputy["token"], {"If-None-Match": etag})
    assert again.status == 304


def _sha_of(hub, did: str) -> str:
    import sqlite3

    db = sqlite3.connect(hub.hub.settings.data_dir / "plenary.db")
    try:
        return db.execute("SELECT sha256 FROM documents WHERE id = ?", (did,)).fetchone()[0]
    finally:
        db.close()


async def test_colour_pages_come_as_jpeg_with_the_mark(sqlite_hub):
    hub = sqlite_hub
    mid = await hub.meeting()
    chair = await hub.participant(mid, "主任", "chair")
    _, doc = await upload(hub, mid, chair["token"], make_pdf(1, colour=True))
    resp = await get_page(hub, doc["id"], 1, chair["token"])
    assert resp.status == 200 and resp.content_type == "image/jpeg"
    marked = await page_image(hub, doc["id"], 1, chair["token"])
    plain = Image.open(await hub.hub.documents.renderer.plain_page(_sha_of(hub, doc["id"]), 1)).convert("RGB")
    assert plain.mode == "RGB" and marked.size == plain.size
    red_band = np.asarray(marked)[300:360, 200:1400]
    assert red_band[..., 0].mean() > 150 and red_band[..., 1].mean() < 80  # colour kept
    diff = np.abs(np.asarray(marked, dtype=np.int16) - np.asarray(plain, dtype=np.int16)).max(axis=2)
    # JPEG adds a little noise everywhere; the mark is the clearly darker diagonal text.
    assert (diff > 12).mean() > 0.01
