"""Socket.IO edge of the live special inquiry (专题询问).

Contract events (docs/contract.md, "Live special inquiry"):
`inquiry:hand`, `inquiry:command`, broadcast `inquiry:state`.

Extensions to the contract (for the project's protocol document):
- `inquiry:command` `open_topic` also takes `report_s`, `question_s`,
  `answer_s` (seconds, > 0, ≤ 14400), `follow_ups` (0–20, follow-ups per
  turn; hub default 1) and `allow_deputies` (default true; when false a
  deputy's `inquiry:hand` and a `grant` to a deputy are `forbidden`).
- `inquiry:command` `floor_control {on: bool}`: with it on, the SFU forwards
  only the microphones of the meeting's chairs, the floor holder (`speaker`)
  and the answering or reporting department (`respondent`).
- `inquiry:command` and `inquiry:hand` acks carry `seq` when the command
  changed the state (absent when it changed nothing, e.g. raising a hand
  that is already raised).
- `inquiry:state` also carries `overtime` (the running timer ran out: an
  event, not a cut; the chair decides), `floor_control`, `follow_ups_left`
  (follow-ups left in this turn) and `spotlight` (who talks now: the
  department in report/answer, else the floor holder). `topic` is
  `{id, title, respondents, report_s, question_s, answer_s, follow_ups,
  allow_deputies, opened_at}` or null; `timer` is null when no timer runs.
  `started_at`, `opened_at` and `server_time` are epoch seconds (float):
  remaining = duration_s - (now + (server_time - local time at receipt) - started_at).
- `state:sync` answers the same object under `inquiry`, with `seq` being
  the seq of the last inquiry event.
- Refusals: a stage that does not allow the command → `state`; a role that
  does not → `forbidden`; a named participant not in the meeting →
  `not_found`; a respondent not of the topic, or not a respondent → `invalid`.
- Who answers a follow-up: after `follow_up` the chair issues `answer
  {respondent}` again. `close_topic` is allowed mid-turn and ends the turn.
- A member's or deputy's raised hand is lowered when their last connection
  leaves, or when the process holding it dies (`on_lost`, run by the
  process that finds its heartbeat stopped).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal, Union

from pydantic import Field, RootModel

from sessions import presence
from sessions.errors import StateError
from sessions.inquiry import machine as m
from sessions.inquiry.runtime import state_body
from sessions.roles import OPERATORS, Role
from sessions.text import Bool, Id, Int, Line, Number
from signaling.registry import Caller, Events, Payload

if TYPE_CHECKING:
    from signaling.hub import Hub

events = Events()

ParticipantId = Id
Seconds = Annotated[Number, Field(gt=0, le=14400)]


class OpenTopicIn(Payload):
    action: Literal["open_topic"]
    title: Line = Field(min_length=1, max_length=300)
    respondents: list[ParticipantId] = Field(min_length=1, max_length=50)
    report_s: Seconds | None = None
    question_s: Seconds | None = None
    answer_s: Seconds | None = None
    follow_ups: Int | None = Field(default=None, ge=0, le=20)
    allow_deputies: Bool = True


class StartReportIn(Payload):
    action: Literal["start_report"]
    respondent: ParticipantId


class GrantIn(Payload):
    action: Literal["grant"]
    participant: ParticipantId


class AnswerIn(Payload):
    action: Literal["answer"]
    respondent: ParticipantId


class FollowUpIn(Payload):
    action: Literal["follow_up"]


class EndTurnIn(Payload):
    action: Literal["end_turn"]


class CloseTopicIn(Payload):
    action: Literal["close_topic"]


class FloorControlIn(Payload):
    action: Literal["floor_control"]
    on: Bool


CommandUnion = Annotated[
    Union[OpenTopicIn, StartReportIn, GrantIn, AnswerIn, FollowUpIn, EndTurnIn, CloseTopicIn, FloorControlIn],
    Field(discriminator="action"),
]


class CommandIn(RootModel[CommandUnion]):
    pass


class HandIn(Payload):
    raise_: Bool = Field(alias="raise")


def to_command(payload: CommandUnion) -> m.Command:
    match payload:
        case OpenTopicIn():
            return m.OpenTopic(
                title=payload.title,
                respondents=tuple(payload.respondents),
                report_s=payload.report_s or m.DEFAULT_REPORT_S,
                question_s=payload.question_s or m.DEFAULT_QUESTION_S,
                answer_s=payload.answer_s or m.DEFAULT_ANSWER_S,
                follow_ups=m.DEFAULT_FOLLOW_UPS if payload.follow_ups is None else payload.follow_ups,
                allow_deputies=payload.allow_deputies,
            )
        case StartReportIn():
            return m.StartReport(payload.respondent)
        case GrantIn():
            return m.Grant(payload.participant)
        case AnswerIn():
            return m.Answer(payload.respondent)
        case FollowUpIn():
            return m.FollowUp()
        case EndTurnIn():
            return m.EndTurn()
        case CloseTopicIn():
            return m.CloseTopic()
        case FloorControlIn():
            return m.FloorControl(payload.on)
    raise AssertionError(payload)


async def run(hub: "Hub", meeting_id: str, command: m.Command, actor_id: str) -> dict:
    logged = await hub.inquiry.run(meeting_id, command, actor_id)
    return {} if logged is None else {"seq": logged.seq}


# -- events ---------------------------------------------------------------------


@events.on("inquiry:command", CommandIn, roles=OPERATORS)
async def inquiry_command(hub: "Hub", caller: Caller, payload: CommandIn) -> dict:
    return await run(hub, caller.meeting_id, to_command(payload.root), caller.participant_id)


@events.on("inquiry:hand", HandIn, roles={Role.MEMBER, Role.DEPUTY})
async def inquiry_hand(hub: "Hub", caller: Caller, payload: HandIn) -> dict:
    return await run(hub, caller.meeting_id, m.Hand(caller.participant_id, payload.raise_), caller.participant_id)


@events.state("inquiry")
async def inquiry_state(hub: "Hub", caller: Caller, session) -> dict:
    state = await hub.inquiry.service.state_in(session, caller.meeting_id)
    return {"seq": state.seq, **state_body(state)}


@events.on_leave
@events.on_lost
async def lower_hand_on_leave(hub: "Hub", caller: Caller) -> None:
    if caller.role not in (Role.MEMBER, Role.DEPUTY):
        return
    async with hub.db.read() as session:
        # This connection's row is gone before leave hooks run.
        if await presence.connection_count(session, caller.participant_id) > 0:
            return
    state = await hub.inquiry.current(caller.meeting_id)
    if caller.participant_id in state.queue:
        await run(hub, caller.meeting_id, m.Hand(caller.participant_id, False), caller.participant_id)


@events.on_close
async def close_topic_with_meeting(hub: "Hub", meeting_id: str, closed_by: str | None) -> None:
    # The running turn ends with the topic, so no timer outlives the meeting
    # and the minutes end where the meeting did.
    state = await hub.inquiry.current(meeting_id)
    if state.topic is None:
        return
    try:
        await hub.inquiry.run(meeting_id, m.CloseTopic(), closed_by)
    except StateError:
        pass  # the chair closed it in the same moment
