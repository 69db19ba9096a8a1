"""Per-viewer watermark: "name · site" tiled diagonally and faintly across a page.

Drawn on the cached plain render (never re-rendering the PDF), so a viewer's
page costs one Pillow composite, then comes from the cache. Blocking: call
through an executor.
"""
from __future__ import annotations

import functools
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from sessions.documents.storage import write_atomically

ANGLE_DEG = 30
# Dark grey at ~16 % opacity: on white paper a change of about 30 levels,
# visible on a photo of the screen but not in the way of reading.
INK = (60, 60, 60, 40)
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


def _stamp(text: str, size: int) -> Image.Image:
    """The text once, rotated: the tile repeated over the page."""
    font = _font(size)
    left, top, right, bottom = font.getbbox(text)
    pad = size // 2
    tile = Image.new("RGBA", (right - left + 2 * pad, bottom - top + 2 * pad), (0, 0, 0, 0))
    ImageDraw.Draw(tile).text((pad - left, pad - top), text, font=font, fill=INK)
    return tile.rotate(ANGLE_DEG, expand=True, resample=Image.BICUBIC)


def apply(page: Image.Image, text: str) -> Image.Image:
    width, height = page.size
    stamp = _stamp(text, max(14, width // 45))
    overlay = Image.new("RGBA", page.size, (0, 0, 0, 0))
    step_x = stamp.width + width // 10
    step_y = stamp.height + height // 20
    for row, y in enumerate(range(-stamp.height // 2, height, step_y)):
        # Stagger alternate rows so the marks form a diagonal lattice.
        shift = (step_x // 2) if row % 2 else 0
        for x in range(-stamp.width // 2 + shift, width, step_x):
            overlay.alpha_composite(stamp, (max(x, 0), max(y, 0)), (max(-x, 0), max(-y, 0)))
    return Image.alpha_composite(page.convert("RGBA"), overlay).convert("RGB")


def mark_file(plain: Path, target: Path, text: str) -> None:
    with Image.open(plain) as page:
        page.load()
        marked = apply(page, text)
    from sessions.documents.render import encode_png  # one PNG setting for all pages

    write_atomically(target, encode_png(marked))
