"""The inquiry's state as plain values: what `fold` builds and clients see."""
from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum


class Stage(StrEnum):
    IDLE = "idle"
    REPORT = "report"
    QUESTION = "question"
    ANSWER = "answer"
    FOLLOW_UP = "follow_up"


# Stages that hold the floor and run a timer.
TIMED_STAGES = frozenset({Stage.REPORT, Stage.QUESTION, Stage.ANSWER, Stage.FOLLOW_UP})


@dataclass(frozen=True)
class Topic:
    id: str
    title: str
    respondents: tuple[str, ...]
    report_s: float
    question_s: float
    answer_s: float
    follow_ups: int
    allow_deputies: bool
    opened_at: float

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "title": self.title,
            "respondents": list(self.respondents),
            "report_s": self.report_s,
            "question_s": self.question_s,
            "answer_s": self.answer_s,
            "follow_ups": self.follow_ups,
            "allow_deputies": self.allow_deputies,
            "opened_at": self.opened_at,
        }


@dataclass(frozen=True)
class Timer:
    started_at: float  # epoch seconds, the server's clock
    duration_s: float

    @property
    def ends_at(self) -> float:
        return self.started_at + self.duration_s

    def to_dict(self) -> dict:
        return {"started_at": self.started_at, "duration_s": self.duration_s}


@dataclass(frozen=True)
class InquiryState:
    seq: int = 0  # seq of the last inquiry event folded in
    topic: Topic | None = None
    stage: Stage = Stage.IDLE
    # The floor holder: the reporting department during a report, the
    # member or deputy who was granted the turn during question/answer/follow-up.
    speaker: str | None = None
    # The department answering (answer) or reporting (report); else None.
    respondent: str | None = None
    queue: tuple[str, ...] = ()
    timer: Timer | None = None
    overtime: bool = False
    floor_control: bool = False
    follow_ups_left: int = 0

    def with_(self, **changes) -> "InquiryState":
        return replace(self, **changes)

    @property
    def spotlight(self) -> str | None:
        """Who talks now: the department in report/answer, else the floor holder."""
        if self.stage in (Stage.REPORT, Stage.ANSWER):
            return self.respondent
        return self.speaker

    def audio_allowlist(self, chair_ids: set[str]) -> set[str] | None:
        """Whose microphones the SFU forwards; None means everyone's."""
        if not self.floor_control or self.topic is None:
            return None
        allowed = set(chair_ids)
        allowed.update(p for p in (self.speaker, self.respondent) if p)
        return allowed

    def to_dict(self, server_time: float) -> dict:
        return {
            "topic": self.topic.to_dict() if self.topic else None,
            "stage": self.stage.value,
            "speaker": self.speaker,
            "respondent": self.respondent,
            "spotlight": self.spotlight,
            "queue": list(self.queue),
            "timer": self.timer.to_dict() if self.timer else None,
            "server_time": server_time,
            "overtime": self.overtime,
            "floor_control": self.floor_control,
            "follow_ups_left": self.follow_ups_left,
        }


EMPTY = InquiryState()
