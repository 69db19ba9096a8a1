"""The documents feature's per-hub parts: the store and the renderer, and their owner.

Started by the Socket.IO feature's `on_start`; the hub owns one task whose
cancellation (at hub close) shuts the render pools down.
"""
from __future__ import annotations

import asyncio
import weakref
from typing import TYPE_CHECKING

from sessions.documents import service
from sessions.documents.render import PageRenderer
from sessions.documents.storage import DocumentStore

if TYPE_CHECKING:
    from web.hub import Hub

_renderers: "weakref.WeakKeyDictionary[Hub, PageRenderer]" = weakref.WeakKeyDictionary()


def start(hub: "Hub") -> PageRenderer:
    async def fetch_pdf(sha256: str) -> bytes | None:
        async with hub.db.read() as session:
            return await service.file_bytes(session, sha256)

    renderer = PageRenderer(DocumentStore(hub.settings.data_dir), fetch_pdf)
    _renderers[hub] = renderer

    async def hold() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            _renderers.pop(hub, None)
            renderer.close()

    hub.spawn(hold(), "documents-renderer")
    return renderer


def renderer_of(hub: "Hub") -> PageRenderer:
    renderer = _renderers.get(hub)
    if renderer is None:
        raise RuntimeError("the documents feature has not started on this hub")
    return renderer
