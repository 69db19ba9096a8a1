"""Per-viewer watermark: "name · site" tiled diagonally and faintly across a page.

Drawn on the decoded plain render (never re-rendering the PDF): a mask of the
viewer's text is stamped over the page and the ink blended in through it, in
the page's own mode (grey pages stay grey, so they stay losslessly small).
Blocking: call through an executor.
"""
from __future__ import annotations

import functools
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

ANGLE_DEG = 30
INK_GREY = 60
# Mask strength: ink at ~16 % opacity. On white paper a change of about 30
# grey levels: visible on a photo of the screen, not in the way of reading.
INK_ALPHA = 40
# Fonts with Chinese glyphs first (names and sites are Chinese); Debian's
# fonts-wqy-microhei or fonts-noto-cjk provide one of these.
CJK_FONTS = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
)


def viewer_text(name: str, site: str | None) -> str:
    return f"{name} · {site}" if site else name


@functools.lru_cache(maxsize=16)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for path in CJK_FONTS:
        if Path(path).exists():
            return ImageFont.truetype(path, size)
    # Latin only: Chinese characters would come out as boxes, but the mark stays.
    return ImageFont.load_default(size=size)


@functools.lru_cache(maxsize=256)
def _stamp(text: str, size: int) -> Image.Image:
    """The text once, as a rotated mask (0 = no ink): the tile repeated over the page."""
    font = _font(size)
    left, top, right, bottom = font.getbbox(text)
    pad = size // 2
    tile = Image.new("L", (right - left + 2 * pad, bottom - top + 2 * pad), 0)
    ImageDraw.Draw(tile).text((pad - left, pad - top), text, font=font, fill=INK_ALPHA)
    return tile.rotate(ANGLE_DEG, expand=True, resample=Image.BICUBIC)


def mask_for(size: tuple[int, int], text: str) -> Image.Image:
    width, height = size
    stamp = _stamp(text, max(14, width // 45))
    mask = Image.new("L", size, 0)
    step_x = stamp.width + width // 10
    step_y = stamp.height + height // 20
    for row, y in enumerate(range(-stamp.height // 2, height, step_y)):
        # Stagger alternate rows so the marks form a diagonal lattice.
        shift = (step_x // 2) if row % 2 else 0
        for x in range(-stamp.width // 2 + shift, width, step_x):
            mask.paste(stamp, (x, y))
    return mask


def apply(page: Image.Image, text: str) -> Image.Image:
    """The page (mode L or RGB) with the viewer's mark; the page itself is not changed."""
    ink = Image.new(page.mode, page.size, INK_GREY if page.mode == "L" else (INK_GREY,) * 3)
    return Image.composite(ink, page, mask_for(page.size, text))
