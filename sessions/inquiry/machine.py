"""The inquiry's rules: given the state and a command, the event to append.

Pure functions over plain values. They refuse what the stage does not allow
(`StateError`) and what the role does not allow (`Forbidden`); the service
looks up the participants a command names and passes their roles in.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sessions.errors import Forbidden, Invalid, NotFound, StateError
from sessions.inquiry import fold as ev
from sessions.inquiry.state import TIMED_STAGES, InquiryState, Stage
from sessions.models import new_id
from sessions.roles import Role

# The hub's defaults when open_topic names no durations (seconds).
DEFAULT_REPORT_S = 600.0
DEFAULT_QUESTION_S = 180.0
DEFAULT_ANSWER_S = 300.0
DEFAULT_FOLLOW_UPS = 1

ASKERS = frozenset({Role.MEMBER.value, Role.DEPUTY.value})


@dataclass(frozen=True)
class OpenTopic:
    title: str
    respondents: tuple[str, ...]
    report_s: float = DEFAULT_REPORT_S
    question_s: float = DEFAULT_QUESTION_S
    answer_s: float = DEFAULT_ANSWER_S
    follow_ups: int = DEFAULT_FOLLOW_UPS
    allow_deputies: bool = True


@dataclass(frozen=True)
class StartReport:
    respondent: str


@dataclass(frozen=True)
class Grant:
    participant: str


@dataclass(frozen=True)
class Answer:
    respondent: str


@dataclass(frozen=True)
class FollowUp:
    pass


@dataclass(frozen=True)
class EndTurn:
    pass


@dataclass(frozen=True)
class CloseTopic:
    pass


@dataclass(frozen=True)
class FloorControl:
    on: bool


@dataclass(frozen=True)
class Hand:
    participant: str
    raise_: bool


Command = OpenTopic | StartReport | Grant | Answer | FollowUp | EndTurn | CloseTopic | FloorControl | Hand
Decision = tuple[str, dict] | None  # (event type, payload), or None when nothing changes


def named_participants(command: Command) -> tuple[str, ...]:
    """The participant ids the service must resolve (role) before `decide`."""
    match command:
        case OpenTopic(respondents=r):
            return r
        case StartReport(respondent=r) | Answer(respondent=r):
            return (r,)
        case Grant(participant=p) | Hand(participant=p):
            return (p,)
    return ()


def decide(state: InquiryState, command: Command, now: float, roles: Mapping[str, str]) -> Decision:
    """`roles`: participant id → role for each id of `named_participants` that
    belongs to this meeting (ids missing from it are unknown here)."""
    for pid in named_participants(command):
        if pid not in roles:
            raise NotFound(f"no participant {pid} in this meeting")
    match command:
        case OpenTopic():
            return _open_topic(state, command, now, roles)
        case StartReport(respondent=r):
            _need_topic(state)
            _need_stage(state, {Stage.IDLE}, "start a report")
            _need_respondent_of_topic(state, r)
            return ev.REPORT_STARTED, {"respondent": r, "started_at": now, "duration_s": state.topic.report_s}
        case Grant(participant=p):
            _need_topic(state)
            _need_stage(state, {Stage.IDLE}, "grant the floor")
            _need_asker(state, roles[p], "take the floor")
            return ev.GRANTED, {"participant": p, "started_at": now, "duration_s": state.topic.question_s}
        case Answer(respondent=r):
            _need_topic(state)
            _need_stage(state, {Stage.QUESTION, Stage.FOLLOW_UP}, "answer (there is no question to answer)")
            _need_respondent_of_topic(state, r)
            return ev.ANSWER_STARTED, {"respondent": r, "started_at": now, "duration_s": state.topic.answer_s}
        case FollowUp():
            _need_topic(state)
            _need_stage(state, {Stage.ANSWER}, "follow up (follow-ups come after an answer)")
            if state.follow_ups_left <= 0:
                raise StateError("no follow-up is left in this turn")
            return ev.FOLLOW_UP, {"participant": state.speaker, "started_at": now, "duration_s": state.topic.question_s}
        case EndTurn():
            _need_topic(state)
            _need_stage(state, TIMED_STAGES, "end a turn (no turn is running)")
            return ev.TURN_ENDED, {"stage": state.stage.value, "at": now}
        case CloseTopic():
            _need_topic(state)
            # Closing mid-turn ends that turn too: the chair has the last word.
            return ev.TOPIC_CLOSED, {"topic_id": state.topic.id, "stage": state.stage.value, "at": now}
        case FloorControl(on=on):
            if on == state.floor_control:
                return None
            return ev.FLOOR_CONTROL, {"on": on, "at": now}
        case Hand(participant=p, raise_=up):
            return _hand(state, p, up, roles[p], now)
    raise Invalid("unknown inquiry command")


def _open_topic(state: InquiryState, c: OpenTopic, now: float, roles: Mapping[str, str]) -> Decision:
    if state.topic is not None:
        raise StateError("a topic is already open; close it first")
    if not c.respondents:
        raise Invalid("a topic needs at least one respondent department")
    if len(set(c.respondents)) != len(c.respondents):
        raise Invalid("respondents are named twice")
    for pid in c.respondents:
        if roles[pid] != Role.RESPONDENT.value:
            raise Invalid(f"participant {pid} is a {roles[pid]}, not a respondent")
    return ev.TOPIC_OPENED, {
        "topic_id": new_id(), "title": c.title, "respondents": list(c.respondents),
        "report_s": c.report_s, "question_s": c.question_s, "answer_s": c.answer_s,
        "follow_ups": c.follow_ups, "allow_deputies": c.allow_deputies, "at": now,
    }


def _hand(state: InquiryState, pid: str, up: bool, role: str, now: float) -> Decision:
    if not up:
        if pid not in state.queue:
            return None
        return ev.HAND_LOWERED, {"participant": pid, "at": now}
    _need_topic(state)
    _need_asker(state, role, "raise a hand")
    if pid in state.queue:
        return None
    if pid == state.speaker and state.stage in TIMED_STAGES:
        raise StateError("you hold the floor already")
    return ev.HAND_RAISED, {"participant": pid, "at": now}


def _need_topic(state: InquiryState) -> None:
    if state.topic is None:
        raise StateError("no topic is open")


def _need_stage(state: InquiryState, allowed: set[Stage] | frozenset[Stage], what: str) -> None:
    if state.stage not in allowed:
        raise StateError(f"cannot {what} during {state.stage.value}")


def _need_respondent_of_topic(state: InquiryState, pid: str) -> None:
    if pid not in state.topic.respondents:
        raise Invalid(f"participant {pid} is not a respondent of this topic")


def _need_asker(state: InquiryState, role: str, what: str) -> None:
    if role not in ASKERS:
        raise Forbidden(f"a {role} may not {what}")
    if role == Role.DEPUTY.value and not state.topic.allow_deputies:
        raise Forbidden(f"deputies may not {what} on this topic")
