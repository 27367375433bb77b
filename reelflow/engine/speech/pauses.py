"""Tighter pacing: pauses longer than a limit are shortened to it.

`plan_pause_cuts` finds the pauses (gaps between phrases of speech activity) and returns `Cuts`:
the parts of the source timeline that are kept. The same `Cuts` then shorten the voice
(`apply_cuts`, sample-exact), move word timings onto the shortened timeline (`Cuts.map_words`)
and cut a video's picture in the render graph, so sound, words and picture stay together.
Boundaries fall on a grid (the output frame duration), so a picture cut at frame boundaries
removes exactly what the sound lost.
"""

from __future__ import annotations

import bisect
import itertools
import math
from dataclasses import dataclass, replace

import numpy as np

from reelflow.engine.audio import Segment, speech_activity
from reelflow.engine.errors import InputError
from reelflow.engine.timing import WordTimings

_JOINT_FADE_S = 0.005  # a short fade on both sides of a joint: no click where silence is cut
_MIN_WORD_S = 0.02


@dataclass(frozen=True)
class Cuts:
    """The kept parts of a source timeline (seconds, ascending, disjoint)."""

    kept: tuple[Segment, ...]
    source_duration_s: float

    @property
    def duration_s(self) -> float:
        """Length of the shortened timeline."""
        return sum(s.duration_s for s in self.kept)

    @property
    def removed_s(self) -> float:
        return self.source_duration_s - self.duration_s

    @property
    def is_identity(self) -> bool:
        return len(self.kept) == 1 and self.removed_s < 1e-9

    def map_time(self, t_s: float) -> float:
        """Where source time `t_s` falls on the shortened timeline (a removed instant maps to
        the joint that replaced it)."""
        starts = [s.start_s for s in self.kept]
        i = bisect.bisect_right(starts, t_s) - 1
        before = sum(s.duration_s for s in self.kept[: max(i, 0)])
        if i < 0:
            return 0.0
        seg = self.kept[i]
        return before + min(max(t_s - seg.start_s, 0.0), seg.duration_s)

    def map_words(self, words: WordTimings) -> WordTimings:
        """`words` moved onto the shortened timeline (each keeps a minimal length)."""
        moved = []
        for w in words.words:
            start = self.map_time(w.start_s)
            end = max(self.map_time(w.end_s), start + _MIN_WORD_S)
            moved.append(replace(w, start_s=start, end_s=min(end, self.duration_s)))
        details = dict(words.details or {})
        details["pauses_removed_s"] = round(self.removed_s, 3)
        return replace(words, words=tuple(moved), details=details)


def plan_pause_cuts(
    samples: np.ndarray,
    sample_rate: int,
    /,
    *,
    max_pause_s: float,
    grid_s: float = 0.01,
) -> Cuts:
    """Cuts that shorten every pause longer than `max_pause_s` to `max_pause_s`.

    An inner pause keeps half the limit after the phrase before it and half before the phrase
    after it (the breath around words stays natural); silence before the first and after the
    last phrase keeps the limit next to the speech. Boundaries are rounded to `grid_s`.
    """
    if max_pause_s <= 0:
        raise InputError("must be > 0", field="trim_pauses_over_s")
    if grid_s <= 0:
        raise ValueError("grid_s must be > 0")
    total = samples.shape[0] / float(sample_rate)
    speech = speech_activity(samples, sample_rate)
    whole = Cuts((Segment(0.0, total),), total)
    if not speech:
        return whole
    removed: list[tuple[float, float]] = []
    if speech[0].start_s > max_pause_s:
        removed.append((0.0, speech[0].start_s - max_pause_s))
    for before, after in itertools.pairwise(speech):
        if after.start_s - before.end_s > max_pause_s:
            removed.append((before.end_s + max_pause_s / 2, after.start_s - max_pause_s / 2))
    if total - speech[-1].end_s > max_pause_s:
        removed.append((speech[-1].end_s + max_pause_s, total))
    kept: list[Segment] = []
    cursor = 0.0
    for a, b in removed:
        a, b = _snap(a, grid_s), _snap(b, grid_s)
        if b - a < grid_s:
            continue
        if a > cursor:  # (a == 0: silence removed from the very start)
            kept.append(Segment(cursor, a))
        cursor = b
    if total - cursor > 1e-9:
        kept.append(Segment(cursor, total))
    return Cuts(tuple(kept), total) if kept else whole


def _snap(t_s: float, grid_s: float) -> float:
    return round(round(t_s / grid_s) * grid_s, 9)


def apply_cuts(samples: np.ndarray, sample_rate: int, cuts: Cuts, /) -> np.ndarray:
    """The samples of the kept parts, joined; each joint faded over a few milliseconds."""
    if cuts.is_identity:
        return samples
    fade = max(1, round(_JOINT_FADE_S * sample_rate))
    pieces = []
    for i, seg in enumerate(cuts.kept):
        a = math.floor(seg.start_s * sample_rate + 0.5)
        b = min(samples.shape[0], math.floor(seg.end_s * sample_rate + 0.5))
        piece = np.array(samples[a:b], dtype=np.float32, copy=True)
        n = min(fade, piece.shape[0] // 2)
        ramp = np.linspace(0.0, 1.0, n, dtype=np.float32)
        if piece.ndim == 2:
            ramp = ramp[:, None]
        if i > 0 and n:
            piece[:n] *= ramp
        if i < len(cuts.kept) - 1 and n:
            piece[-n:] *= ramp[::-1]
        pieces.append(piece)
    return np.concatenate(pieces, axis=0)
