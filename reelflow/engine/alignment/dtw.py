"""Alignment beyond English: speak the transcript, then warp that speech onto the voice.

pocketsphinx's bundled model is US English only. For any language espeak-ng speaks, the
transcript is synthesised (espeak's word events time each token exactly in that reference), both
recordings become frames of log-mel cepstra normalised per recording (so voice, pitch and level
matter less than what is said), and dynamic time warping finds the cheapest monotonic path
between them. A reference word boundary maps through the path onto the voice; a start or end
next to a pause is then moved onto the voice's own energy edge nearby, since the warp is least
sure inside silence. Each word's confidence comes from the path's average cost over the word.
No model is downloaded: espeak-ng and its voice data ship in the espeakng-loader wheel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import soxr

from reelflow.engine.speech.tts import synthesize
from reelflow.engine.timing import WordTiming

RATE = 16_000
WIN = 400  # 25 ms analysis window
N_MELS = 40
N_CEPS = 20
MAX_FRAMES = 3_000  # per recording: the cost matrix stays below ~100 MB
SNAP_S = 0.06  # how far a boundary next to a pause may move onto the voice's energy edge
PAUSE_S = 0.05  # reference silence this long before a word makes its start a pause edge
# Confidence = logistic((MID - mean path cost over the word) / SCALE); cost is cosine distance.
CONFIDENCE_MID = 0.9
CONFIDENCE_SCALE = 0.1
# A path costing more than this on average matched nothing (white noise costs ~0.95): fall back
# to estimates. The cost mostly measures how unlike espeak the voice sounds, so it cannot tell
# a wrong transcript from a different speaker; confidences are relative, not calibrated.
UNTRUSTED_COST = 0.95


@dataclass(frozen=True)
class Warped:
    """Word times on the voice, their confidences, and what produced them."""

    words: tuple[WordTiming, ...]
    voice: str
    mean_cost: float


def align_by_synthesis(
    pcm: np.ndarray, tokens: tuple[str, ...], *, voice: str, rate_wpm: int = 150
) -> Warped:
    """Time `tokens` in `pcm` (int16 mono at 16 kHz) by warping an espeak-ng rendering of them,
    spoken with `voice`, onto it. Returns one timing per token, in order."""
    reference = synthesize(" ".join(tokens), voice=voice, rate_wpm=rate_wpm, tokens=tokens)
    ref = soxr.resample(reference.samples, reference.sample_rate, RATE).astype(np.float32)
    query = pcm.astype(np.float32) / 32768.0
    hop = max(160, math.ceil(max(ref.size, query.size) / MAX_FRAMES))
    hop_s = hop / RATE
    ref_feats, query_feats = _features(ref, hop), _features(query, hop)
    cost = _cosine_cost(ref_feats, query_feats)
    path = _dtw_path(cost)
    first, last, step_cost = _per_reference_frame(path, cost, len(ref_feats))
    ref_energy, query_energy = _energy_db(ref, hop), _energy_db(query, hop)
    words: list[WordTiming] = []
    duration_s = query.size / RATE
    for w in reference.words.words:
        i0 = min(round(w.start_s / hop_s), len(ref_feats) - 1)
        i1 = min(max(round(w.end_s / hop_s) - 1, i0), len(ref_feats) - 1)
        start = first[i0] * hop_s
        end = (last[i1] + 1) * hop_s
        if _silent_before(ref_energy, i0, hop_s):
            start = _snap_onset(query_energy, start, hop_s)
        if _silent_after(ref_energy, i1, hop_s):
            end = _snap_offset(query_energy, end, hop_s)
        mean = float(step_cost[i0 : i1 + 1].mean())
        confidence = 1.0 / (1.0 + math.exp(-(CONFIDENCE_MID - mean) / CONFIDENCE_SCALE))
        words.append(WordTiming(w.word, min(start, duration_s), min(end, duration_s), confidence))
    return Warped(tuple(words), voice, float(step_cost.mean()))


def _frames(x: np.ndarray, hop: int) -> np.ndarray:
    pad = np.pad(x, (WIN // 2, WIN // 2 + hop))
    n = 1 + (pad.size - WIN) // hop
    idx = np.arange(WIN)[None, :] + hop * np.arange(n)[:, None]
    return pad[idx]


def _features(x: np.ndarray, hop: int) -> np.ndarray:
    """Log-mel cepstra (c1..c19) plus their deltas, each normalised over the recording."""
    spec = np.abs(np.fft.rfft(_frames(x, hop) * np.hanning(WIN), n=512)) ** 2
    mel = np.log(spec @ _mel_bank().T + 1e-8)
    ceps = _dct(mel)[:, 1:N_CEPS]
    delta = np.gradient(ceps, axis=0)
    feats = np.hstack([ceps, delta])
    return (feats - feats.mean(axis=0)) / (feats.std(axis=0) + 1e-6)


def _mel_bank() -> np.ndarray:
    def mel(f):
        return 2595.0 * np.log10(1.0 + f / 700.0)

    edges = 700.0 * (10 ** (np.linspace(mel(60.0), mel(7600.0), N_MELS + 2) / 2595.0) - 1.0)
    bins = np.fft.rfftfreq(512, 1.0 / RATE)
    bank = np.zeros((N_MELS, bins.size))
    for m in range(N_MELS):
        lo, mid, hi = edges[m : m + 3]
        bank[m] = np.clip(np.minimum((bins - lo) / (mid - lo), (hi - bins) / (hi - mid)), 0, None)
    return bank


def _dct(x: np.ndarray) -> np.ndarray:
    n = x.shape[1]
    k = np.arange(n)
    basis = np.cos(np.pi / n * (k[:, None] + 0.5) * k[None, :])
    return x @ basis


def _cosine_cost(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / (np.linalg.norm(a, axis=1, keepdims=True) + 1e-9)
    b = b / (np.linalg.norm(b, axis=1, keepdims=True) + 1e-9)
    return (1.0 - a @ b.T).astype(np.float64)


def _dtw_path(cost: np.ndarray) -> np.ndarray:
    """The cheapest monotonic path from (0, 0) to the far corner, as (ref, query) index pairs.

    Steps (1,1), (1,0), (0,1). Cells on one anti-diagonal depend only on the two before it, so
    each diagonal is one vectorised numpy step (no numba compile, no per-cell Python loop).
    """
    n, m = cost.shape
    acc = np.full((n + 1, m + 1), np.inf)
    acc[0, 0] = 0.0
    step = np.zeros((n, m), dtype=np.int8)  # 0 diagonal, 1 from above (ref), 2 from left
    for k in range(n + m - 1):
        i = np.arange(max(0, k - m + 1), min(n, k + 1))
        j = k - i
        options = np.stack([acc[i, j], acc[i, j + 1], acc[i + 1, j]])
        best = options.argmin(axis=0)
        acc[i + 1, j + 1] = cost[i, j] + options[best, np.arange(i.size)]
        step[i, j] = best
    path = [(n - 1, m - 1)]
    i, j = n - 1, m - 1
    while i > 0 or j > 0:
        move = step[i, j]
        if i == 0:
            j -= 1
        elif j == 0:
            i -= 1
        elif move == 0:
            i, j = i - 1, j - 1
        elif move == 1:
            i -= 1
        else:
            j -= 1
        path.append((i, j))
    return np.array(path[::-1])


def _per_reference_frame(
    path: np.ndarray, cost: np.ndarray, n_ref: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each reference frame: the first and last voice frame the path maps it to, and the
    path's cost there."""
    first = np.full(n_ref, np.iinfo(np.int64).max)
    last = np.zeros(n_ref, dtype=np.int64)
    step = np.zeros(n_ref)
    np.minimum.at(first, path[:, 0], path[:, 1])
    np.maximum.at(last, path[:, 0], path[:, 1])
    np.maximum.at(step, path[:, 0], cost[path[:, 0], path[:, 1]])
    return first, last, step


def _energy_db(x: np.ndarray, hop: int) -> np.ndarray:
    frames = _frames(x, hop)
    return 10 * np.log10((frames.astype(np.float64) ** 2).mean(axis=1) + 1e-10)


def _is_quiet(energy: np.ndarray) -> np.ndarray:
    return energy < np.percentile(energy, 95) - 35.0


def _silent_before(energy: np.ndarray, i: int, hop_s: float) -> bool:
    n = max(1, round(PAUSE_S / hop_s))
    return i == 0 or bool(_is_quiet(energy)[max(0, i - n) : i].all())


def _silent_after(energy: np.ndarray, i: int, hop_s: float) -> bool:
    n = max(1, round(PAUSE_S / hop_s))
    return i >= energy.size - 1 or bool(_is_quiet(energy)[i + 1 : i + 1 + n].all())


def _snap_onset(energy: np.ndarray, t: float, hop_s: float) -> float:
    """The first loud frame within SNAP_S of `t` that follows a quiet one, else `t`."""
    quiet = _is_quiet(energy)
    k, reach = round(t / hop_s), max(1, round(SNAP_S / hop_s))
    for j in sorted(
        range(max(1, k - reach), min(energy.size, k + reach + 1)), key=lambda j: abs(j - k)
    ):
        if not quiet[j] and quiet[j - 1]:
            return j * hop_s
    return t


def _snap_offset(energy: np.ndarray, t: float, hop_s: float) -> float:
    """The end of the last loud frame within SNAP_S of `t` before a quiet one, else `t`."""
    quiet = _is_quiet(energy)
    k, reach = round(t / hop_s), max(1, round(SNAP_S / hop_s))
    for j in sorted(
        range(max(0, k - reach), min(energy.size - 1, k + reach)), key=lambda j: abs(j - k)
    ):
        if not quiet[j] and quiet[j + 1]:
            return (j + 1) * hop_s
    return t
