"""PDF inspection and page rendering, off the event loop and out of the hub process.

pdfium runs only in render worker processes (render_pool.py, render_worker.py)
under memory and time limits: a page that inflates or draws forever fails
with 413 `too_large` ("page N could not be rendered within limits") and its
buffers die with the worker. The worker writes the plain PNG; watermarks run
here on a small Pillow pool.

Pages are rendered once per content (cached by sha256) at a fixed width, on
demand or ahead of time after an upload; concurrent requests for the same
page share one render.
"""
from __future__ import annotations

import asyncio
import io
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageChops

from sessions.documents import watermark
from sessions.documents.render_pool import RenderLimits, RenderPool, WorkerFailed, overrun
from sessions.documents.storage import DocumentStore, etag_of, write_atomically
from sessions.errors import HubError, Invalid, NotFound

log = logging.getLogger(__name__)

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
# A page that could not be rendered is not tried again for a while: each try
# of a hostile page costs a worker its full time budget.
FAILED_PAGE_SECONDS = 300.0
FAILED_PAGES_KEPT = 1024


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
    """The hub's renderer: owns the worker pool and the Pillow pool; closed by the hub's owner task."""

    def __init__(
        self,
        store: DocumentStore,
        fetch_pdf: Callable[[str], Awaitable[bytes | None]] | None = None,
        limits: RenderLimits | None = None,
    ) -> None:
        self.store = store
        # Where to get a PDF this data dir lacks (the hub's database).
        self.fetch_pdf = fetch_pdf
        self.limits = limits or RenderLimits()
        self.pool = RenderPool(self.limits)
        self._pillow = ThreadPoolExecutor(2, thread_name_prefix="pillow")
        self._inflight: dict[tuple, asyncio.Future] = {}
        self._hot: OrderedDict[str, Image.Image] = OrderedDict()
        self._hot_lock = threading.Lock()
        self._marked = ByteBoundedCache(MARKED_CACHE_BYTES)
        self._failed: OrderedDict[tuple[str, int], tuple[float, HubError]] = OrderedDict()

    async def _on(self, pool: ThreadPoolExecutor, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)

    async def count_pages(self, path: Path) -> int:
        """Open the file as rendering would (in a worker); Invalid or TooLarge with a clear reason."""
        try:
            reply, _ = await self.pool.call({"op": "count", "path": str(path)})
        except WorkerFailed as failure:
            raise overrun("the PDF could not be read", failure) from None
        _raise_refusal(reply)
        return reply["pages"]

    async def run_blocking(self, fn, *args):
        """Small blocking file work (moves, writes) on the Pillow pool."""
        return await self._on(self._pillow, fn, *args)

    async def plain_page(self, sha256: str, page: int) -> Path:
        """The cached plain render of page `page` (from 1), rendering it if needed."""
        path = self.store.page_path(sha256, page)
        if path.exists():
            return path
        self._raise_if_failed(sha256, page)
        return await self._once(("plain", sha256, page), self._render_plain(sha256, page, path))

    async def _render_plain(self, sha256: str, page: int, path: Path) -> Path:
        pdf = self.store.pdf_path(sha256)
        if not pdf.exists():
            await self._once(("fetch", sha256), self._fetch(sha256, pdf))
        request = {
            "op": "render", "path": str(pdf), "index": page - 1, "out": str(path),
            "width_px": PAGE_WIDTH_PX, "max_pixels": MAX_PAGE_PIXELS,
        }
        try:
            reply, pixels = await self.pool.call(request)
            _raise_refusal(reply)
        except WorkerFailed as failure:
            self._remember_failure(sha256, page, overrun(f"page {page} could not be rendered", failure))
            raise self._failed[(sha256, page)][1] from None
        except Invalid as refusal:
            self._remember_failure(sha256, page, refusal)
            raise
        # The worker wrote the PNG; its pixels make the page hot for watermarks.
        image = await self._on(self._pillow, Image.frombytes, reply["mode"], tuple(reply["size"]), pixels)
        self._remember(str(path), image)
        return path

    def _remember_failure(self, sha256: str, page: int, error: HubError) -> None:
        log.warning("document %s page %d: %s", sha256[:12], page, error.message)
        self._failed[(sha256, page)] = (time.monotonic() + FAILED_PAGE_SECONDS, error)
        while len(self._failed) > FAILED_PAGES_KEPT:
            self._failed.popitem(last=False)

    def _raise_if_failed(self, sha256: str, page: int) -> None:
        failed = self._failed.get((sha256, page))
        if failed is None:
            return
        until, error = failed
        if time.monotonic() >= until:
            del self._failed[(sha256, page)]
            return
        raise type(error)(error.message)

    async def _fetch(self, sha256: str, pdf: Path) -> Path:
        data = await self.fetch_pdf(sha256) if self.fetch_pdf else None
        if data is None:
            raise NotFound("the document's file is missing")
        await self._on(self._pillow, write_atomically, pdf, data)
        return pdf

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
        """Render every page ahead of time, one at a time so on-demand requests interleave.

        Stops at the first page that cannot be rendered: a hostile file must
        not keep a worker busy for its full time budget page after page; its
        other pages still render on demand.
        """
        for page in range(1, pages + 1):
            try:
                await self.plain_page(sha256, page)
            except HubError as refusal:
                log.warning("stopped rendering %s ahead at page %d: %s", sha256[:12], page, refusal.message)
                return

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

    async def close(self) -> None:
        """Cancel renders in flight, kill and reap the workers, stop the Pillow pool."""
        for future in list(self._inflight.values()):
            future.cancel()
        await self.pool.close()
        self._pillow.shutdown(wait=False, cancel_futures=True)


def _raise_refusal(reply: dict) -> None:
    """A worker's refusal of the file (the upload's fault) or its own failure."""
    if reply.get("ok"):
        return
    if reply.get("code") == "invalid":
        raise Invalid(reply.get("message", "the PDF cannot be rendered"))
    raise RuntimeError(f"render worker failed: {reply.get('message')}")
