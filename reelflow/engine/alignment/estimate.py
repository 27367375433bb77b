"""Word timings estimated from speech activity, when no aligner or synthesiser can say better.

The documented estimate: detect where speech is, lay the tokens end to end across the speech
time in proportion to their syllable weight, and keep words from straddling a pause. Every word
is marked with a low confidence so the viewer of the timings knows they are guesses.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from reelflow.engine.audio import Segment, speech_activity
from reelflow.engine.errors import InputError
from reelflow.engine.text import syllable_weight
from reelflow.engine.timing import WordTiming, WordTimings

ESTIMATE_CONFIDENCE = 0.2
NO_SPEECH_CONFIDENCE = 0.05


def estimate_timings(
    samples: np.ndarray,
    sample_rate: int,
    tokens: Sequence[str],
    *,
    segments: Sequence[Segment] | None = None,
) -> WordTimings:
    """Spread `tokens` over the speech found in `samples` (method ``estimated``)."""
    if not tokens:
        raise InputError("transcript has no words", field="transcript")
    total_s = samples.shape[0] / float(sample_rate)
    if segments is None:
        segments = speech_activity(samples, sample_rate)
    confidence = ESTIMATE_CONFIDENCE
    if not segments:
        margin = min(0.25, 0.05 * total_s)
        segments = (Segment(margin, total_s - margin),)
        confidence = NO_SPEECH_CONFIDENCE
    words = distribute(tokens, segments, confidence=confidence)
    return WordTimings(words=words, method="estimated", details={"segments": len(segments)})


def distribute(
    tokens: Sequence[str], segments: Sequence[Segment], *, confidence: float
) -> tuple[WordTiming, ...]:
    """Lay tokens across `segments` in proportion to syllable weight, never across a gap."""
    weights = np.array([syllable_weight(t) for t in tokens], dtype=np.float64)
    seg_lengths = np.array([s.duration_s for s in segments], dtype=np.float64)
    speech_total = seg_lengths.sum()
    # Assign each token to the segment holding the middle of its share of the speech time.
    mids = (np.cumsum(weights) - weights / 2) / weights.sum() * speech_total
    seg_ends = np.cumsum(seg_lengths)
    owner = np.minimum(np.searchsorted(seg_ends, mids, side="right"), len(segments) - 1)
    words: list[WordTiming] = []
    for seg_idx, seg in enumerate(segments):
        members = np.flatnonzero(owner == seg_idx)
        if members.size == 0:
            continue
        share = weights[members] / weights[members].sum() * seg.duration_s
        edges = seg.start_s + np.concatenate(([0.0], np.cumsum(share)))
        for k, tok_idx in enumerate(members):
            words.append(
                WordTiming(
                    word=tokens[tok_idx],
                    start_s=round(float(edges[k]), 3),
                    end_s=round(float(edges[k + 1]), 3),
                    confidence=confidence,
                )
            )
    return tuple(words)
