"""Recording on Socket.IO.

Contract events: `recording:start`, `recording:stop` (chair, clerk); broadcast
`recording:state`; `state:sync` key `recording`. Extensions:
- `recording:state` and the `state:sync` section also carry `started_at`
  and `error` (null, or `{code, message}` when writing failed and the
  recording stopped itself: `io`).
- Starting while a recording runs, or stopping while none does, is `state`.
- The ack of `recording:stop` comes once this process's files are final and
  `timeline.jsonl` is written; other processes finalize theirs within a
  second (recordings/recorder.py).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from recordings import service
from sessions.roles import OPERATORS
from signaling.registry import Caller, Events

if TYPE_CHECKING:
    from signaling.hub import Hub

events = Events()


@events.on("recording:start", roles=OPERATORS)
async def start(hub: "Hub", caller: Caller, _payload) -> dict:
    return {"recording_id": await hub.recordings.start_recording(caller.meeting_id, caller.participant_id)}


@events.on("recording:stop", roles=OPERATORS)
async def stop(hub: "Hub", caller: Caller, _payload) -> dict:
    return {"recording_id": await hub.recordings.stop_recording(caller.meeting_id, caller.participant_id)}


@events.state("recording")
async def recording_state(hub: "Hub", caller: Caller, session) -> dict:
    return service.state_of(await service.latest(session, caller.meeting_id))
