"""From aligner frames to word times: frame geometry, and pause edges placed on the signal.

Inside a phrase, a word boundary is the frame where the Viterbi path changes word; we report
the time between the two frames' window centres. At a pause the recogniser's features (25 ms
windows with deltas over +-3 frames) smear the onset ~40 ms early and the offset ~30 ms late,
so there we re-place the boundary at the strongest change of loudness nearby: the split of the
log-energy curve into two flat parts with the least squared error, among splits where the
level rises (onset) or falls (offset) by at least `MIN_STEP_DB`. Without such a step the
aligner's boundary stays. A word ending in a stop (its closure is silent, its release quiet)
keeps the aligner's end.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from reelflow.engine.alignment.chunks import Span
from reelflow.engine.alignment.sphinx import FRAME_S

HOP_S = 0.0025
ENERGY_FRAME_S = 0.010
# Frame f's analysis window starts at f * 10 ms and is 25.6 ms long; the boundary between
# frames f-1 and f lies between their window centres: f * 10 ms + 7.8 ms.
FRAME_SHIFT_S = 0.0078
SEARCH_BEFORE_S = 0.05  # how far a pause edge may move towards the pause
SEARCH_INTO_S = 0.15  # and how far into the word
MIN_WORD_S = 0.02
MIN_STEP_DB = 10.0
STOPS = frozenset({"P", "B", "T", "D", "K", "G"})


def energy_curve(pcm: np.ndarray) -> np.ndarray:
    """Log energy (dBFS) of 10 ms frames centred every 2.5 ms of int16 16 kHz audio.

    The same values as `audio.frame_energy_db` (frame k centred on k * 2.5 ms), computed from
    sums of squares over 2.5 ms blocks so that long audio needs no large temporaries.
    """
    hop = round(HOP_S * 16_000)
    per_frame = round(ENERGY_FRAME_S / HOP_S)  # blocks per frame
    n_blocks = -(-pcm.size // hop)
    sums = np.zeros(n_blocks + per_frame)
    chunk = hop * 4096
    for a in range(0, pcm.size, chunk):
        part = pcm[a : a + chunk].astype(np.float64)
        part = np.pad(part, (0, -part.size % hop))
        b = a // hop + per_frame // 2
        sums[b : b + part.size // hop] = (part.reshape(-1, hop) ** 2).sum(axis=1)
    frames = np.convolve(sums, np.ones(per_frame), mode="valid")[: pcm.size // hop + 1]
    mean_sq = frames / (per_frame * hop * 32768.0**2)
    return 10.0 * np.log10(np.maximum(mean_sq, 1e-12))


def word_times(
    spans: Sequence[Span | None], energy: np.ndarray, duration_s: float
) -> list[tuple[float, float] | None]:
    """Start and end in seconds for each aligned span (None stays None), in order."""
    times: list[tuple[float, float] | None] = []
    prev_end = 0.0
    for i, span in enumerate(spans):
        if span is None:
            times.append(None)
            continue
        start = span.start_frame * FRAME_S + FRAME_SHIFT_S
        end = (span.end_frame + 1) * FRAME_S + FRAME_SHIFT_S
        if span.pause_before:
            lo = max(prev_end, start - SEARCH_BEFORE_S)
            hi = min(end - MIN_WORD_S, start + SEARCH_INTO_S)
            start = _change_point(energy, lo, hi, rising=True, default=start)
        if span.pause_after and span.last_phone not in STOPS:
            nxt = _next_start(spans, i, duration_s)
            lo = max(start + MIN_WORD_S, end - SEARCH_INTO_S)
            hi = min(nxt, end + SEARCH_BEFORE_S, duration_s)
            end = _change_point(energy, lo, hi, rising=False, default=end)
        start = min(max(start, prev_end, 0.0), duration_s)
        end = min(max(end, start + MIN_WORD_S), duration_s)
        times.append((start, end))
        prev_end = end
    return times


def _next_start(spans: Sequence[Span | None], i: int, duration_s: float) -> float:
    for span in spans[i + 1 :]:
        if span is not None:
            return span.start_frame * FRAME_S + FRAME_SHIFT_S
    return duration_s


def _change_point(
    energy: np.ndarray, lo_s: float, hi_s: float, *, rising: bool, default: float
) -> float:
    """Time in [lo_s, hi_s] splitting the energy curve best into two flat parts (least squared
    error) with a step of at least `MIN_STEP_DB` in the given direction, else `default`."""
    i0, i1 = max(0, round(lo_s / HOP_S)), min(energy.size, round(hi_s / HOP_S))
    if i1 - i0 < 5:
        return default
    e = energy[i0:i1].astype(np.float64)
    n = e.size
    c, c2 = np.cumsum(e), np.cumsum(e * e)
    k = np.arange(1, n)
    left = c2[k - 1] - c[k - 1] ** 2 / k
    right = (c2[-1] - c2[k - 1]) - (c[-1] - c[k - 1]) ** 2 / (n - k)
    step = (c[-1] - c[k - 1]) / (n - k) - c[k - 1] / k
    allowed = step >= MIN_STEP_DB if rising else step <= -MIN_STEP_DB
    if not allowed.any():
        return default
    cost = np.where(allowed, left + right, np.inf)
    return (i0 + int(k[np.argmin(cost)]) - 0.5) * HOP_S
