"""Synchronized documents (电子阅文) on Socket.IO.

Contract events: `doc:presenter`, `doc:present`, `doc:opened`; broadcasts
`doc:shared`, `doc:page`. Extensions (for the project's protocol doc):

- broadcast `doc:presenter` → `{seq, participant_id}` when the chair hands
  the presenter role to a participant (null: the chair took it back). It is a
  meeting event with its seq, so every client learns who may turn pages.
- `doc:page.presenter` is the participant who turned the page.
- `doc:shared` goes with its seq to the participants the document is shared
  with (all of them, plus chair and clerk, who always see every paper). A
  restricted paper's title can be sensitive, so the others are not told:
  they see a gap in seq and answer it with `state:sync` as for any gap.
- `doc:opened` answers `{ok, first}` (first: this call recorded the
  receipt; later calls change nothing); the first opening by a participant
  sends `doc:receipt` → `{document_id, participant_id, opened_at}` (no seq:
  not a meeting-wide event) to the chair's and the clerk's connections.
- `state:sync` key `document` → `{document_id, page, presenter,
  designated_presenter, documents: [{id, title, pages, opened}]}`: what is on
  the screens now, who may turn pages, and the papers the caller may read
  (chair and clerk also get `shared_with: {roles, participants}`).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from sessions.documents import service
from sessions.roles import Role
from sessions.text import Id, Int
from signaling.registry import Caller, Events, Payload
from signaling.hub import NAMESPACE, participant_room

if TYPE_CHECKING:
    from signaling.hub import Hub

events = Events()

class PresenterIn(Payload):
    participant_id: Id | None


class PresentIn(Payload):
    document_id: Id
    page: Int = Field(ge=1, le=100_000)


class OpenedIn(Payload):
    document_id: Id


def viewer_of(caller: Caller) -> service.Viewer:
    return service.Viewer(caller.participant_id, caller.role)


@events.on("doc:presenter", PresenterIn, roles={Role.CHAIR})
async def hand_presenter(hub: "Hub", caller: Caller, payload: PresenterIn) -> None:
    async with hub.db.transaction() as tx:
        logged = await service.set_presenter(tx, caller.meeting_id, viewer_of(caller), payload.participant_id)
    await hub.publish(logged)


@events.on("doc:present", PresentIn)
async def present(hub: "Hub", caller: Caller, payload: PresentIn) -> None:
    async with hub.db.transaction() as tx:
        logged = await service.present(tx, caller.meeting_id, viewer_of(caller), payload.document_id, payload.page,
                                       hub.documents.facts)
    await hub.publish(logged)


@events.on("doc:opened", OpenedIn)
async def opened(hub: "Hub", caller: Caller, payload: OpenedIn) -> dict:
    async with hub.db.transaction() as tx:
        doc = await service.readable_document(tx, payload.document_id, viewer_of(caller), caller.meeting_id)
        first = await service.mark_opened(tx, doc, caller.participant_id)
        operators = await service.operator_ids(tx, caller.meeting_id) if first else []
    if first and operators:
        receipt = {"document_id": doc.id, "participant_id": caller.participant_id, "opened_at": first.isoformat()}
        await hub.sio.emit(
            "doc:receipt", receipt, room=[participant_room(p) for p in operators], namespace=NAMESPACE
        )
    return {"first": first is not None}


@events.state("document")
async def document_state(hub: "Hub", caller: Caller, session) -> dict:
    stage = await service.stage_of(session, caller.meeting_id)
    return {**stage, "documents": await service.documents_for(session, caller.meeting_id, viewer_of(caller))}
