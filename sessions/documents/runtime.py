"""The documents feature's per-hub part: the page renderer and what it remembers.

The hub makes one at start-up (nothing runs until a page is first needed)
and closes it at shutdown: the render worker processes are killed and
reaped before the hub's close returns.
"""
from __future__ import annotations

from sessions.documents import service
from sessions.documents.render import PageRenderer
from sessions.documents.render_pool import RenderLimits
from sessions.documents.storage import DocumentStore
from sessions.host import Host


class DocumentsRuntime:
    def __init__(self, host: Host) -> None:
        db = host.db

        async def fetch_pdf(sha256: str) -> bytes | None:
            async with db.read() as session:
                return await service.file_bytes(session, sha256)

        settings = host.settings
        limits = RenderLimits(
            memory_bytes=settings.render_memory_bytes,
            page_seconds=settings.render_page_seconds,
            workers=settings.render_workers,
        )
        # Workers start on first need: most hubs' tests and many meetings never render.
        self.renderer = PageRenderer(DocumentStore(settings.data_dir), fetch_pdf, limits)
        self.facts = service.DocumentFacts()

    async def close(self) -> None:
        await self.renderer.close()
