"""Active-speaker detection from RFC 6464 audio levels, with hysteresis.

Levels arrive as -dBov (0 = loudest, 127 = silence).  The detector is fed
one averaged level per producer per tick by the router; it never runs on
the per-packet path."""

from __future__ import annotations

from dataclasses import dataclass, field

# A producer "speaks" in a tick if its average level is louder than this.
SPEAKING_LEVEL = 60
# Ticks a challenger must stay loudest before it takes over (no flicker).
SWITCH_TICKS = 4
# Ticks of silence before the current speaker is dropped to None.
SILENCE_TICKS = 15


@dataclass
class ActiveSpeakerDetector:
    speaking_level: int = SPEAKING_LEVEL
    switch_ticks: int = SWITCH_TICKS
    silence_ticks: int = SILENCE_TICKS
    current: str | None = None
    _candidate: str | None = None
    _candidate_ticks: int = 0
    _silent_ticks: int = 0
    _scores: dict[str, float] = field(default_factory=dict)

    def update(self, levels: dict[str, int]) -> str | None:
        """Feed one tick: participant id -> average -dBov this tick (missing =
        silent).  Returns the current speaker (None = nobody); callers compare
        with the previous value to see a change."""
        # Smooth loudness (0..127, higher = louder) so one loud packet burst
        # does not win against someone talking steadily.
        for pid in list(self._scores):
            if pid not in levels:
                self._scores[pid] *= 0.5
                if self._scores[pid] < 1:
                    del self._scores[pid]
        for pid, level in levels.items():
            loud = max(0, 127 - level) if level <= self.speaking_level else 0
            prev = self._scores.get(pid, 0.0)
            self._scores[pid] = 0.6 * prev + 0.4 * loud
        loudest = max(self._scores, key=self._scores.__getitem__, default=None)
        threshold = 127 - self.speaking_level
        if loudest is not None and self._scores[loudest] < threshold * 0.5:
            loudest = None

        if loudest is None:
            self._candidate, self._candidate_ticks = None, 0
            if self.current is not None:
                self._silent_ticks += 1
                if self._silent_ticks >= self.silence_ticks:
                    self.current = None
                    self._silent_ticks = 0
            return self.current
        self._silent_ticks = 0
        if loudest == self.current:
            self._candidate, self._candidate_ticks = None, 0
            return self.current
        if self.current is None:
            self.current = loudest
            return self.current
        # A challenger must be clearly louder for several consecutive ticks.
        if self._scores[loudest] > self._scores.get(self.current, 0.0) * 1.2:
            if loudest == self._candidate:
                self._candidate_ticks += 1
            else:
                self._candidate, self._candidate_ticks = loudest, 1
            if self._candidate_ticks >= self.switch_ticks:
                self.current = loudest
                self._candidate, self._candidate_ticks = None, 0
        else:
            self._candidate, self._candidate_ticks = None, 0
        return self.current

    def forget(self, participant_id: str) -> None:
        """The participant's audio is gone: a speaker who left is not kept on
        screen for the silence timeout."""
        self._scores.pop(participant_id, None)
        if self._candidate == participant_id:
            self._candidate, self._candidate_ticks = None, 0
        if self.current == participant_id:
            self.current = None
            self._silent_ticks = 0
