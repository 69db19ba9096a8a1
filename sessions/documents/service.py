"""Documents in the database: sharing, the presenter's stage, receipts, annotations.

Plain async functions over one session; the edges (REST, Socket.IO) validate
input, call these inside a transaction, and broadcast after commit.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from sessions import directory, events
from sessions.documents.models import Document, DocumentAnnotation, DocumentFile, DocumentReceipt, DocumentStage
from sessions.errors import Forbidden, Invalid, NotFound
from sessions.events import LoggedEvent
from sessions.models import Participant, utcnow
from sessions.roles import OPERATORS, Role
from sessions.text import check_id


@dataclass(frozen=True)
class Viewer:
    """Whoever asks: a participant of the meeting, or the hub's admin."""

    participant_id: str
    role: Role

    @property
    def is_operator(self) -> bool:
        # The admin and the operators see every paper of a meeting: they present them.
        return self.role is Role.ADMIN or self.role in OPERATORS


def document_dict(doc: Document) -> dict:
    return {"id": doc.id, "title": doc.title, "pages": doc.pages}


def shares_everyone(doc: Document) -> bool:
    return not doc.share_roles and not doc.share_participants


def is_shared_with(doc: Document, viewer: Viewer) -> bool:
    return (
        viewer.is_operator
        or shares_everyone(doc)
        or viewer.role.value in doc.share_roles
        or viewer.participant_id in doc.share_participants
    )


def parse_share(roles_csv: str | None, participants_csv: str | None) -> tuple[list[str], list[str]]:
    """The upload's comma-separated `roles` and `participants` fields."""
    roles = sorted({r.strip() for r in (roles_csv or "").split(",") if r.strip()})
    participants = sorted({p.strip() for p in (participants_csv or "").split(",") if p.strip()})
    for role in roles:
        if role not in Role.__members__.values() or role == Role.ADMIN.value:
            raise Invalid(f"roles: {role!r} is not a meeting role")
    if len(participants) > 10_000:
        raise Invalid("participants: too many")
    for participant in participants:
        check_id(participant, "participants:")
    return roles, participants


async def check_share(session: AsyncSession, meeting_id: str, participants: list[str]) -> None:
    """Refuse a share list naming anyone outside the meeting (or a meeting that does not exist)."""
    await directory.get_meeting(session, meeting_id)
    if not participants:
        return
    known = set(
        (
            await session.scalars(
                select(Participant.id).where(Participant.meeting_id == meeting_id, Participant.id.in_(participants))
            )
        ).all()
    )
    unknown = [p for p in participants if p not in known]
    if unknown:
        raise Invalid(f"participants: {', '.join(unknown[:5])} not in this meeting")


async def create_document(
    session: AsyncSession,
    meeting_id: str,
    *,
    title: str,
    sha256: str,
    pages: int,
    size_bytes: int,
    roles: list[str],
    participants: list[str],
    uploaded_by: str,
) -> tuple[Document, LoggedEvent]:
    await check_share(session, meeting_id, participants)
    doc = Document(
        meeting_id=meeting_id,
        title=title,
        sha256=sha256,
        pages=pages,
        size_bytes=size_bytes,
        share_roles=roles,
        share_participants=participants,
        uploaded_by=uploaded_by,
        created_at=utcnow(),
    )
    session.add(doc)
    await session.flush()
    logged = await events.append(
        session,
        meeting_id,
        "doc:shared",
        {"document": document_dict(doc), "roles": roles, "participants": participants},
        actor_id=None if uploaded_by == "admin" else uploaded_by,
    )
    return doc, logged


async def keep_file(session: AsyncSession, sha256: str, data: bytes) -> None:
    """Store the upload's bytes once per content (a second upload of them changes nothing)."""
    await session.execute(
        _insert(session)(DocumentFile)
        .values(sha256=sha256, size_bytes=len(data), data=data, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["sha256"])
    )


async def file_bytes_known(session: AsyncSession, sha256: str) -> bool:
    return await session.scalar(select(DocumentFile.size_bytes).where(DocumentFile.sha256 == sha256)) is not None


async def file_bytes(session: AsyncSession, sha256: str) -> bytes | None:
    return await session.scalar(select(DocumentFile.data).where(DocumentFile.sha256 == sha256))


async def get_document(session: AsyncSession, document_id: str) -> Document:
    doc = await session.get(Document, document_id)
    if doc is None:
        raise NotFound("no such document")
    return doc


async def readable_document(session: AsyncSession, document_id: str, viewer: Viewer, meeting_id: str | None) -> Document:
    """The document if `viewer` (of `meeting_id`; None for the admin) may read it."""
    doc = await get_document(session, document_id)
    if meeting_id is not None and doc.meeting_id != meeting_id:
        raise NotFound("no such document")  # other meetings' papers are not even named
    if not is_shared_with(doc, viewer):
        raise Forbidden("this document is not shared with you")
    return doc


async def audience(session: AsyncSession, doc: Document) -> list[str]:
    """Participants of the meeting the document is shared with."""
    rows = (await session.execute(select(Participant.id, Participant.role).where(Participant.meeting_id == doc.meeting_id))).all()
    return [pid for pid, role in rows if is_shared_with(doc, Viewer(pid, Role(role)))]


async def documents_for(session: AsyncSession, meeting_id: str, viewer: Viewer) -> list[dict]:
    docs = (
        await session.scalars(
            select(Document).where(Document.meeting_id == meeting_id).order_by(Document.created_at, Document.id)
        )
    ).all()
    opened = set(
        (
            await session.scalars(
                select(DocumentReceipt.document_id).where(DocumentReceipt.participant_id == viewer.participant_id)
            )
        ).all()
    )
    listed = []
    for doc in docs:
        if not is_shared_with(doc, viewer):
            continue
        item = {**document_dict(doc), "opened": doc.id in opened}
        if viewer.is_operator:
            item["shared_with"] = {"roles": doc.share_roles, "participants": doc.share_participants}
        listed.append(item)
    return listed


# -- the presenter's stage ---------------------------------------------------------


async def _stage_for_update(session: AsyncSession, meeting_id: str) -> DocumentStage:
    # Called after events.append, which holds the meeting row's lock: no
    # other transaction can create or change this row meanwhile.
    stage = await session.get(DocumentStage, meeting_id)
    if stage is None:
        stage = DocumentStage(meeting_id=meeting_id, seq=0)
        session.add(stage)
    return stage


class DocumentFacts:
    """A document's meeting and page count, remembered: they never change
    once it is stored, so a page turn costs no read before its writes. One
    per hub (sessions/documents/runtime.py), bounded."""

    LIMIT = 4096

    def __init__(self) -> None:
        self._known: dict[str, tuple[str, int]] = {}

    async def of(self, session: AsyncSession, document_id: str) -> tuple[str, int]:
        facts = self._known.get(document_id)
        if facts is None:
            doc = await get_document(session, document_id)
            facts = (doc.meeting_id, doc.pages)
            if len(self._known) >= self.LIMIT:
                self._known.pop(next(iter(self._known)))
            self._known[document_id] = facts
        return facts


async def present(
    session: AsyncSession, meeting_id: str, actor: Viewer, document_id: str, page: int, facts: DocumentFacts
) -> LoggedEvent:
    doc_meeting, pages = await facts.of(session, document_id)
    if doc_meeting != meeting_id:
        raise NotFound("no such document")
    if not 1 <= page <= pages:
        raise Invalid(f"page must be between 1 and {pages}")
    payload = {"document_id": document_id, "page": page, "presenter": actor.participant_id}
    logged = await events.append(session, meeting_id, "doc:page", payload, actor_id=actor.participant_id)
    # One statement moves the stage and tells who the chair made presenter;
    # a refusal below rolls it back together with the event.
    designated = await session.execute(
        update(DocumentStage)
        .where(DocumentStage.meeting_id == meeting_id)
        .values(document_id=document_id, page=page, presenter_id=actor.participant_id, seq=logged.seq)
        .returning(DocumentStage.designated_id)
    )
    row = designated.first()
    if row is None:  # the meeting's first page turn
        session.add(
            DocumentStage(
                meeting_id=meeting_id, document_id=document_id, page=page, presenter_id=actor.participant_id, seq=logged.seq
            )
        )
    if not actor.is_operator and (row is None or row[0] != actor.participant_id):
        raise Forbidden("only the chair, the clerk or the presenter the chair named may turn pages")
    await session.flush()
    return logged


async def set_presenter(session: AsyncSession, meeting_id: str, actor: Viewer, participant_id: str | None) -> LoggedEvent:
    if participant_id is not None:
        target = await session.get(Participant, participant_id)
        if target is None or target.meeting_id != meeting_id:
            raise NotFound("no such participant in this meeting")
    logged = await events.append(
        session, meeting_id, "doc:presenter", {"participant_id": participant_id}, actor_id=actor.participant_id
    )
    stage = await _stage_for_update(session, meeting_id)
    stage.designated_id, stage.seq = participant_id, logged.seq
    await session.flush()
    return logged


async def stage_of(session: AsyncSession, meeting_id: str) -> dict:
    stage = await session.get(DocumentStage, meeting_id)
    if stage is None:
        return {"document_id": None, "page": None, "presenter": None, "designated_presenter": None}
    return {
        "document_id": stage.document_id,
        "page": stage.page,
        "presenter": stage.presenter_id,
        "designated_presenter": stage.designated_id,
    }


# -- receipts (签收) ----------------------------------------------------------------


def _insert(session: AsyncSession):
    return (sqlite.insert if session.get_bind().dialect.name == "sqlite" else postgresql.insert)


async def mark_opened(session: AsyncSession, doc: Document, participant_id: str) -> datetime | None:
    """Record the first opening; returns its time, or None if it was opened before."""
    now = utcnow()
    result = await session.execute(
        _insert(session)(DocumentReceipt)
        .values(document_id=doc.id, participant_id=participant_id, opened_at=now)
        .on_conflict_do_nothing(index_elements=["document_id", "participant_id"])
    )
    return now if result.rowcount else None


async def receipts(session: AsyncSession, doc: Document) -> dict:
    opened = dict(
        (
            await session.execute(
                select(DocumentReceipt.participant_id, DocumentReceipt.opened_at).where(
                    DocumentReceipt.document_id == doc.id
                )
            )
        ).all()
    )
    shared = set(await audience(session, doc))
    rows = []
    for p in await directory.participants_of(session, doc.meeting_id):
        if p.id not in shared:
            continue
        at = opened.get(p.id)
        rows.append({**p.to_dict(), "opened": at is not None, "opened_at": at.isoformat() if at else None})
    return {
        "document_id": doc.id,
        "shared": len(rows),
        "opened": sum(1 for r in rows if r["opened"]),
        "participants": rows,
    }


async def operator_ids(session: AsyncSession, meeting_id: str) -> list[str]:
    rows = await session.scalars(
        select(Participant.id).where(
            Participant.meeting_id == meeting_id, Participant.role.in_([r.value for r in OPERATORS])
        )
    )
    return list(rows.all())


# -- private annotations ------------------------------------------------------------------


async def save_annotation(session: AsyncSession, doc: Document, participant_id: str, page: int, data: dict) -> datetime:
    now = utcnow()
    stmt = _insert(session)(DocumentAnnotation).values(
        document_id=doc.id, participant_id=participant_id, page=page, data=data, updated_at=now
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["document_id", "participant_id", "page"], set_={"data": data, "updated_at": now}
    )
    await session.execute(stmt)
    return now


async def load_annotation(session: AsyncSession, doc: Document, participant_id: str, page: int) -> dict | None:
    row = await session.scalar(
        select(DocumentAnnotation).where(
            DocumentAnnotation.document_id == doc.id,
            DocumentAnnotation.participant_id == participant_id,
            DocumentAnnotation.page == page,
        )
    )
    if row is None:
        return None
    return {**row.data, "updated_at": row.updated_at.isoformat()}


async def annotated_pages(session: AsyncSession, doc: Document, participant_id: str) -> list[int]:
    rows = await session.scalars(
        select(DocumentAnnotation.page)
        .where(DocumentAnnotation.document_id == doc.id, DocumentAnnotation.participant_id == participant_id)
        .order_by(DocumentAnnotation.page)
    )
    return list(rows.all())
