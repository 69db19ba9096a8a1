"""Rebuild the inquiry's state from its events: a pure function.

Every inquiry transition is one `inquiry:*` event in the meeting's log; the
state at any moment is the fold of those events in seq order. Folding from a
cached state with only the newer events gives the same result, which is how
processes cache cheaply.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from sessions.inquiry.state import EMPTY, InquiryState, Stage, Timer, Topic

TOPIC_OPENED = "inquiry:topic_opened"
REPORT_STARTED = "inquiry:report_started"
GRANTED = "inquiry:granted"
ANSWER_STARTED = "inquiry:answer_started"
FOLLOW_UP = "inquiry:follow_up"
TURN_ENDED = "inquiry:turn_ended"
TOPIC_CLOSED = "inquiry:topic_closed"
HAND_RAISED = "inquiry:hand_raised"
HAND_LOWERED = "inquiry:hand_lowered"
OVERTIME = "inquiry:overtime"
FLOOR_CONTROL = "inquiry:floor_control"

TYPES: tuple[str, ...] = (
    TOPIC_OPENED, REPORT_STARTED, GRANTED, ANSWER_STARTED, FOLLOW_UP, TURN_ENDED,
    TOPIC_CLOSED, HAND_RAISED, HAND_LOWERED, OVERTIME, FLOOR_CONTROL,
)


class EventLike(Protocol):
    seq: int
    type: str
    payload: dict


def fold(events: Iterable[EventLike], start: InquiryState = EMPTY) -> InquiryState:
    state = start
    for event in events:
        if event.seq <= state.seq:
            continue  # already folded in
        state = apply(state, event.type, event.payload).with_(seq=event.seq)
    return state


def _timer(p: dict) -> Timer:
    return Timer(float(p["started_at"]), float(p["duration_s"]))


def _without(queue: tuple[str, ...], pid: str | None) -> tuple[str, ...]:
    return tuple(q for q in queue if q != pid)


def apply(state: InquiryState, type: str, p: dict) -> InquiryState:
    """One event's effect. Events were validated when appended; this trusts them."""
    if type == TOPIC_OPENED:
        topic = Topic(
            id=p["topic_id"], title=p["title"], respondents=tuple(p["respondents"]),
            report_s=float(p["report_s"]), question_s=float(p["question_s"]), answer_s=float(p["answer_s"]),
            follow_ups=int(p["follow_ups"]), allow_deputies=bool(p["allow_deputies"]), opened_at=float(p["at"]),
        )
        return state.with_(topic=topic, stage=Stage.IDLE, speaker=None, respondent=None, queue=(),
                           timer=None, overtime=False, follow_ups_left=0)
    if type == REPORT_STARTED:
        return state.with_(stage=Stage.REPORT, speaker=p["respondent"], respondent=p["respondent"],
                           timer=_timer(p), overtime=False, follow_ups_left=0)
    if type == GRANTED:
        follow_ups = state.topic.follow_ups if state.topic else 0
        return state.with_(stage=Stage.QUESTION, speaker=p["participant"], respondent=None,
                           queue=_without(state.queue, p["participant"]), timer=_timer(p), overtime=False,
                           follow_ups_left=follow_ups)
    if type == ANSWER_STARTED:
        return state.with_(stage=Stage.ANSWER, respondent=p["respondent"], timer=_timer(p), overtime=False)
    if type == FOLLOW_UP:
        return state.with_(stage=Stage.FOLLOW_UP, respondent=None, timer=_timer(p), overtime=False,
                           follow_ups_left=max(0, state.follow_ups_left - 1))
    if type == TURN_ENDED:
        return state.with_(stage=Stage.IDLE, speaker=None, respondent=None, timer=None, overtime=False,
                           follow_ups_left=0)
    if type == TOPIC_CLOSED:
        return state.with_(topic=None, stage=Stage.IDLE, speaker=None, respondent=None, queue=(),
                           timer=None, overtime=False, follow_ups_left=0)
    if type == HAND_RAISED:
        if p["participant"] in state.queue:
            return state
        return state.with_(queue=state.queue + (p["participant"],))
    if type == HAND_LOWERED:
        return state.with_(queue=_without(state.queue, p["participant"]))
    if type == OVERTIME:
        # Only the timer it was recorded for: a stale overtime changes nothing.
        if state.timer is not None and float(p["started_at"]) == state.timer.started_at:
            return state.with_(overtime=True)
        return state
    if type == FLOOR_CONTROL:
        return state.with_(floor_control=bool(p["on"]))
    return state
