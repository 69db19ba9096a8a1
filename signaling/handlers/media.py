"""Media signalling: two peer connections per client, the SFU behind them.

Media belongs to the Socket.IO connection (`caller.sid`), not to the
participant: a reload's new connection negotiates while the old one is torn
down, and neither sees the other's offers or peer connections.

Extensions to the contract (see docs/protocol.md):
- `media:publish` may carry `sources: {mid: camera|screen|mic}` to label
  transceivers; unlabeled video is the camera, unlabeled audio the mic.
- `media:offer` carries `consumers: [{mid, track_id, participant_id, kind,
  source}]` so the client knows which received transceiver shows whom.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from media.service import MediaError, MediaService
from sessions.errors import HubError, Invalid, NotFound, StateError
from sessions.roles import Role
from signaling.registry import Caller, Events, Payload

if TYPE_CHECKING:
    from signaling.hub import Hub

events = Events()

MAX_SDP = 64 * 1024
# Observers see and hear only.
PUBLISHERS = frozenset(r for r in Role if r not in (Role.OBSERVER, Role.ADMIN))


class PublishIn(Payload):
    sdp: str = Field(min_length=1, max_length=MAX_SDP)
    sources: dict[str, Literal["camera", "screen", "mic"]] | None = Field(default=None, max_length=16)


class SubscribeIn(Payload):
    tracks: list[str] | Literal["all"] = Field(max_length=256)


class AnswerIn(Payload):
    sdp: str = Field(min_length=1, max_length=MAX_SDP)


def build_media_service(hub: "Hub") -> MediaService:
    async def tracks_changed(meeting_id: str) -> None:
        tracks = [t.to_dict() for t in service.tracks(meeting_id)]
        await hub.record(meeting_id, "media:tracks", {"tracks": tracks}, broadcast="media:tracks")

    async def active_speaker(meeting_id: str, participant_id: str | None) -> None:
        # Volatile and frequent: not a meeting event, so no seq.
        await hub.emit_unsequenced(meeting_id, "media:active-speaker", {"participant_id": participant_id})

    async def offer(meeting_id: str, participant_id: str, connection_id: str, sdp: str) -> None:
        # To the connection whose peer made the offer, never the participant's
        # room: another connection of the same participant (a reload) would
        # take an offer meant for a peer connection it does not have.
        body = _offer_body(service, meeting_id, participant_id, connection_id, sdp)
        await hub.sio.emit("media:offer", body, to=connection_id, namespace="/meeting")

    service = MediaService(
        ice_servers=hub.settings.ice_servers,
        allow_loopback=hub.settings.media_loopback,
        on_tracks_changed=tracks_changed,
        on_active_speaker=active_speaker,
        on_offer=offer,
    )
    return service


def _offer_body(service: MediaService, meeting_id: str, participant_id: str, connection_id: str, sdp: str) -> dict:
    return {"sdp": sdp, "consumers": service.consumers(meeting_id, participant_id, connection=connection_id)}


def _media(hub: "Hub") -> MediaService:
    if hub.media is None:
        raise StateError("media is not available on this hub")
    return hub.media


def _as_hub_error(exc: MediaError) -> HubError:
    kind = {"invalid": Invalid, "not_found": NotFound, "state": StateError}.get(exc.code, Invalid)
    return kind(exc.message)


@events.on("media:publish", PublishIn, roles=PUBLISHERS)
async def publish(hub: "Hub", caller: Caller, payload: PublishIn) -> dict:
    try:
        answer = await _media(hub).publish(
            caller.meeting_id, caller.participant_id, payload.sdp, payload.sources, connection=caller.sid
        )
    except MediaError as exc:
        raise _as_hub_error(exc) from None
    return {"sdp": answer}


@events.on("media:unpublish")
async def unpublish(hub: "Hub", caller: Caller, _payload) -> None:
    await _media(hub).unpublish(caller.meeting_id, caller.participant_id, connection=caller.sid)


@events.on("media:subscribe", SubscribeIn)
async def subscribe(hub: "Hub", caller: Caller, payload: SubscribeIn) -> None:
    service = _media(hub)
    try:
        sdp = await service.subscribe(caller.meeting_id, caller.participant_id, payload.tracks, connection=caller.sid)
    except MediaError as exc:
        raise _as_hub_error(exc) from None
    if sdp is None:
        return  # nothing published yet: the first track brings a media:offer
    # To this connection only: it holds the receiving peer connection.
    await hub.sio.emit(
        "media:offer", _offer_body(service, caller.meeting_id, caller.participant_id, caller.sid, sdp),
        to=caller.sid, namespace="/meeting",
    )


@events.on("media:answer", AnswerIn)
async def answer(hub: "Hub", caller: Caller, payload: AnswerIn) -> None:
    try:
        await _media(hub).answer(caller.meeting_id, caller.participant_id, payload.sdp, connection=caller.sid)
    except MediaError as exc:
        raise _as_hub_error(exc) from None


@events.state("tracks")
async def tracks_section(hub: "Hub", caller: Caller, _session) -> list[dict]:
    return [t.to_dict() for t in hub.media.tracks(caller.meeting_id)] if hub.media else []


@events.on_leave
async def leave(hub: "Hub", caller: Caller) -> None:
    if hub.media is not None:
        # This connection's media only: the participant may already be back
        # on a new connection (a reload) that is negotiating its own.
        await hub.media.leave(caller.meeting_id, caller.participant_id, connection=caller.sid)


@events.state("media")
async def media_section(hub: "Hub", caller: Caller, _session) -> dict:
    """What the hub forwards for this caller, so a client that reconnected
    (and lost its server-side peer) knows to publish and subscribe afresh.
    `publishing` is the participant's (any connection); `consumers` counts
    this connection's."""
    if hub.media is None:
        return {"available": False, "publishing": False, "consumers": 0}
    mine = [t for t in hub.media.tracks(caller.meeting_id) if t.participant_id == caller.participant_id]
    return {
        "available": True,
        "publishing": bool(mine),
        "consumers": len(hub.media.consumers(caller.meeting_id, caller.participant_id, connection=caller.sid)),
    }
