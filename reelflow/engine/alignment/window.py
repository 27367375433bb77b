"""One window of audio against a stretch of transcript: decode, check, retry, map to tokens.

A decoded alignment can go wrong in two ways that the acoustic scores alone do not reveal:
the beam drops the right path and the search "waits" in silence while speech goes by, or the
transcript goes on after the speech stops and the last words get squeezed into silence. We
compare the alignment with an energy-based speech detector to catch the first (`lost_frame`)
and with its own scores to catch the second (`SQUEEZED_SCORE`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from reelflow.engine.alignment import sphinx
from reelflow.engine.alignment.normalize import Reading
from reelflow.engine.alignment.sphinx import FRAME_S, Seg
from reelflow.engine.audio import speech_activity

LOST_SPEECH_FRAMES = 100  # this much speech called silence, or left over: "lost the path"
SQUEEZED_SCORE = -80.0  # last words scoring below this per frame were forced into silence


@dataclass(frozen=True)
class Span:
    """Where the aligner put one token, in frames of the whole audio (end inclusive)."""

    start_frame: int
    end_frame: int
    score_per_frame: float
    pause_before: int  # frames of silence or noise the aligner put right before the token
    pause_after: int
    first_phone: str
    last_phone: str
    beam_level: int


@dataclass(frozen=True)
class Decoded:
    segs: list[Seg]
    level: int
    lost: int | None  # window frame from which the alignment does not follow the speech


def decode_window(
    pcm: np.ndarray, plan: Sequence[tuple[Reading, ...]], *, last: bool, ignored_tail_s: float
) -> Decoded | None:
    """Decode one window, retrying with wider beams while the alignment gets lost.

    The last window insists on every token (strict grammar) unless that only works by
    squeezing the last words into silence. Then, and in other windows, a prefix grammar may
    stop after any token; tokens it does not reach stay unaligned. Speech in the last
    `ignored_tail_s` does not count (a window cuts its last word short). The alignment that
    stays on track longest wins.
    """
    speech = _speech_frames(pcm)
    speech[max(0, speech.size - round(ignored_tail_s / FRAME_S)) :] = False
    best: Decoded | None = None
    for level in range(len(sphinx.BEAM_LEVELS)):
        segs = sphinx.decode(pcm, plan, prefix=not last, level=level)
        if segs is None:
            continue
        if last and _squeezed_tail(segs):
            prefix = sphinx.decode(pcm, plan, prefix=True, level=level)
            if prefix is not None and lost_frame(prefix, speech) is None:
                return Decoded(prefix, level, None)
        found = Decoded(segs, level, lost_frame(segs, speech))
        if found.lost is None:
            return found
        if best is None or found.lost > (best.lost or 0):
            best = found
    if best is None and last:  # not even the widest beam fits every token: align what fits
        level = len(sphinx.BEAM_LEVELS) - 1
        segs = sphinx.decode(pcm, plan, prefix=True, level=level)
        best = Decoded(segs, level, lost_frame(segs, speech)) if segs is not None else None
    return best


def lost_frame(segs: list[Seg], speech: np.ndarray) -> int | None:
    """First frame where the alignment stops following the speech, if it does: a silence or
    noise filler over `LOST_SPEECH_FRAMES` of detected speech, or that much speech after the
    last word."""
    for seg in segs:
        filler = seg.is_filler and seg.word != sphinx.UNKNOWN_WORD
        if filler and speech[seg.start_frame : seg.end_frame + 1].sum() >= LOST_SPEECH_FRAMES:
            return seg.start_frame
    end = _last_word_end(segs)
    if int(speech[end + 1 :].sum()) >= LOST_SPEECH_FRAMES:
        return end + 1
    return None


def _squeezed_tail(segs: list[Seg]) -> bool:
    words = [s for s in segs if s.word and not s.is_filler]
    return bool(words) and words[-1].score_per_frame < SQUEEZED_SCORE


def _last_word_end(segs: list[Seg]) -> int:
    words = [s for s in segs if s.word and not s.is_filler]
    return words[-1].end_frame if words else -1


def _speech_frames(pcm: np.ndarray) -> np.ndarray:
    """Per 10 ms frame of `pcm`: whether the energy detector hears speech."""
    mask = np.zeros(pcm.size // 160 + 1, dtype=bool)
    for seg in speech_activity(pcm.astype(np.float32) / 32768.0, 16_000):
        mask[int(seg.start_s / FRAME_S) : int(seg.end_s / FRAME_S) + 1] = True
    return mask


def token_spans(
    segs: list[Seg], plan: Sequence[tuple[Reading, ...]], offset: int, level: int
) -> list[Span | None]:
    """Map decoded words back onto tokens (a token may span several words, or none)."""
    segs = [s for s in segs if s.word and s.end_frame >= s.start_frame]
    words = [(i, s) for i, s in enumerate(segs) if not s.is_filler or s.word == sphinx.UNKNOWN_WORD]
    spans: list[Span | None] = [None] * len(plan)
    for token, members in parse([s.word for _, s in words], plan).items():
        idx = [words[m][0] for m in members]
        first, last = segs[idx[0]], segs[idx[-1]]
        frames = np.array([segs[i].end_frame - segs[i].start_frame + 1 for i in idx], float)
        scores = np.array([segs[i].score_per_frame for i in idx])
        spans[token] = Span(
            start_frame=first.start_frame + offset,
            end_frame=last.end_frame + offset,
            score_per_frame=float((frames * scores).sum() / frames.sum()),
            pause_before=_filler_run(segs, idx[0], -1),
            pause_after=_filler_run(segs, idx[-1], +1),
            first_phone=(sphinx.phones_of(first.variant) or ["SIL"])[0],
            last_phone=(sphinx.phones_of(last.variant) or ["SIL"])[-1],
            beam_level=level,
        )
    return spans


def _filler_run(segs: list[Seg], index: int, step: int) -> int:
    """Frames of silence/noise right next to segs[index] in direction `step`."""
    frames, i = 0, index + step
    while 0 <= i < len(segs) and segs[i].is_filler and segs[i].word != sphinx.UNKNOWN_WORD:
        frames += segs[i].end_frame - segs[i].start_frame + 1
        i += step
    if not 0 <= i < len(segs):
        frames += 1000  # the window edge: silence as far as the aligner knows
    return frames


def parse(words: list[str], plan: Sequence[tuple[Reading, ...]]) -> dict[int, list[int]]:
    """Which decoded words belong to which token: a left-to-right parse through the readings.

    A "[SPEECH]" the grammar did not ask for is a filler and belongs to no token. Returns
    token -> indices into `words` (tokens read as nothing are absent).
    """
    frontier: dict[int, tuple] = {0: ()}  # word position -> back-pointer chain
    for token, readings in enumerate(plan):
        nxt: dict[int, tuple] = {}
        for j, chain in frontier.items():
            for reading in readings:
                k, matched = j, []
                for w in reading:
                    while k < len(words) and words[k] == sphinx.UNKNOWN_WORD != w:
                        k += 1  # a filler the grammar did not ask for
                    if k >= len(words) or words[k] != w:
                        break
                    matched.append(k)
                    k += 1
                else:
                    nxt.setdefault(k, (chain, token, tuple(matched)))
        if not nxt:
            break  # a prefix grammar stopped before this token
        frontier = nxt
    chain = frontier[max(frontier)]
    out: dict[int, list[int]] = {}
    while chain:
        chain, token, matched = chain
        if matched:
            out[token] = list(matched)
    return out
