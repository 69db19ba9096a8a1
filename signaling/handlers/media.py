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

from media.service import MediaError
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


def _as_hub_error(exc: MediaError) -> HubError:
    kind = {"invalid": Invalid, "not_found": NotFound, "state": StateError}.get(exc.code, Invalid)
    return kind(exc.message)


@events.on("media:publish", PublishIn, roles=PUBLISHERS)
async def publish(hub: "Hub", caller: Caller, payload: PublishIn) -> dict:
    try:
        answer = await hub.media.publish(
            caller.meeting_id, caller.participant_id, payload.sdp, payload.sources, connection=caller.sid
        )
    except MediaError as exc:
        raise _as_hub_error(exc) from None
    return {"sdp": answer}


@events.on("media:unpublish")
async def unpublish(hub: "Hub", caller: Caller, _payload) -> None:
    await hub.media.unpublish(caller.meeting_id, caller.participant_id, connection=caller.sid)


@events.on("media:subscribe", SubscribeIn)
async def subscribe(hub: "Hub", caller: Caller, payload: SubscribeIn) -> None:
    if hub.cascade is not None and payload.tracks != "all":
        # Tracks published through other processes are piped in first.
        await hub.cascade.ensure(caller.meeting_id, payload.tracks)
    try:
        sdp = await hub.media.subscribe(caller.meeting_id, caller.participant_id, payload.tracks, connection=caller.sid)
    except MediaError as exc:
        raise _as_hub_error(exc) from None
    if hub.cascade is not None:
        hub.cascade.reconcile_soon(caller.meeting_id)  # "all" follows tracks of every process
    if sdp is None:
        return  # nothing published yet: the first track brings a media:offer
    await hub.send_offer(caller.meeting_id, caller.participant_id, caller.sid, sdp)


@events.on("media:answer", AnswerIn)
async def answer(hub: "Hub", caller: Caller, payload: AnswerIn) -> None:
    try:
        await hub.media.answer(caller.meeting_id, caller.participant_id, payload.sdp, connection=caller.sid)
    except MediaError as exc:
        raise _as_hub_error(exc) from None


@events.state("tracks")
async def tracks_section(hub: "Hub", caller: Caller, _session) -> list[dict]:
    return await hub.tracks(caller.meeting_id)


@events.on_leave
async def leave(hub: "Hub", caller: Caller) -> None:
    # This connection's media only: the participant may already be back
    # on a new connection (a reload) that is negotiating its own.
    await hub.media.leave(caller.meeting_id, caller.participant_id, connection=caller.sid)


@events.state("media")
async def media_section(hub: "Hub", caller: Caller, _session) -> dict:
    """What the hub forwards for this caller, so a client that reconnected
    (and lost its server-side peer) knows to publish and subscribe afresh.
    `publishing` is the participant's (any connection); `consumers` counts
    this connection's."""
    mine = [t for t in await hub.tracks(caller.meeting_id) if t["participant_id"] == caller.participant_id]
    return {
        "available": True,
        "publishing": bool(mine),
        "consumers": len(hub.media.consumers(caller.meeting_id, caller.participant_id, connection=caller.sid)),
    }
