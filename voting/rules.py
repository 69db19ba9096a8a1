"""The counting rules: pure functions over counts, no database.

With the default options (满意 / 基本满意 / 不满意, in any order) the verdict
is the contract's: 满意 when 满意 alone is more than half of the base, else
基本满意 when 满意 + 基本满意 is more than half, else 不满意. Exactly half is
not more than half. `satisfaction_rate` = (满意 + 基本满意) / cast, or None
when nothing was cast (there is no rate of zero ballots).

With other options (an extension) the verdict is the option whose count is
more than half of the base, else None; `satisfaction_rate` is None.

`valid` says whether more than half of the eligible voted.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

SATISFIED = "满意"
BASICALLY_SATISFIED = "基本满意"
DISSATISFIED = "不满意"
DEFAULT_OPTIONS: tuple[str, ...] = (SATISFIED, BASICALLY_SATISFIED, DISSATISFIED)


class CountingBase(StrEnum):
    ELIGIBLE = "eligible"  # all entitled voters of the meeting (the default)
    PRESENT = "present"  # entitled and online when the vote opened
    CAST = "cast"  # those who voted


@dataclass(frozen=True)
class Tally:
    counts: dict[str, int]
    cast: int
    eligible: int
    present: int
    base: CountingBase
    verdict: str | None
    satisfaction_rate: float | None
    valid: bool

    def to_dict(self) -> dict:
        return {
            "counts": dict(self.counts),
            "cast": self.cast,
            "eligible": self.eligible,
            "present": self.present,
            "base": self.base.value,
            "verdict": self.verdict,
            "satisfaction_rate": self.satisfaction_rate,
            "valid": self.valid,
        }


def is_default(options: list[str] | tuple[str, ...]) -> bool:
    return len(options) == len(DEFAULT_OPTIONS) and set(options) == set(DEFAULT_OPTIONS)


def more_than_half(part: int, whole: int) -> bool:
    # Integers only: 2 * part > whole has no rounding, and exactly half fails.
    return 2 * part > whole


def base_size(base: CountingBase, *, cast: int, eligible: int, present: int) -> int:
    return {CountingBase.ELIGIBLE: eligible, CountingBase.PRESENT: present, CountingBase.CAST: cast}[base]


def tally(
    options: list[str], choices: list[str], *, eligible: int, present: int, base: CountingBase
) -> Tally:
    """Count `choices` (one per counted ballot) and apply the verdict rule."""
    counts = {option: 0 for option in options}
    for choice in choices:
        if choice not in counts:
            raise ValueError(f"ballot for unknown option {choice!r}")
        counts[choice] += 1
    cast = len(choices)
    of = base_size(base, cast=cast, eligible=eligible, present=present)
    if is_default(options):
        satisfied = counts[SATISFIED]
        at_least_basic = satisfied + counts[BASICALLY_SATISFIED]
        if more_than_half(satisfied, of):
            verdict: str | None = SATISFIED
        elif more_than_half(at_least_basic, of):
            verdict = BASICALLY_SATISFIED
        else:
            verdict = DISSATISFIED
        rate = at_least_basic / cast if cast else None
    else:
        verdict = next((o for o in options if more_than_half(counts[o], of)), None)
        rate = None
    return Tally(counts, cast, eligible, present, base, verdict, rate, more_than_half(cast, eligible))
