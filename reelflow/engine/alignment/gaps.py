"""Timings for tokens the aligner did not place, so every token still gets exactly one.

Two kinds of holes: a token read as nothing ("#", an emoji-only piece) shares the interval of
its neighbour; a run of tokens the aligner could not place (the transcript goes on after the
speech stops, a window failed) is laid across the time between its aligned neighbours in
proportion to syllables, over the speech found there, and marked with a low confidence.
"""

from __future__ import annotations

from collections.abc import Sequence

from reelflow.engine.alignment.estimate import ESTIMATE_CONFIDENCE, distribute
from reelflow.engine.audio import Segment
from reelflow.engine.text import syllable_weight
from reelflow.engine.timing import WordTiming

MIN_ESTIMATE_S = 0.08  # a run squeezed below this per token borrows its neighbours' time
SHARED_CONFIDENCE_FACTOR = 0.5
MIN_SPEECH_S = 0.05


def fill(
    tokens: Sequence[str],
    times: Sequence[tuple[float, float] | None],
    confidence: Sequence[float],
    *,
    unspoken: Sequence[bool],
    speech: Sequence[Segment],
    duration_s: float,
) -> tuple[tuple[WordTiming, ...], int]:
    """One `WordTiming` per token; returns them and how many tokens had to be estimated."""
    placed: list[WordTiming | None] = [
        None if t is None else WordTiming(tok, t[0], t[1], c)
        for tok, t, c in zip(tokens, times, confidence, strict=True)
    ]
    estimated = 0
    i = 0
    while i < len(placed):
        if placed[i] is not None:
            i += 1
            continue
        j = i
        while j < len(placed) and placed[j] is None:
            j += 1
        if not (j - i == 1 and unspoken[i] and _share(placed, tokens, i)):
            estimated += _estimate_run(placed, tokens, i, j, speech, duration_s)
        i = j
    words = tuple(w for w in placed if w is not None)
    if len(words) != len(tokens):  # cannot happen: every branch above fills its hole
        raise AssertionError("a token was left without a timing")
    return words, estimated


def _share(placed: list[WordTiming | None], tokens: Sequence[str], i: int) -> bool:
    """Split a neighbour's interval with unspoken token i (the next word, else the previous)."""
    for k in (i + 1, i - 1):
        other = placed[k] if 0 <= k < len(placed) else None
        if other is None:
            continue
        w_self, w_other = syllable_weight(tokens[i]), syllable_weight(other.word)
        first_share = (w_self if k > i else w_other) / (w_self + w_other)
        cut = round(other.start_s + other.duration_s * first_share, 4)
        shared = other.confidence * SHARED_CONFIDENCE_FACTOR
        first, second = (i, k) if k > i else (k, i)
        conf = {i: shared, k: other.confidence}
        placed[first] = WordTiming(tokens[first], other.start_s, cut, conf[first])
        placed[second] = WordTiming(tokens[second], cut, other.end_s, conf[second])
        return True
    return False


def _estimate_run(
    placed: list[WordTiming | None],
    tokens: Sequence[str],
    i: int,
    j: int,
    speech: Sequence[Segment],
    duration_s: float,
) -> int:
    """Lay tokens[i:j] between their aligned neighbours; returns how many were estimated."""
    lo, hi = i, j
    before, after = placed[i - 1] if i > 0 else None, placed[j] if j < len(placed) else None
    t0 = before.end_s if before else 0.0
    t1 = after.start_s if after else duration_s
    if t1 - t0 < MIN_ESTIMATE_S * (j - i):  # no room: share the neighbours' time as well
        if before:
            lo, t0 = i - 1, before.start_s
        if after:
            hi, t1 = j + 1, after.end_s
    inside = [
        Segment(max(s.start_s, t0), min(s.end_s, t1))
        for s in speech
        if min(s.end_s, t1) - max(s.start_s, t0) >= MIN_SPEECH_S
    ] or [Segment(t0, max(t1, t0))]
    words = distribute(tokens[lo:hi], inside, confidence=ESTIMATE_CONFIDENCE)
    for k, word in enumerate(words):
        old = placed[lo + k]
        conf = ESTIMATE_CONFIDENCE if old is None else min(old.confidence, ESTIMATE_CONFIDENCE)
        placed[lo + k] = WordTiming(tokens[lo + k], word.start_s, word.end_s, conf)
    return hi - lo
