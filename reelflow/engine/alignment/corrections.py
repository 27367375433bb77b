"""Manual corrections of word timings: set some words by hand, disturb the rest as little as
possible (only the words that would now overlap move, and only as far as they must)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping

from reelflow.engine.errors import InputError
from reelflow.engine.timing import WordTiming, WordTimings

MIN_WORD_S = 0.01  # a word pushed aside keeps at least this much time


def apply_corrections(
    timings: WordTimings,
    corrections: Mapping[int, tuple[float, float]],
    *,
    duration_s: float,
) -> WordTimings:
    """Return `timings` with ``corrections`` (``index: (start_s, end_s)``) applied.

    A corrected word must satisfy ``0 <= start < end <= duration_s``, corrected words must stay
    in order, and the words between them must still fit (`MIN_WORD_S` each). Uncorrected words
    keep their times unless they would overlap a corrected word, in which case they are clipped
    or pushed just enough. Corrected words get confidence 1.0; the method is kept. Raises
    `InputError` with field ``corrections[INDEX]`` for the first offending correction.
    """
    if not math.isfinite(duration_s) or duration_s <= 0:
        raise InputError(f"duration must be positive, not {duration_s!r}", field="duration_s")
    words = list(timings.words)
    fixed = _validated(corrections, words, duration_s)
    anchors = sorted(fixed)
    for index in anchors:
        words[index] = WordTiming(words[index].word, *fixed[index], 1.0)
    bounds = [-1, *anchors, len(words)]
    for left, right in itertools.pairwise(bounds):
        lo = words[left].end_s if left >= 0 else 0.0
        hi = words[right].start_s if right < len(words) else duration_s
        words[left + 1 : right] = _fit(words[left + 1 : right], lo, hi)
    details = dict(timings.details) | {"corrected": len(fixed)}
    return WordTimings(tuple(words), timings.method, details)


def _validated(
    corrections: Mapping[int, tuple[float, float]], words: list[WordTiming], duration_s: float
) -> dict[int, tuple[float, float]]:
    if not isinstance(corrections, Mapping):
        raise InputError("must map word index to (start, end)", field="corrections")
    fixed: dict[int, tuple[float, float]] = {}
    for index in sorted(corrections, key=_sort_key):
        field = f"corrections[{index!r}]"
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(words):
            raise InputError(f"no word at index {index!r} (0 to {len(words) - 1})", field=field)
        try:
            start, end = (float(v) for v in corrections[index])
        except (TypeError, ValueError) as exc:
            raise InputError("must be a (start, end) pair of seconds", field=field) from exc
        if not (math.isfinite(start) and math.isfinite(end)):
            raise InputError("times must be finite numbers", field=field)
        if not 0.0 <= start < end <= duration_s:
            raise InputError(
                f"needs 0 <= start < end <= {duration_s:g} s, got ({start:g}, {end:g})", field=field
            )
        prev = max(fixed, default=-1)
        prev_end = fixed[prev][1] if prev >= 0 else 0.0
        room = (index - prev - 1) * MIN_WORD_S
        if start < prev_end + room - 1e-9:
            which = f"word {prev} ends" if prev >= 0 else "the audio starts"
            raise InputError(
                f"starts too early: {index - prev - 1} word(s) must fit between where {which} "
                f"({prev_end:g} s) and {start:g} s",
                field=field,
            )
        fixed[index] = (start, end)
    if fixed:
        last = max(fixed)
        if fixed[last][1] + (len(words) - last - 1) * MIN_WORD_S > duration_s + 1e-9:
            raise InputError("leaves no room for the words after it", field=f"corrections[{last}]")
    return fixed


def _sort_key(index: object) -> tuple[int, float]:
    return (0, float(index)) if isinstance(index, int) and not isinstance(index, bool) else (1, 0)


def _fit(run: list[WordTiming], lo: float, hi: float) -> list[WordTiming]:
    """Keep `run` inside [lo, hi], in order: words that already fit are left untouched."""
    out: list[WordTiming] = []
    prev_end = lo
    for k, word in enumerate(run):
        latest_end = hi - (len(run) - 1 - k) * MIN_WORD_S
        if prev_end <= word.start_s and word.end_s <= latest_end:
            out.append(word)
        else:
            start = min(max(word.start_s, prev_end), latest_end - MIN_WORD_S)
            end = min(max(word.end_s, start + MIN_WORD_S), latest_end)
            out.append(WordTiming(word.word, start, end, word.confidence))
        prev_end = out[-1].end_s
    return out
