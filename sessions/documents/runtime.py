"""The documents feature's per-hub parts: the store and the renderer, and their owner.

Started by the Socket.IO feature's `on_start`; the hub owns one task whose
cancellation (at hub close) shuts the render pools down: the render worker
processes are killed and reaped before the hub's close returns.
"""
from __future__ import annotations

import asyncio
import weakref

from sessions.documents import service
from sessions.documents.render import PageRenderer
from sessions.documents.render_pool import RenderLimits
from sessions.documents.storage import DocumentStore
from sessions.host import Host


_renderers: "weakref.WeakKeyDictionary[Host, PageRenderer]" = weakref.WeakKeyDictionary()


def start(hub: Host) -> PageRenderer:
    async def fetch_pdf(sha256: str) -> bytes | None:
        async with hub.db.read() as session:
            return await service.file_bytes(session, sha256)

    settings = hub.settings
    limits = RenderLimits(
        memory_bytes=settings.render_memory_bytes,
        page_seconds=settings.render_page_seconds,
        workers=settings.render_workers,
    )
    # Workers start on first need: most hubs' tests and many meetings never render.
    renderer = PageRenderer(DocumentStore(settings.data_dir), fetch_pdf, limits)
    _renderers[hub] = renderer

    async def hold() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            _renderers.pop(hub, None)
            await renderer.close()

    hub.spawn(hold(), "documents-renderer")
    return renderer


def renderer_of(hub: Host) -> PageRenderer:
    renderer = _renderers.get(hub)
    if renderer is None:
        raise RuntimeError("the documents feature has not started on this hub")
    return renderer
