"""`state:sync` and the roster."""
from __future__ import annotations

from typing import TYPE_CHECKING

from sessions import directory, events as event_log, presence
from signaling.registry import Caller, Events

if TYPE_CHECKING:
    from signaling.hub import Hub

events = Events()


async def roster_of(session, meeting_id: str) -> list[dict]:
    online = await presence.online_ids(session, meeting_id)
    return [{**p.to_dict(), "online": p.id in online} for p in await directory.participants_of(session, meeting_id)]


# Joins come in storms (a hall of 40 at the opening bell); one roster per
# client per quarter second is plenty.
ROSTER_DEBOUNCE_S = 0.25


def request_roster(hub: "Hub", meeting_id: str) -> None:
    hub.debounce(f"roster:{meeting_id}", ROSTER_DEBOUNCE_S, lambda: broadcast_roster(hub, meeting_id))


async def broadcast_roster(hub: "Hub", meeting_id: str) -> None:
    # Roster and seq in one transaction: a client that compares seqs never
    # sees an older roster carry a newer number.
    async with hub.db.transaction() as tx:
        participants = await roster_of(tx, meeting_id)
        logged = await event_log.append(
            tx, meeting_id, "roster", {"online": sorted(p["id"] for p in participants if p["online"])}
        )
    await hub.publish(logged, {"participants": participants})


@events.on_lost
async def roster_after_loss(hub: "Hub", caller: Caller) -> None:
    # A process died with this connection: its row is gone, so the roster
    # shows the participant offline (one roster per meeting: debounced).
    request_roster(hub, caller.meeting_id)


@events.on("state:sync")
async def state_sync(hub: "Hub", caller: Caller, _payload) -> dict:
    async with hub.db.read() as session:
        seq = await event_log.current_seq(session, caller.meeting_id)
        meeting = await directory.get_meeting(session, caller.meeting_id)
        me = await directory.get_participant(session, caller.participant_id)
        answer: dict = {
            "seq": seq,
            "meeting": directory.meeting_dict(meeting),
            "me": me.to_dict(),
            "roster": await roster_of(session, caller.meeting_id),
            "inquiry": None,
            "vote": None,
            "document": None,
            "recording": {"recording": False, "recording_id": None},
            "tracks": [],
            "ice_servers": hub.settings.ice_servers,
        }
        for feature in hub.features:
            for key, section in feature.sections.items():
                answer[key] = await section(hub, caller, session)
    return answer
