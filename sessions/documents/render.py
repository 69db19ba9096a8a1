"""PDF inspection and page rendering with pdfium, off the event loop.

pdfium is not thread-safe (pypdfium2 says so), so every pdfium call runs on
one dedicated worker thread; ctypes releases the GIL during the native call,
so the loop keeps serving while a page renders. PNG encoding and watermarks
run on a separate small Pillow pool, so the pdfium thread only rasterizes.

Pages are rendered once per content (cached by sha256) at a fixed width, on
demand or ahead of time after an upload; concurrent requests for the same
page share one render.
"""
from __future__ import annotations

import asyncio
import io
import math
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image, ImageChops

from sessions.documents import watermark
from sessions.documents.storage import DocumentStore, etag_of, write_atomically
from sessions.errors import Invalid, NotFound

PAGE_WIDTH_PX = 1600
# A page with an absurd aspect ratio must not turn into a gigapixel bitmap.
MAX_PAGE_PIXELS = PAGE_WIDTH_PX * PAGE_WIDTH_PX * 3
GREY_PALETTE = [level for i in range(256) for level in (i, i, i)]
# Decoded plain pages kept in memory: during a presentation a few pages are
# hot and every viewer's watermark starts from one of them.
HOT_PAGES = 6
# Viewers' pages are kept in memory, not on disk: one file per viewer, page
# and paper would grow without bound (500 viewers x 100 pages x ~100 KiB is
# 5 GB for one paper); browsers keep their own copy (Cache-Control private).
MARKED_CACHE_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class PageImage:
    data: bytes
    content_type: str
    etag: str


class ByteBoundedCache:
    """Least recently used entries go first once the bytes exceed the bound (loop-only)."""

    def __init__(self, limit_bytes: int) -> None:
        self.limit = limit_bytes
        self.size = 0
        self._items: OrderedDict[tuple, PageImage] = OrderedDict()

    def get(self, key: tuple) -> PageImage | None:
        item = self._items.pop(key, None)
        if item is not None:
            self._items[key] = item
        return item

    def put(self, key: tuple, item: PageImage) -> None:
        old = self._items.pop(key, None)
        if old is not None:
            self.size -= len(old.data)
        self._items[key] = item
        self.size += len(item.data)
        while self.size > self.limit and len(self._items) > 1:
            _, dropped = self._items.popitem(last=False)
            self.size -= len(dropped.data)


class _PdfiumThread:
    """State that only the pdfium worker thread touches: a few open documents."""

    KEEP_OPEN = 4

    def __init__(self) -> None:
        self._open: OrderedDict[str, pdfium.PdfDocument] = OrderedDict()

    def document(self, path: Path) -> pdfium.PdfDocument:
        key = str(path)
        doc = self._open.pop(key, None)
        if doc is None:
            doc = pdfium.PdfDocument(key)
        self._open[key] = doc
        while len(self._open) > self.KEEP_OPEN:
            _, old = self._open.popitem(last=False)
            old.close()
        return doc

    def count_pages(self, path: Path) -> int:
        """Open the file as pdfium would for rendering; raise Invalid with a clear reason."""
        try:
            doc = pdfium.PdfDocument(str(path))
        except pdfium.PdfiumError as exc:
            if exc.err_code == pdfium_c.FPDF_ERR_PASSWORD:
                raise Invalid("the PDF is encrypted with a password; upload an unprotected copy") from None
            if exc.err_code == pdfium_c.FPDF_ERR_SECURITY:
                raise Invalid("the PDF uses an unsupported security handler") from None
            raise Invalid("not a readable PDF (the file is damaged or not a PDF)") from None
        try:
            return len(doc)
        finally:
            doc.close()

    def render(self, path: Path, page_index: int) -> Image.Image:
        try:
            return self._render(path, page_index)
        except pdfium.PdfiumError:
            # A file that opened but has a damaged page: the upload's fault, not a crash.
            raise Invalid(f"page {page_index + 1} of this PDF cannot be rendered") from None

    def _render(self, path: Path, page_index: int) -> Image.Image:
        doc = self.document(path)
        page = doc[page_index]
        try:
            width_pt, height_pt = page.get_size()
            if width_pt <= 0 or height_pt <= 0:
                raise Invalid("the page has no area")
            # pdfium rounds the bitmap size up: aim a hair below the width.
            scale = (PAGE_WIDTH_PX - 1e-3) / width_pt
            if (width_pt * scale) * (height_pt * scale) > MAX_PAGE_PIXELS:
                scale = math.sqrt(MAX_PAGE_PIXELS / (width_pt * height_pt))
            bitmap = page.render(scale=scale, may_draw_forms=False)
            try:
                # copy(): the PIL image must not outlive pdfium's buffer.
                return bitmap.to_pil().convert("RGB").copy()
            finally:
                bitmap.close()
        finally:
            page.close()

    def close(self) -> None:
        for doc in self._open.values():
            doc.close()
        self._open.clear()


def is_grey(image: Image.Image) -> bool:
    red, green, blue = image.split()
    return ImageChops.difference(red, green).getbbox() is None and ImageChops.difference(green, blue).getbbox() is None


def _grey_png(image: Image.Image) -> bytes:
    # An exact grey palette: lossless for a grey page, and Pillow writes
    # palette PNGs without per-row filtering, about 5x faster than mode L.
    indexed = Image.frombytes("P", image.size, image.tobytes())
    indexed.putpalette(GREY_PALETTE)
    out = io.BytesIO()
    indexed.save(out, format="PNG", compress_level=1)
    return out.getvalue()


def encode_plain(image: Image.Image) -> bytes:
    """The cached plain render: lossless PNG (grey when the page is grey)."""
    if image.mode == "RGB" and is_grey(image):
        image = image.convert("L")
    if image.mode == "L":
        return _grey_png(image)
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=1)
    return out.getvalue()


def encode_marked(image: Image.Image) -> tuple[bytes, str]:
    """A viewer's page: grey pages as lossless palette PNG; colour pages as JPEG.

    Colour pages carry figures and photos; JPEG (q90, no chroma subsampling,
    so coloured text stays sharp) encodes them ~20x faster than PNG and a page
    turn asks for one image per viewer.
    """
    if image.mode == "L":
        return _grey_png(image), "image/png"
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=90, subsampling=0)
    return out.getvalue(), "image/jpeg"


def load_page(path: Path) -> Image.Image:
    """A cached plain render decoded to mode L (grey) or RGB."""
    with Image.open(path) as image:
        image.load()
        return image.convert("L" if image.mode in ("P", "L") else "RGB")


class PageRenderer:
    """The hub's renderer: owns the two pools; closed by the hub's owner task."""

    def __init__(self, store: DocumentStore, fetch_pdf: Callable[[str], Awaitable[bytes | None]] | None = None) -> None:
        self.store = store
        # Where to get a PDF this data dir lacks (the hub's database).
        self.fetch_pdf = fetch_pdf
        self._pdfium = ThreadPoolExecutor(1, thread_name_prefix="pdfium")
        self._pillow = ThreadPoolExecutor(2, thread_name_prefix="pillow")
        self._pdf_state = _PdfiumThread()
        self._inflight: dict[tuple, asyncio.Future] = {}
        self._hot: OrderedDict[str, Image.Image] = OrderedDict()
        self._hot_lock = threading.Lock()
        self._marked = ByteBoundedCache(MARKED_CACHE_BYTES)

    async def _on(self, pool: ThreadPoolExecutor, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)

    async def count_pages(self, path: Path) -> int:
        return await self._on(self._pdfium, self._pdf_state.count_pages, path)

    async def run_blocking(self, fn, *args):
        """Small blocking file work (moves, writes) on the Pillow pool."""
        return await self._on(self._pillow, fn, *args)

    async def plain_page(self, sha256: str, page: int) -> Path:
        """The cached plain render of page `page` (from 1), rendering it if needed."""
        path = self.store.page_path(sha256, page)
        if path.exists():
            return path
        return await self._once(("plain", sha256, page), self._render_plain(sha256, page, path))

    async def _render_plain(self, sha256: str, page: int, path: Path) -> Path:
        pdf = self.store.pdf_path(sha256)
        if not pdf.exists():
            await self._once(("fetch", sha256), self._fetch(sha256, pdf))
        image = await self._on(self._pdfium, self._pdf_state.render, pdf, page - 1)
        await self._on(self._pillow, self._store_plain, image, path)
        return path

    async def _fetch(self, sha256: str, pdf: Path) -> Path:
        data = await self.fetch_pdf(sha256) if self.fetch_pdf else None
        if data is None:
            raise NotFound("the document's file is missing")
        await self._on(self._pillow, write_atomically, pdf, data)
        return pdf

    def _store_plain(self, image: Image.Image, path: Path) -> None:
        if is_grey(image):
            image = image.convert("L")
        write_atomically(path, encode_plain(image))
        self._remember(str(path), image)

    async def marked_page(self, sha256: str, page: int, viewer_key: str, text: str) -> PageImage:
        """Page `page` with `text` watermarked across it, from the memory cache when there."""
        key = (sha256, page, viewer_key)
        cached = self._marked.get(key)
        if cached is not None:
            return cached
        plain = await self.plain_page(sha256, page)
        image = await self._once(("marked", *key), self._on(self._pillow, self._mark, plain, text))
        self._marked.put(key, image)
        return image

    def _mark(self, plain: Path, text: str) -> PageImage:
        data, content_type = encode_marked(watermark.apply(self._hot_page(plain), text))
        return PageImage(data, content_type, etag_of(data))

    def _hot_page(self, path: Path) -> Image.Image:
        """The decoded plain page, from memory when it is hot (read-only: shared by threads)."""
        key = str(path)
        with self._hot_lock:
            image = self._hot.pop(key, None)
            if image is not None:
                self._hot[key] = image
                return image
        image = load_page(path)
        self._remember(key, image)
        return image

    def _remember(self, key: str, image: Image.Image) -> None:
        with self._hot_lock:
            self._hot[key] = image
            while len(self._hot) > HOT_PAGES:
                self._hot.popitem(last=False)

    async def prerender(self, sha256: str, pages: int) -> None:
        """Render every page ahead of time, one at a time so on-demand requests interleave."""
        for page in range(1, pages + 1):
            await self.plain_page(sha256, page)

    async def _once(self, key: tuple, work):
        """Run `work` once for `key`; concurrent callers await the same result."""
        running = self._inflight.get(key)
        if running is not None:
            work.close()
            return await asyncio.shield(running)
        future = asyncio.ensure_future(work)
        self._inflight[key] = future
        future.add_done_callback(lambda _f: self._inflight.pop(key, None))
        return await asyncio.shield(future)

    def close(self) -> None:
        for future in list(self._inflight.values()):
            future.cancel()
        # The pdfium state belongs to its thread: close it there, then stop.
        self._pdfium.submit(self._pdf_state.close)
        self._pdfium.shutdown(wait=False, cancel_futures=False)
        self._pillow.shutdown(wait=False, cancel_futures=True)
