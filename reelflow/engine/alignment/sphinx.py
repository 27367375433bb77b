"""pocketsphinx forced alignment of word alternatives, one window of 16 kHz audio at a time.

The plain recipe (``set_align_text`` then ``seg()``) has four traps, each handled here:

* ``seg()`` walks the word lattice by default, which may jump across the grammar and drop
  words; with ``bestpath=False`` it is the Viterbi back-trace, which respects it.
* The last word absorbs a short trailing silence (the search must end inside a word or a
  three-state silence), so every window is padded with a little noise at both ends.
* A tight beam loses the only path through a hard stretch ("Final result does not match the
  grammar"); we start wider than the default and the caller retries wider (`BEAM_LEVELS`).
* The noise-removal front end keeps its noise estimate from one utterance to the next, so
  the same audio aligns differently depending on what came before; we reset it each time.

Our grammar is a finite-state graph with one path per reading of each token (`normalize`),
optional silence between words, and, for a window that may end mid-transcript, an exit
after every token. Word scores come back relative to the best state alive in each frame,
which makes them a usable confidence measure.

Decoders are created lazily, one per thread and beam level, and reused: a decoder is not
thread-safe and takes ~0.2 s to load.
"""

from __future__ import annotations

import math
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from reelflow.engine.alignment.normalize import Reading
from reelflow.engine.alignment.pronounce import guess_pronunciation

FRAME_S = 0.01
PAD_S = 0.15
UNKNOWN_WORD = "[SPEECH]"  # the model's generic speech filler, for words nothing can pronounce
FILLERS = frozenset({"<sil>", "<s>", "</s>", "[NOISE]", "[SPEECH]"})
BEAM_LEVELS = (
    {"beam": 1e-80, "wbeam": 1e-60, "pbeam": 1e-80},  # pocketsphinx's defaults are 1e-48/7e-29
    {"beam": 1e-120, "wbeam": 1e-95, "pbeam": 1e-120},
    {"beam": 1e-160, "wbeam": 1e-130, "pbeam": 1e-160},
)
_LOG_BASE = math.log(1.0001)  # pocketsphinx's default logbase, to undo the bindings' exp()


@dataclass(frozen=True)
class Seg:
    """One word or filler of a decoded window, in frames of 10 ms from the window start."""

    word: str  # dictionary spelling without the "(2)" variant suffix
    variant: str  # dictionary entry used, e.g. "read(2)"
    start_frame: int
    end_frame: int  # inclusive
    score_per_frame: float  # acoustic score against the best active state, <= 0

    @property
    def is_filler(self) -> bool:
        return self.word in FILLERS


_local = threading.local()


def decoder(level: int = 0):
    """This thread's decoder for beam `level` (created on first use)."""
    from pocketsphinx import Decoder  # heavy native import, only when aligning

    cache = _local.__dict__.setdefault("decoders", {})
    if level not in cache:
        cache[level] = Decoder(lm=None, loglevel="FATAL", bestpath=False, **BEAM_LEVELS[level])
        _local.__dict__.setdefault("added", {})[level] = set()
    return cache[level]


def phones_of(variant: str) -> list[str]:
    """Phones of a dictionary entry as known to this thread's decoders."""
    found = decoder(0).lookup_word(variant)
    return found.split() if found else []


def sayable_plan(plan: Sequence[tuple[Reading, ...]]) -> list[tuple[Reading, ...]]:
    """`plan` with every word the decoder can listen for: dictionary words as they are, others
    given a guessed pronunciation, and words nothing can pronounce replaced by `UNKNOWN_WORD`."""
    words = {w for readings in plan for r in readings for w in r}
    unsayable = _ensure_words(words, 0)
    return [
        tuple(tuple(UNKNOWN_WORD if w in unsayable else w for w in r) for r in readings)
        for readings in plan
    ]


def _ensure_words(words: set[str], level: int) -> set[str]:
    """Add pronunciations for words missing from the dictionary; return those with none."""
    dec = decoder(level)
    added = _local.added[level]
    unsayable = set()
    for word in words - added:
        if word in FILLERS or dec.lookup_word(word):
            continue
        phones = guess_pronunciation(word)
        if phones:
            dec.add_word(word, phones, False)  # the next grammar built sees it
            added.add(word)
        else:
            unsayable.add(word)
    return unsayable


def decode(
    pcm: np.ndarray, plan: Sequence[tuple[Reading, ...]], *, prefix: bool, level: int
) -> list[Seg] | None:
    """Force-align `plan` (per token, its alternative readings, from `sayable_plan`) to int16
    16 kHz `pcm`.

    With `prefix`, the grammar may end after any token (the window may end mid-transcript).
    Returns segments in window frames, or None when no path reaches the end of the grammar.
    """
    dec = decoder(level)
    if level:
        _ensure_words({w for readings in plan for r in readings for w in r}, level)
    fsg = dec.create_fsg("align", 0, 1, _transitions(plan, prefix))
    dec.add_fsg("align", fsg)
    dec.activate_search("align")
    padded, pad_frames = _pad(pcm)
    with warnings.catch_warnings():  # the bindings call it deprecated; it still resets the
        warnings.simplefilter("ignore", DeprecationWarning)  # noise estimate, which would
        dec.start_stream()  # otherwise carry over from the last window: same in, same out
    dec.start_utt()
    dec.process_raw(padded.tobytes(), full_utt=True)
    dec.end_utt()
    if dec.hyp() is None:
        return None
    segs: list[Seg] = []
    n_frames = math.ceil(pcm.size / 160)
    for s in dec.seg() or ():
        start = min(max(0, s.start_frame - pad_frames), n_frames)
        end = min(max(-1, s.end_frame - pad_frames), n_frames - 1)
        frames = s.end_frame - s.start_frame + 1
        raw = math.log(max(s.ascore, 1e-300)) / _LOG_BASE
        base = s.word.split("(")[0]
        segs.append(Seg(base, s.word, start, end, raw / max(1, frames)))
    return segs


def _transitions(plan: Sequence[tuple[Reading, ...]], prefix: bool) -> list[tuple]:
    """Grammar arcs: state 0 -> token boundaries -> final state 1, one path per reading."""
    n = len(plan)
    boundary = [0, *range(2, n + 1), 1]  # boundary[i] precedes token i; boundary[n] is final
    next_state = n + 1
    arcs: list[tuple] = []
    for i, readings in enumerate(plan):
        src, dst = boundary[i], boundary[i + 1]
        for words in readings:
            if not words:
                arcs.append((src, dst, 1.0))
                continue
            state = src
            for k, word in enumerate(words):
                to = dst if k == len(words) - 1 else next_state
                if to == next_state:
                    next_state += 1
                arcs.append((state, to, 1.0, word))
                state = to
        if prefix and 0 < i < n:
            arcs.append((src, 1, 1.0))
    return arcs


def _pad(pcm: np.ndarray) -> tuple[np.ndarray, int]:
    """Surround the window with low noise at its own noise floor, so edges can be silence."""
    frames = pcm[: pcm.size // 160 * 160].astype(np.float64).reshape(-1, 160)
    rms = np.sqrt((frames**2).mean(axis=1)) if frames.size else np.ones(1)
    floor = max(float(np.percentile(rms, 10)), 1.0)
    pad_frames = round(PAD_S / FRAME_S)
    rng = np.random.default_rng(0)
    pad = np.clip(rng.standard_normal(pad_frames * 160) * floor, -32768, 32767).astype(np.int16)
    return np.concatenate([pad, pcm.astype(np.int16), pad]), pad_frames
