"""Long audio, window by window: align a prefix of the remaining transcript, keep what is safe.

A remainder of at most `LAST_WINDOW_S` is aligned in one go. Longer audio is cut into windows
of `WINDOW_S`: each window's grammar may stop after any token; we keep the tokens that end
before its last seconds (and before the alignment got lost, if it did), and the next window
starts in the middle of the last pause between kept tokens. Work and memory grow linearly
with the audio, and a stretch the aligner cannot follow costs that stretch (its tokens are
estimated), never the rest of the transcript.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from reelflow.engine.alignment.normalize import Reading
from reelflow.engine.alignment.sphinx import FRAME_S
from reelflow.engine.alignment.window import Span, decode_window, token_spans

__all__ = ["ChunkResult", "Span", "align_spans"]

WINDOW_S = 40.0
LAST_WINDOW_S = 75.0
GUARD_S = 4.0  # tokens ending this close to a window's end wait for the next window
MIN_CUT_PAUSE_FRAMES = 12
MAX_SYLLABLES_PER_S = 9.0  # generous speaking rate when choosing how much text a window gets
TYPICAL_SYLLABLES_PER_S = 4.0


@dataclass(frozen=True)
class ChunkResult:
    spans: tuple[Span | None, ...]  # None: not aligned (unspoken reading or lost stretch)
    windows: int
    lost_windows: int


@dataclass(frozen=True)
class _Window:
    first_token: int
    spans: list[Span | None]
    lost: bool


def align_spans(
    pcm: np.ndarray, plan: Sequence[tuple[Reading, ...]], weights: Sequence[float]
) -> ChunkResult:
    """Align every token of `plan` to int16 16 kHz `pcm`; `weights` are syllables per token."""
    spans: list[Span | None] = [None] * len(plan)
    windows = lost = 0
    for window in iter_windows(pcm, plan, weights):
        windows += 1
        lost += window.lost
        spans[window.first_token : window.first_token + len(window.spans)] = window.spans
    return ChunkResult(tuple(spans), windows, lost)


def iter_windows(
    pcm: np.ndarray, plan: Sequence[tuple[Reading, ...]], weights: Sequence[float]
) -> Iterator[_Window]:
    """Yield aligned windows in order until every token has been placed or given up on."""
    total = pcm.size // 160
    cum_weight = np.concatenate(([0.0], np.cumsum(weights)))
    pos, tok = 0, 0
    while tok < len(plan):
        last = total - pos <= round(LAST_WINDOW_S / FRAME_S)
        end = total if last else pos + round(WINDOW_S / FRAME_S)
        budget = cum_weight[tok] + MAX_SYLLABLES_PER_S * (end - pos) * FRAME_S + 20
        n_tok = len(plan) - tok if last else max(1, _tokens_within(cum_weight, budget) - tok)
        window_plan = plan[tok : tok + n_tok]
        tail_s = 0.0 if last else GUARD_S  # a window cuts its last word short
        decoded = decode_window(
            pcm[pos * 160 : end * 160], window_plan, last=last, ignored_tail_s=tail_s
        )
        spans = token_spans(decoded.segs, window_plan, pos, decoded.level) if decoded else []
        if last:
            lost = decoded is None or decoded.lost is not None
            yield _Window(tok, spans or [None] * n_tok, lost)
            return
        guard = end - round(GUARD_S / FRAME_S)
        keep, cut = 0, guard
        if decoded is not None and decoded.lost is not None:  # keep only what is on track
            keep, cut = _safe_prefix(spans, pos, min(guard, pos + decoded.lost))
        if keep == 0:  # lost from its start: the best the decoder could do beats nothing
            keep, cut = _safe_prefix(spans, pos, guard)
        if keep == 0:  # nothing fits (music, a skipped passage): jump, estimate its text
            cut = pos + (end - pos) // 2
            spoken = (cut - pos) * FRAME_S * _syllables_per_s(cum_weight, tok, pos)
            keep = max(1, _tokens_within(cum_weight, cum_weight[tok] + spoken) - tok)
            yield _Window(tok, [None] * keep, lost=True)
        else:
            yield _Window(tok, spans[:keep], lost=decoded is not None and decoded.lost is not None)
        tok += keep
        pos = cut


def _tokens_within(cum_weight: np.ndarray, weight: float) -> int:
    """How many tokens from the start fit within a cumulative syllable `weight`."""
    return int(np.searchsorted(cum_weight, weight, side="right")) - 1


def _syllables_per_s(cum_weight: np.ndarray, tok: int, pos: int) -> float:
    """Speaking rate so far, or a typical rate before anything is aligned."""
    return float(cum_weight[tok] / (pos * FRAME_S)) if tok and pos else TYPICAL_SYLLABLES_PER_S


def _safe_prefix(spans: list[Span | None], pos: int, trusted_end: int) -> tuple[int, int]:
    """How many tokens of a window to keep, and the frame where the next window starts.

    The cut goes in the middle of the last pause between two aligned tokens before
    `trusted_end`, if that pause lies past the window's first third; otherwise right after
    the last token that ends before `trusted_end`.
    """
    earliest = pos + (trusted_end - pos) // 3
    placed = [(i, s) for i, s in enumerate(spans) if s is not None and s.end_frame < trusted_end]
    for (i, a), (_, b) in zip(placed[-2::-1], placed[::-1], strict=False):
        middle = (a.end_frame + b.start_frame) // 2
        if b.start_frame - a.end_frame > MIN_CUT_PAUSE_FRAMES and middle >= earliest:
            return i + 1, middle
    if not placed:
        return 0, trusted_end
    i, last = placed[-1]
    return i + 1, last.end_frame + 1
