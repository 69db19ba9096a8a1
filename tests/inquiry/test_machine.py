"""The pure parts: the rules (`decide`) and the fold that rebuilds state."""
from dataclasses import dataclass

import pytest

from sessions.errors import Forbidden, Invalid, NotFound, StateError
from sessions.inquiry import machine as m
from sessions.inquiry.fold import fold
from sessions.inquiry.minutes import build_minutes
from sessions.inquiry.state import EMPTY, Stage

ROLES = {"chair": "chair", "m1": "member", "m2": "member", "d1": "deputy", "r1": "respondent", "r2": "respondent"}


@dataclass
class Ev:
    seq: int
    type: str
    payload: dict


class Log:
    """Applies decisions as a hub would: each one an event with the next seq."""

    def __init__(self):
        self.events: list[Ev] = []
        self.state = EMPTY
        self.now = 1000.0

    def do(self, command):
        decision = m.decide(self.state, command, self.now, ROLES)
        if decision is not None:
            event = Ev(len(self.events) + 1, *decision)
            self.events.append(event)
            self.state = fold([event], self.state)
        self.now += 10
        return self.state


def test_a_turn_and_the_refusals():
    log = Log()
    with pytest.raises(StateError):
        log.do(m.Hand("m1", True))  # no topic yet
    with pytest.raises(Invalid):
        log.do(m.OpenTopic("环保", ("m1",)))  # a member is no respondent
    with pytest.raises(NotFound):
        log.do(m.OpenTopic("环保", ("nobody",)))
    s = log.do(m.OpenTopic("环保", ("r1", "r2"), question_s=60, answer_s=90, follow_ups=1, allow_deputies=False))
    assert s.topic.title == "环保" and s.stage is Stage.IDLE
    with pytest.raises(StateError):
        log.do(m.Answer("r1"))  # answering before a question
    with pytest.raises(Forbidden):
        log.do(m.Hand("r1", True))  # a respondent asks nothing
    with pytest.raises(Forbidden):
        log.do(m.Hand("d1", True))  # deputies not allowed on this topic
    log.do(m.Hand("m2", True))
    log.do(m.Hand("m1", True))
    assert log.do(m.Hand("m2", True)).queue == ("m2", "m1")  # raising twice keeps the place
    s = log.do(m.Grant("m1"))
    assert (s.stage, s.speaker, s.queue, s.follow_ups_left) == (Stage.QUESTION, "m1", ("m2",), 1)
    assert s.timer.duration_s == 60
    with pytest.raises(StateError):
        log.do(m.Grant("m2"))  # one turn at a time
    with pytest.raises(Invalid):
        log.do(m.Answer("chair"))
    s = log.do(m.Answer("r2"))
    assert (s.stage, s.respondent, s.timer.duration_s) == (Stage.ANSWER, "r2", 90)
    s = log.do(m.FollowUp())
    assert (s.stage, s.speaker, s.follow_ups_left) == (Stage.FOLLOW_UP, "m1", 0)
    log.do(m.Answer("r2"))
    with pytest.raises(StateError):
        log.do(m.FollowUp())  # none left
    s = log.do(m.EndTurn())
    assert (s.stage, s.speaker, s.timer) == (Stage.IDLE, None, None)
    with pytest.raises(StateError):
        log.do(m.EndTurn())
    s = log.do(m.CloseTopic())
    assert s.topic is None and s.queue == ()
    # Folding the whole log from nothing gives the same state as step by step.
    assert fold(log.events) == log.state


def test_overtime_counts_only_for_its_own_timer():
    log = Log()
    log.do(m.OpenTopic("t", ("r1",)))
    s = log.do(m.Grant("m1"))
    stale = Ev(99, "inquiry:overtime", {"started_at": s.timer.started_at - 1})
    assert not fold([stale], s).overtime
    due = Ev(100, "inquiry:overtime", {"started_at": s.timer.started_at})
    assert fold([due], s).overtime


def test_floor_control_allowlist():
    log = Log()
    assert log.do(m.FloorControl(True)).audio_allowlist({"chair"}) is None  # no topic: nobody is cut
    log.do(m.OpenTopic("t", ("r1",)))
    assert log.state.audio_allowlist({"chair"}) == {"chair"}
    log.do(m.Grant("m1"))
    log.do(m.Answer("r1"))
    assert log.state.audio_allowlist({"chair"}) == {"chair", "m1", "r1"}
    assert log.do(m.FloorControl(False)).audio_allowlist({"chair"}) is None


def test_minutes_from_the_log():
    log = Log()
    log.do(m.OpenTopic("t", ("r1",)))
    log.do(m.StartReport("r1"))
    log.do(m.EndTurn())
    log.do(m.Grant("m1"))
    log.do(m.Answer("r1"))
    log.do(m.FollowUp())
    log.do(m.Answer("r1"))
    log.do(m.CloseTopic())
    people = {pid: {"id": pid, "name": pid.upper(), "role": role, "site": None} for pid, role in ROLES.items()}
    [topic] = build_minutes(log.events, people, now=log.now)
    assert [(s["kind"], s["speaker"]["id"]) for s in topic["segments"]] == [
        ("report", "r1"), ("question", "m1"), ("answer", "r1"), ("follow_up", "m1"), ("answer", "r1"),
    ]
    assert all(s["duration_s"] == 10 for s in topic["segments"])
    assert topic["closed_at"] is not None
