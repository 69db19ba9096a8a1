"""REST for synchronized documents (电子阅文).

Contract:
- `POST /api/meetings/{mid}/documents` (admin, chair, clerk): multipart field
  `file` (a PDF), optional `roles` and `participants` (comma-separated; both
  absent: everyone in the meeting) and, as an extension, `title` (default:
  the file name without `.pdf`) → 201 `{id, title, pages}`.
  Refusals: 413 `too_large` when the file exceeds `max_upload_bytes`
  (default 50 MiB) or has more than `max_document_pages` pages (default 500:
  a page limit is a size limit, so it shares the size limit's code);
  400 `invalid` for a file that is not a PDF (no `%PDF-` header), a broken
  PDF ("not a readable PDF"), a password-protected PDF ("encrypted with a
  password"), a PDF without pages, unknown roles or participants.
- `GET /api/documents/{did}/pages/{n}` (participants it is shared with; chair,
  clerk and admin always) → the page 1600 px wide, watermarked with the
  viewer's "name · site": `image/png` for a grey page (most meeting papers:
  text and line art), as an 8-bit grey palette PNG — lossless, so text stays
  sharp and the faint mark exact, ~100 KiB a text page, and fast to encode
  (every viewer gets their own image on each page turn); `image/jpeg` (q90,
  no chroma subsampling) for a page with colour, where PNG would be several
  times larger and ~20x slower to encode. Answers carry an ETag (304 on
  If-None-Match), `Cache-Control: private, max-age=86400` and
  `Vary: Authorization` (the image is the viewer's own). The token may also
  come as `?token=` for a plain `<img src>`. Refusals: 403 `forbidden` (not
  shared with the caller), 404 `not_found` (no such paper or page), 400
  `invalid` (n not a positive integer), 401 (token of another meeting).

Storage: the PDF is kept content-addressed in the data dir
(`documents/<sha256>.pdf`, pages under `documents/<sha256>/pages/`) and its
bytes once in the database, so a process without that data dir renders too.
Pages render in the background after the upload (the answer does not wait),
and on demand when asked for first.

Extensions:
- `GET /api/meetings/{mid}/documents` (any participant; admin) → `[{id, title,
  pages, opened}]`, the papers shared with the caller (chair, clerk, admin:
  all, with `shared_with: {roles, participants}`).
- `GET /api/documents/{did}/receipts` (admin, chair, clerk) → `{document_id,
  shared, opened, participants: [{id, name, role, site, opened, opened_at}]}`
  over the participants the paper is shared with (签收).
- `PUT /api/documents/{did}/pages/{n}/annotations` (a participant it is
  shared with; their own only) body `{ink: [{points: [[x, y]…], width?,
  color?}], notes: [{x, y, text}]}`, coordinates as fractions of the page
  (0..1) so they fit any screen → `{page, updated_at}`. Limits: 1 MiB body
  (413), 1000 strokes of up to 5000 points, 200 notes of up to 2000 chars.
- `GET /api/documents/{did}/pages/{n}/annotations` → `{page, ink, notes,
  updated_at}` (empty lists and null when none).
- `GET /api/documents/{did}/annotations` → `{pages: [n…]}` where the caller
  has annotations.
"""
from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from urllib.parse import unquote

from aiohttp import BodyPartReader, web
from pydantic import Field

from sessions import directory
from sessions.documents import service, watermark
from sessions.documents.render import PageRenderer
from sessions.errors import Forbidden, Invalid, NotFound, TooLarge
from sessions.identity import Identity
from sessions.roles import OPERATORS_AND_ADMIN
from sessions.text import EdgeModel, Number, Text, check_line
from web.auth import hub_of, identify, require_meeting_access
from web.errors import parse_json, require_json_type

log = logging.getLogger(__name__)

routes = web.RouteTableDef()

PDF_MAGIC = b"%PDF-"
# PDF readers accept the header anywhere in the first KiB; so do we.
MAGIC_WINDOW = 1024
CHUNK = 256 * 1024
FIELD_LIMIT = 64 * 1024
ANNOTATION_LIMIT = 1024 * 1024
PAGE_CACHE = "private, max-age=86400"


class Body(EdgeModel):
    pass


class Stroke(Body):
    points: list[tuple[Number, Number]] = Field(min_length=1, max_length=5000)
    width: Number = Field(default=0.003, gt=0, le=0.1)
    color: Text = Field(default="#d02020", pattern=r"^#[0-9a-fA-F]{6}$")


class Note(Body):
    x: Number = Field(ge=0, le=1)
    y: Number = Field(ge=0, le=1)
    # A note is free text: tab and line breaks are kept.
    text: Text = Field(max_length=2000)


class AnnotationsIn(Body):
    ink: list[Stroke] = Field(default_factory=list, max_length=1000)
    notes: list[Note] = Field(default_factory=list, max_length=200)

    def check_points(self) -> None:
        for stroke in self.ink:
            for x, y in stroke.points:
                if not (0 <= x <= 1 and 0 <= y <= 1):
                    raise Invalid("ink points must be fractions of the page (0..1)")


# -- upload ---------------------------------------------------------------------------


class _Upload:
    """One multipart upload being received into a temporary file."""

    def __init__(self, renderer: PageRenderer, limit: int) -> None:
        self.renderer = renderer
        self.limit = limit
        self.temp: Path | None = None
        self.size = 0
        self.head = b""
        self.sha256 = ""
        self.filename: str | None = None

    async def receive(self, part: BodyPartReader) -> None:
        self.filename = part.filename
        self.temp = self.renderer.store.new_incoming()
        hasher = hashlib.sha256()
        handle = await self.renderer.run_blocking(open, self.temp, "wb")
        try:
            pending: list[bytes] = []
            pending_size = 0
            while chunk := await part.read_chunk(CHUNK):
                self.size += len(chunk)
                if self.size > self.limit:
                    raise TooLarge(f"the file is larger than {self.limit} bytes")
                if len(self.head) < MAGIC_WINDOW:
                    self.head += chunk[: MAGIC_WINDOW - len(self.head)]
                hasher.update(chunk)
                pending.append(chunk)
                pending_size += len(chunk)
                if pending_size >= 4 * CHUNK:
                    await self.renderer.run_blocking(handle.write, b"".join(pending))
                    pending, pending_size = [], 0
            if pending:
                await self.renderer.run_blocking(handle.write, b"".join(pending))
        finally:
            await self.renderer.run_blocking(handle.close)
        self.sha256 = hasher.hexdigest()

    def discard(self) -> None:
        if self.temp is not None:
            self.temp.unlink(missing_ok=True)


async def _read_field(part: BodyPartReader) -> str:
    data = b""
    while chunk := await part.read_chunk(8192):
        data += chunk
        if len(data) > FIELD_LIMIT:
            raise TooLarge(f"field {part.name!r} is too long")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise Invalid(f"field {part.name!r} is not UTF-8 text") from None


def _title_from(field: str | None, filename: str | None) -> str:
    title = check_line((field or "").strip(), "title")
    if not title and filename:
        # Some clients (aiohttp among them) percent-encode non-ASCII file names.
        name = Path(unquote(filename).replace("\\", "/")).name
        title = check_line(name[:-4] if name.lower().endswith(".pdf") else name, "the file name")
    return (title.strip() or "未命名文件")[:300]


@routes.post("/api/meetings/{mid}/documents")
async def upload_document(request: web.Request) -> web.Response:
    mid = request.match_info["mid"]
    identity = await require_meeting_access(request, mid, OPERATORS_AND_ADMIN)
    hub = hub_of(request)
    renderer = hub.documents.renderer
    limit = hub.settings.max_upload_bytes
    if request.content_length is not None and request.content_length > limit + FIELD_LIMIT * 4:
        raise TooLarge(f"the file is larger than {limit} bytes")
    if not request.content_type.startswith("multipart/form-data"):
        raise Invalid("send the PDF as multipart/form-data with the field 'file'")
    upload = _Upload(renderer, limit)
    fields: dict[str, str] = {}
    try:
        try:
            reader = await request.multipart()
            async for part in reader:
                if not isinstance(part, BodyPartReader):
                    raise Invalid("nested multipart bodies are not accepted")
                if part.name == "file":
                    if upload.temp is not None:
                        raise Invalid("send one file per upload")
                    await upload.receive(part)
                elif part.name in ("roles", "participants", "title"):
                    fields[part.name] = await _read_field(part)
                else:
                    raise Invalid(f"unknown field {part.name!r}")
        except (ValueError, AssertionError, RuntimeError) as exc:
            # aiohttp's multipart reader reports a malformed body this way.
            raise Invalid(f"malformed multipart body: {exc}") from None
        if upload.temp is None:
            raise Invalid("the field 'file' is missing")
        title = _title_from(fields.get("title"), upload.filename)
        roles, participants = service.parse_share(fields.get("roles"), fields.get("participants"))
        async with hub.db.read() as session:
            await service.check_share(session, mid, participants)
        if PDF_MAGIC not in upload.head:
            raise Invalid("the file is not a PDF")
        pages = await renderer.count_pages(upload.temp)
        if pages < 1:
            raise Invalid("the PDF has no pages")
        if pages > hub.settings.max_document_pages:
            raise TooLarge(f"the PDF has {pages} pages; at most {hub.settings.max_document_pages} are accepted")
        async with hub.db.read() as session:
            stored = await service.file_bytes_known(session, upload.sha256)
        # The bytes go to the database too (once per content): any process
        # of the hub, with or without this data dir, can then render them.
        data = None if stored else await renderer.run_blocking(upload.temp.read_bytes)
        await renderer.run_blocking(renderer.store.adopt, upload.temp, upload.sha256)
        upload.temp = None
    finally:
        upload.discard()

    async with hub.db.transaction() as tx:
        if data is not None:
            await service.keep_file(tx, upload.sha256, data)
        doc, logged = await service.create_document(
            tx,
            mid,
            title=title,
            sha256=upload.sha256,
            pages=pages,
            size_bytes=upload.size,
            roles=roles,
            participants=participants,
            uploaded_by=identity.sub,
        )
        audience = None if service.shares_everyone(doc) else await service.audience(tx, doc)
    # A restricted paper's title can be sensitive: only its audience is told.
    await hub.publish(logged, {"document": service.document_dict(doc)}, audience=audience)
    # Render ahead so page turns find their images cached; requests for a
    # page not rendered yet render it on demand meanwhile.
    hub.spawn(renderer.prerender(doc.sha256, doc.pages), f"prerender-{doc.id}")
    return web.json_response(service.document_dict(doc), status=201)


# -- reading ---------------------------------------------------------------------------


async def _readable(request: web.Request) -> tuple[Identity, service.Viewer, "service.Document"]:
    hub = hub_of(request)
    identity = identify(request)
    async with hub.db.read() as session:
        doc = await service.get_document(session, request.match_info["did"])
    await require_meeting_access(request, doc.meeting_id)
    viewer = service.Viewer(identity.sub, identity.role)
    if not service.is_shared_with(doc, viewer):
        raise Forbidden("this document is not shared with you")
    return identity, viewer, doc


def _page_number(request: web.Request, pages: int) -> int:
    raw = request.match_info["n"]
    # ASCII only: str.isdigit() also takes "²" (int() then fails) and "١".
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 6 or int(raw) < 1:
        raise Invalid("the page number must be a positive integer")
    n = int(raw)
    if n > pages:
        raise NotFound(f"no page {n}; the document has {pages}")
    return n


async def _watermark_text(request: web.Request, identity: Identity) -> str:
    if identity.is_staff:  # the admin, or an operator's session (no participant row)
        return "admin" if identity.is_admin else identity.sub
    async with hub_of(request).db.read() as session:
        participant = await directory.get_participant(session, identity.sub)
    return watermark.viewer_text(participant.name, participant.site.name if participant.site else None)


@routes.get("/api/documents/{did}/pages/{n}")
async def page_image(request: web.Request) -> web.StreamResponse:
    identity, _viewer, doc = await _readable(request)
    n = _page_number(request, doc.pages)
    text = await _watermark_text(request, identity)
    # The key changes with the text, so a renamed viewer never gets an old mark.
    viewer_key = f"{identity.sub}-{hashlib.sha256(text.encode()).hexdigest()[:10]}"
    image = await hub_of(request).documents.renderer.marked_page(doc.sha256, n, viewer_key, text)
    headers = {"Cache-Control": PAGE_CACHE, "Vary": "Authorization", "ETag": image.etag}
    if image.etag in request.headers.get("If-None-Match", ""):
        return web.Response(status=304, headers=headers)
    return web.Response(body=image.data, content_type=image.content_type, headers=headers)


@routes.get("/api/meetings/{mid}/documents")
async def list_documents(request: web.Request) -> web.Response:
    mid = request.match_info["mid"]
    identity = await require_meeting_access(request, mid)
    async with hub_of(request).db.read() as session:
        await directory.get_meeting(session, mid)
        listed = await service.documents_for(session, mid, service.Viewer(identity.sub, identity.role))
    return web.json_response(listed)


@routes.get("/api/documents/{did}/receipts")
async def list_receipts(request: web.Request) -> web.Response:
    identity, _viewer, doc = await _readable(request)
    if identity.role not in OPERATORS_AND_ADMIN:
        raise Forbidden("only the chair, the clerk or an admin see receipts")
    async with hub_of(request).db.read() as session:
        answer = await service.receipts(session, doc)
    return web.json_response(answer)


# -- private annotations -----------------------------------------------------------------


def _own(identity: Identity) -> str:
    if identity.is_staff:
        raise Forbidden("annotations belong to meeting participants")
    return identity.sub


async def _read_limited(request: web.Request, limit: int) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise TooLarge(f"the body is larger than {limit} bytes")
    data = bytearray()
    while chunk := await request.content.readany():
        data += chunk
        if len(data) > limit:
            raise TooLarge(f"the body is larger than {limit} bytes")
    return bytes(data)


@routes.put("/api/documents/{did}/pages/{n}/annotations")
async def save_annotations(request: web.Request) -> web.Response:
    identity, _viewer, doc = await _readable(request)
    participant_id = _own(identity)
    n = _page_number(request, doc.pages)
    require_json_type(request)
    body = parse_json(await _read_limited(request, ANNOTATION_LIMIT), AnnotationsIn)
    body.check_points()
    async with hub_of(request).db.transaction() as tx:
        updated_at = await service.save_annotation(tx, doc, participant_id, n, body.model_dump(mode="json"))
    return web.json_response({"page": n, "updated_at": updated_at.isoformat()})


@routes.get("/api/documents/{did}/pages/{n}/annotations")
async def load_annotations(request: web.Request) -> web.Response:
    identity, _viewer, doc = await _readable(request)
    participant_id = _own(identity)
    n = _page_number(request, doc.pages)
    async with hub_of(request).db.read() as session:
        saved = await service.load_annotation(session, doc, participant_id, n)
    return web.json_response({"page": n, **(saved or {"ink": [], "notes": [], "updated_at": None})})


@routes.get("/api/documents/{did}/annotations")
async def annotated_pages(request: web.Request) -> web.Response:
    identity, _viewer, doc = await _readable(request)
    participant_id = _own(identity)
    async with hub_of(request).db.read() as session:
        pages = await service.annotated_pages(session, doc, participant_id)
    return web.json_response({"document_id": doc.id, "pages": pages})
