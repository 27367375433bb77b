"""Word timings: the engine's one representation of when each transcript token is spoken."""

from __future__ import annotations

from dataclasses import dataclass, field

# Re-exported: the engine names the type here, the table of methods lives with the presets.
from reelflow.presets import TimingMethod

__all__ = ["TimingMethod", "WordTiming", "WordTimings"]


@dataclass(frozen=True)
class WordTiming:
    """One transcript token as the user wrote it, with its spoken interval in seconds."""

    word: str
    start_s: float
    end_s: float
    confidence: float = 1.0

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True)
class WordTimings:
    """Every token of a transcript, in order and non-overlapping, plus how they were timed."""

    words: tuple[WordTiming, ...]
    method: TimingMethod
    details: dict[str, float | int | str] = field(default_factory=dict, compare=False)

    def __len__(self) -> int:
        return len(self.words)

    @property
    def first_start_s(self) -> float:
        return self.words[0].start_s if self.words else 0.0

    @property
    def last_end_s(self) -> float:
        return self.words[-1].end_s if self.words else 0.0
