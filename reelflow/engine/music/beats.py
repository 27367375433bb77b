"""Beat tracking by dynamic programming (Ellis 2007), the algorithm of `librosa.beat`.

librosa's own tracker is numba-compiled: importing `librosa.beat` costs about 1.7 s in every
new process (numba loads or builds its gufuncs), and every Prefect flow run is a new process.
The same recurrence in numpy costs milliseconds for a reel and well under a second for a long
track (2.6 s of a 10-minute track's 4 s analysis is this loop). Onset strength and tempo are
numpy too (`spectral`): the engine imports no librosa.
"""

from __future__ import annotations

import numpy as np

TIGHTNESS = 100.0  # librosa's default: how strongly beats keep to the tempo


def track_beats(onset_env: np.ndarray, *, period_frames: float) -> np.ndarray:
    """Frame indices of the beats in `onset_env` at a tempo of one beat per `period_frames`.

    Each frame's score is its smoothed onset strength plus the best score of a previous frame
    between half a period and two periods earlier, penalised by how far that gap is from one
    period (log-Gaussian, `TIGHTNESS`). The path back from the last strong frame is the beats;
    weak beats at either end (fade-ins, silence) are trimmed.
    """
    if onset_env.size == 0 or period_frames <= 1 or not np.any(onset_env > 0):
        return np.zeros(0, dtype=int)
    onsets = onset_env / (onset_env.std(ddof=1) + 1e-12)
    half = round(period_frames)
    window = np.exp(-0.5 * (np.arange(-half, half + 1) * 32.0 / period_frames) ** 2)
    local = np.convolve(onsets, window, "same")
    offsets = np.arange(-round(2 * period_frames), -round(period_frames / 2) + 1)
    penalty = -TIGHTNESS * np.log(-offsets / period_frames) ** 2
    n = local.size
    cumscore = np.zeros(n)
    backlink = np.full(n, -1)
    started = False
    threshold = 0.01 * local.max()
    for i in range(n):
        previous = i + offsets
        usable = previous >= 0
        if started and usable.any():
            candidates = cumscore[previous[usable]] + penalty[usable]
            best = int(np.argmax(candidates))
            cumscore[i] = local[i] + candidates[best]
            backlink[i] = previous[usable][best]
        else:
            cumscore[i] = local[i]
            # Nothing before the first real onset may link back (leading silence).
            started = started or local[i] >= threshold
    beats = _backtrack(cumscore, backlink)
    return _trim(beats, local)


def _backtrack(cumscore: np.ndarray, backlink: np.ndarray) -> np.ndarray:
    edged = np.pad(cumscore, 1, mode="edge")  # like librosa.util.localmax: no wrap-around
    peaks = np.flatnonzero((cumscore > edged[:-2]) & (cumscore >= edged[2:]))
    if peaks.size == 0:
        return np.zeros(0, dtype=int)
    # The last beat: the last local maximum that is at least half the typical peak score.
    strong = peaks[cumscore[peaks] >= 0.5 * np.median(cumscore[peaks])]
    beats = [int(strong.max())]
    while backlink[beats[-1]] >= 0:
        beats.append(int(backlink[beats[-1]]))
    return np.array(beats[::-1], dtype=int)


def _trim(beats: np.ndarray, local: np.ndarray) -> np.ndarray:
    # As librosa: a threshold from the smoothed score at the beats; frames at either end that
    # stay below it (silence, fades, the track's last partial window) lose their beats.
    if beats.size == 0:
        return beats
    strength = np.convolve(local[beats], np.hanning(5))[2 : 2 + beats.size]
    threshold = 0.5 * np.sqrt(np.mean(strength**2))
    above = np.flatnonzero(local > threshold)
    if above.size == 0:
        return beats
    return beats[(beats >= above[0]) & (beats <= above[-1])]
