"""`state:sync`: everything a late joiner needs, gathered from every feature."""
from __future__ import annotations

from typing import TYPE_CHECKING

from sessions import directory, events as event_log, presence
from signaling.registry import Caller, Events

if TYPE_CHECKING:
    from signaling.hub import Hub

events = Events()


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
            "roster": await presence.roster_of(session, caller.meeting_id, hub.people),
            "inquiry": None,
            "vote": None,
            "document": None,
            "tracks": [],
            "ice_servers": hub.settings.ice_servers,
        }
        for feature in hub.features:
            for key, section in feature.sections.items():
                answer[key] = await section(hub, caller, session)
    return answer
