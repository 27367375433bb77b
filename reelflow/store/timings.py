"""Word timings as stored in a project: JSON in and out, checked against the transcript.

Stored shape (one JSON column)::

    {"method": "aligned", "duration_s": 12.3, "details": {...},
     "words": [{"word": "Hello", "start_s": 0.1, "end_s": 0.4, "confidence": 0.9}, ...],
     "corrections": {"3": [1.2, 1.5]}}

``corrections`` keeps what the user set by hand, so a later re-alignment can re-apply it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from reelflow.engine.errors import InputError
from reelflow.engine.timing import WordTiming, WordTimings
from reelflow.presets import TIMING_METHODS


def to_json(
    timings: WordTimings,
    *,
    duration_s: float,
    corrections: Mapping[int, Sequence[float]] | None = None,
) -> dict[str, Any]:
    """The stored form of `timings` for audio of `duration_s` seconds."""
    corrections = corrections or {}
    return {
        "method": timings.method,
        "duration_s": duration_s,
        "details": dict(timings.details),
        "words": [
            {"word": w.word, "start_s": w.start_s, "end_s": w.end_s, "confidence": w.confidence}
            for w in timings.words
        ],
        "corrections": {str(k): [float(v[0]), float(v[1])] for k, v in corrections.items()},
    }


def from_json(data: Mapping[str, Any] | None) -> WordTimings | None:
    """The engine's `WordTimings` from the stored form (None when nothing is stored)."""
    if not data:
        return None
    words = tuple(
        WordTiming(w["word"], float(w["start_s"]), float(w["end_s"]), float(w["confidence"]))
        for w in data["words"]
    )
    return WordTimings(words, data["method"], dict(data.get("details") or {}))


def stored_corrections(data: Mapping[str, Any] | None) -> dict[int, tuple[float, float]]:
    """The hand corrections recorded with stored timings, keyed by word index."""
    raw = (data or {}).get("corrections") or {}
    return {int(k): (float(v[0]), float(v[1])) for k, v in raw.items()}


def check_timings(timings: WordTimings, tokens: Sequence[str], *, duration_s: float) -> None:
    """Raise `InputError` unless `timings` fit `tokens` and ``[0, duration_s]``, in order.

    One timing per token, each ``0 <= start < end <= duration_s`` and no word starting before the
    previous one ends. (The aligner guarantees this; the store checks because it is a boundary.)
    """
    field = "word_timings"
    if timings.method not in TIMING_METHODS:
        raise InputError(f"unknown timing method {timings.method!r}", field=field)
    if not math.isfinite(duration_s) or duration_s <= 0:
        raise InputError(f"audio duration must be positive, not {duration_s!r}", field=field)
    if len(timings.words) != len(tokens):
        raise InputError(
            f"{len(timings.words)} timings for {len(tokens)} transcript words", field=field
        )
    prev_end = 0.0
    slack = 1e-6  # float noise from JSON round trips
    for i, word in enumerate(timings.words):
        where = f"{field}[{i}]"
        if not (math.isfinite(word.start_s) and math.isfinite(word.end_s)):
            raise InputError("times must be finite numbers", field=where)
        if not 0.0 <= word.start_s < word.end_s <= duration_s + slack:
            raise InputError(
                f"needs 0 <= start < end <= {duration_s:g} s, "
                f"got ({word.start_s:g}, {word.end_s:g})",
                field=where,
            )
        if word.start_s < prev_end - slack:
            raise InputError(
                f"starts at {word.start_s:g} s, before word {i - 1} ends ({prev_end:g} s)",
                field=where,
            )
        prev_end = word.end_s


def parse_corrections(corrections: Mapping[Any, Any]) -> dict[Any, Any]:
    """Turn JSON keys (``"3"``) into word indices; anything else is left for the validator."""
    if not isinstance(corrections, Mapping):
        raise InputError("must map word index to [start_s, end_s]", field="corrections")
    if not corrections:
        raise InputError("no corrections given", field="corrections")
    parsed: dict[Any, Any] = {}
    for key, value in corrections.items():
        index = int(key) if isinstance(key, str) and key.strip().isdigit() else key
        parsed[index] = value
    return parsed


def apply(
    timings: WordTimings, corrections: Mapping[Any, Any], *, duration_s: float
) -> WordTimings:
    """Apply hand corrections with the alignment module's validated `apply_corrections`."""
    # Imported here: the alignment module pulls in the speech recogniser, which the store and
    # the API process do not otherwise need.
    from reelflow.engine.alignment.align import apply_corrections

    return apply_corrections(timings, parse_corrections(corrections), duration_s=duration_s)
