"""Shortcuts for the documents tests: multipart uploads and page fetches."""
from __future__ import annotations

import io

import aiohttp
from PIL import Image

from tests.documents.pdfs import make_pdf


async def upload(
    hut,
    mid: str,
    token: str | None,
    data: bytes | None = None,
    *,
    filename: str = "会议材料.pdf",
    roles: str | None = None,
    participants: str | None = None,
    title: str | None = None,
) -> tuple[int, dict]:
    form = aiohttp.FormData()
    form.add_field("file", data if data is not None else make_pdf(3), filename=filename, content_type="application/pdf")
    for name, value in (("roles", roles), ("participants", participants), ("title", title)):
        if value is not None:
            form.add_field(name, value)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    resp = await hut.client.post(f"/api/meetings/{mid}/documents", data=form, headers=headers)
    return resp.status, await resp.json()


async def get_page(hut, did: str, n: int | str, token: str, headers: dict | None = None) -> aiohttp.ClientResponse:
    resp = await hut.client.get(
        f"/api/documents/{did}/pages/{n}", headers={"Authorization": f"Bearer {token}", **(headers or {})}
    )
    await resp.read()
    return resp


async def page_image(hut, did: str, n: int, token: str) -> Image.Image:
    resp = await get_page(hut, did, n, token)
    assert resp.status == 200, await resp.text()
    assert resp.content_type in ("image/png", "image/jpeg")
    return Image.open(io.BytesIO(await resp.read())).convert("RGB")


async def get_json(hut, path: str, token: str) -> tuple[int, dict]:
    resp = await hut.client.get(path, headers={"Authorization": f"Bearer {token}"})
    return resp.status, await resp.json()
