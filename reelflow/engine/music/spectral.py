"""The few spectral pieces of librosa 0.11 the music analysis uses, in numpy alone.

Same conventions and results as librosa (tests/engine/test_music_spectral.py compares them):
centred frames with zero padding, a periodic Hann window, Slaney mel filters, librosa's chroma
filters, onset envelopes shifted so frame k is centred at ``k * hop_length``. Two differences,
both for memory: the STFT is float32 and computed a block of frames at a time, so a long track
never holds a full ``n_fft``-by-frames array; and leading axes are a batch (`power_to_db` takes
its maximum per spectrogram), so many short excerpts cost one call.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence

import numpy as np

_BLOCK_SAMPLES = 1 << 20  # windowed samples per FFT block: 4 MB of float32


def hann(n: int) -> np.ndarray:
    """Periodic Hann window of `n` points (scipy's ``get_window("hann", n)``)."""
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)


def frame(y: np.ndarray, *, frame_length: int, hop_length: int) -> np.ndarray:
    """Read-only view ``(..., n_frames, frame_length)``; frame k starts at ``k * hop_length``."""
    windows = np.lib.stride_tricks.sliding_window_view(y, frame_length, axis=-1)
    return windows[..., ::hop_length, :]


def iter_stft(y: np.ndarray, *, n_fft: int, hop_length: int) -> Iterator[np.ndarray]:
    """Complex64 spectra of consecutive blocks of centred frames, ``(..., frames, 1 + n_fft//2)``.

    `y` is zero-padded by ``n_fft // 2`` at both ends, so frame k is centred at sample
    ``k * hop_length`` and there are ``1 + len // hop_length`` frames.
    """
    y = np.asarray(y, dtype=np.float32)
    half = n_fft // 2
    frames = frame(
        np.pad(y, [(0, 0)] * (y.ndim - 1) + [(half, half)]),
        frame_length=n_fft,
        hop_length=hop_length,
    )
    window = hann(n_fft).astype(np.float32)
    step = max(1, _BLOCK_SAMPLES // (n_fft * max(1, int(np.prod(y.shape[:-1])))))
    for start in range(0, frames.shape[-2], step):
        yield np.fft.rfft(frames[..., start : start + step, :] * window, axis=-1)


def stft(y: np.ndarray, *, n_fft: int, hop_length: int) -> np.ndarray:
    """``librosa.stft(y, n_fft=n_fft, hop_length=hop_length)``: ``(..., 1 + n_fft//2, frames)``."""
    blocks = list(iter_stft(y, n_fft=n_fft, hop_length=hop_length))
    return np.concatenate(blocks, axis=-2).swapaxes(-1, -2)


def filtered_power(
    y: np.ndarray, filterbanks: Sequence[np.ndarray], *, n_fft: int, hop_length: int
) -> list[np.ndarray]:
    """Each filterbank ``(bands, 1 + n_fft//2)`` applied to the power spectrogram of `y`, from one
    STFT pass: a list of float32 ``(..., bands, frames)``. Only the filtered bands are kept.

    Each band sums only the bins where its filter is non-zero (a mel band spans a few bins), and
    with einsum rather than a BLAS matrix product: OpenBLAS's thread pool, woken for these small
    products, spun for more CPU than the whole analysis on a busy two-core worker.
    """
    y = np.asarray(y, dtype=np.float32)
    banks = [np.asarray(bank, dtype=np.float32) for bank in filterbanks]
    spans = [[_nonzero_span(row) for row in bank] for bank in banks]
    n_frames = 1 + y.shape[-1] // hop_length
    out = [np.zeros((*y.shape[:-1], len(bank), n_frames), dtype=np.float32) for bank in banks]
    start = 0
    for spectrum in iter_stft(y, n_fft=n_fft, hop_length=hop_length):
        power = np.abs(spectrum) ** 2
        stop = start + power.shape[-2]
        for bands, bank, bank_spans in zip(out, banks, spans, strict=True):
            for m, (lo, hi) in enumerate(bank_spans):
                bands[..., m, start:stop] = np.einsum(
                    "...tf,f->...t", power[..., lo:hi], bank[m, lo:hi]
                )
        start = stop
    return out


def _nonzero_span(row: np.ndarray) -> tuple[int, int]:
    nonzero = np.flatnonzero(row)
    return (int(nonzero[0]), int(nonzero[-1]) + 1) if nonzero.size else (0, 0)


_MEL_LINEAR_HZ = 200.0 / 3  # Hz per mel below 1 kHz
_MEL_LOG_START = 1000.0 / _MEL_LINEAR_HZ  # 15 mels: 1 kHz
_MEL_LOG_STEP = np.log(6.4) / 27.0  # log(Hz) per mel above 1 kHz


def hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: linear to 1 kHz, logarithmic above (librosa's htk=False)."""
    hz = np.asarray(hz, dtype=np.float64)
    above = _MEL_LOG_START + np.log(np.maximum(hz, 1000.0) / 1000.0) / _MEL_LOG_STEP
    return np.where(hz >= 1000.0, above, hz / _MEL_LINEAR_HZ)


def mel_to_hz(mels: np.ndarray) -> np.ndarray:
    mels = np.asarray(mels, dtype=np.float64)
    above = 1000.0 * np.exp(_MEL_LOG_STEP * (np.maximum(mels, _MEL_LOG_START) - _MEL_LOG_START))
    return np.where(mels >= _MEL_LOG_START, above, _MEL_LINEAR_HZ * mels)


def mel_filters(
    *, sr: float, n_fft: int, n_mels: int = 128, fmin: float = 0.0, fmax: float | None = None
) -> np.ndarray:
    """``librosa.filters.mel``: triangular Slaney filters, area-normalised, ``(n_mels, bins)``."""
    fmax = float(sr) / 2 if fmax is None else fmax
    mel_f = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    ramps = np.subtract.outer(mel_f, np.fft.rfftfreq(n_fft, 1.0 / sr))
    fdiff = np.diff(mel_f)[:, None]
    lower, upper = -ramps[:-2] / fdiff[:-1], ramps[2:] / fdiff[1:]
    weights = np.maximum(0.0, np.minimum(lower, upper)).astype(np.float32)
    weights *= (2.0 / (mel_f[2:] - mel_f[:-2]))[:, None]  # equal area, as librosa: in float32
    return weights


def chroma_filters(*, sr: float, n_fft: int, n_chroma: int = 12) -> np.ndarray:
    """``librosa.filters.chroma`` at tuning 0 (Gaussian bumps per pitch class around C5, two
    octaves wide, rows from C): ``(n_chroma, bins)``."""
    octs = np.log2(np.linspace(0, sr, n_fft, endpoint=False)[1:] / (440.0 / 16))
    bins = np.concatenate([[n_chroma * octs[0] - 1.5 * n_chroma], n_chroma * octs])
    widths = np.concatenate([np.maximum(np.diff(bins), 1.0), [1.0]])
    half = np.round(n_chroma / 2)
    dist = np.subtract.outer(np.arange(n_chroma, dtype=np.float64), bins)
    dist = np.remainder(-dist + half + 10 * n_chroma, n_chroma) - half
    weights = np.exp(-0.5 * (2 * dist / widths) ** 2)
    weights /= np.sqrt(np.sum(weights**2, axis=0, keepdims=True))  # never 0: Gaussians
    weights *= np.exp(-0.5 * ((bins / n_chroma - 5.0) / 2.0) ** 2)
    weights = np.roll(weights, -3 * (n_chroma // 12), axis=0)
    return np.ascontiguousarray(weights[:, : 1 + n_fft // 2], dtype=np.float32)


def power_to_db(power: np.ndarray, *, amin: float = 1e-10, top_db: float = 80.0) -> np.ndarray:
    """10·log10 of `power` (reference 1.0), floored `top_db` below the maximum of each
    spectrogram (its last two axes; earlier axes are a batch)."""
    db = np.maximum(amin, power)
    np.log10(db, out=db)
    db *= 10.0
    axes = tuple(range(max(0, db.ndim - 2), db.ndim))
    return np.maximum(db, db.max(axis=axes, keepdims=True) - top_db, out=db)


def onset_strength_db(db: np.ndarray, *, n_fft: int, hop_length: int) -> np.ndarray:
    """librosa's spectral flux of a dB spectrogram ``(..., bands, frames)``: rise since the
    previous frame, negatives dropped, mean over bands, delayed so frames line up with the
    spectrogram's (the lag of 1 plus librosa's ``n_fft // (2 * hop_length)`` centring shift)."""
    rise = db[..., 1:] - db[..., :-1]
    flux = np.maximum(0.0, rise, out=rise).mean(axis=-2)
    delay = 1 + n_fft // (2 * hop_length)
    padded = np.pad(flux, [(0, 0)] * (flux.ndim - 1) + [(delay, 0)])
    return padded[..., : db.shape[-1]]


def onset_strength(
    y: np.ndarray, *, sr: float, n_fft: int = 2048, hop_length: int = 512, n_mels: int = 128
) -> np.ndarray:
    """``librosa.onset.onset_strength``; leading axes of `y` are a batch of signals."""
    basis = mel_filters(sr=sr, n_fft=n_fft, n_mels=n_mels)
    (mel,) = filtered_power(y, [basis], n_fft=n_fft, hop_length=hop_length)
    return onset_strength_db(power_to_db(mel), n_fft=n_fft, hop_length=hop_length)


def tempo(
    onset_env: np.ndarray,
    *,
    sr: float,
    hop_length: int,
    start_bpm: float = 120.0,
    std_bpm: float = 1.0,
    ac_size_s: float = 8.0,
    max_tempo: float = 320.0,
) -> float:
    """``librosa.feature.tempo`` (aggregate=mean): the lag of the mean autocorrelation tempogram
    (max-normalised per frame) under a log-normal prior around `start_bpm`, in BPM."""
    win = int(ac_size_s * sr) // hop_length
    n = onset_env.shape[-1]
    padded = np.pad(onset_env, win // 2, mode="linear_ramp", end_values=0)
    frames = frame(padded, frame_length=win, hop_length=1)[:n]
    window = hann(win)
    total = np.zeros(win)
    size = _fast_fft_size(2 * win - 1)  # no circular wrap-around; 689 frames -> 1440, not 1378
    step = max(1, _BLOCK_SAMPLES // (4 * size))
    for start in range(0, n, step):
        spectrum = np.fft.rfft(frames[start : start + step] * window, n=size, axis=-1)
        ac = np.fft.irfft(spectrum.real**2 + spectrum.imag**2, n=size, axis=-1)[:, :win]
        peak = np.abs(ac).max(axis=-1, keepdims=True)
        total += np.sum(ac / np.where(peak < np.finfo(np.float64).tiny, 1.0, peak), axis=0)
    bpms = np.full(win, np.inf)
    bpms[1:] = 60.0 * sr / (hop_length * np.arange(1.0, win))
    with np.errstate(invalid="ignore"):
        logprior = -0.5 * ((np.log2(bpms) - np.log2(start_bpm)) / std_bpm) ** 2
    logprior[: int(np.argmax(bpms < max_tempo))] = -np.inf
    return float(bpms[np.argmax(np.log1p(1e6 * (total / n)) + logprior)])


def _fast_fft_size(n: int) -> int:
    """The smallest even 5-smooth size >= `n` (pocketfft is slow on large prime factors)."""
    size = n + n % 2
    while True:
        rest = size
        for p in (2, 3, 5):
            while rest % p == 0:
                rest //= p
        if rest == 1:
            return size
        size += 2


def rms(y: np.ndarray, *, frame_length: int = 2048, hop_length: int = 512) -> np.ndarray:
    """``librosa.feature.rms(y=y, ...)[0]``: RMS of centred, zero-padded frames (float32)."""
    y = np.asarray(y, dtype=np.float32)
    half = frame_length // 2
    frames = frame(np.pad(y, (half, half)), frame_length=frame_length, hop_length=hop_length)
    step = max(1, _BLOCK_SAMPLES // frame_length)
    power = [np.mean(np.square(frames[s : s + step]), axis=-1) for s in range(0, len(frames), step)]
    return np.sqrt(np.concatenate(power))


def median_filter(x: np.ndarray, kernel_size: int) -> np.ndarray:
    """``scipy.signal.medfilt`` of a 1-D array: odd `kernel_size`, zeros beyond the ends."""
    if kernel_size % 2 != 1:
        raise ValueError(f"kernel size must be odd, got {kernel_size}")
    half = kernel_size // 2
    windows = frame(np.pad(x, (half, half)), frame_length=kernel_size, hop_length=1)
    step = max(1, _BLOCK_SAMPLES // (8 * kernel_size))
    parts = [np.median(windows[s : s + step], axis=-1) for s in range(0, len(windows), step)]
    return np.concatenate(parts).astype(x.dtype, copy=False)


def find_peaks(x: np.ndarray, *, height: float, distance: float, prominence: float) -> np.ndarray:
    """``scipy.signal.find_peaks(x, height=, distance=, prominence=)[0]`` for a 1-D array."""
    x = np.asarray(x, dtype=np.float64)
    peaks = _local_maxima(x)
    peaks = peaks[x[peaks] >= height]
    peaks = peaks[_far_apart(peaks, x[peaks], int(np.ceil(distance)))]
    return peaks[[_prominence(x, p) >= prominence for p in peaks]].astype(int)


def _local_maxima(x: np.ndarray) -> np.ndarray:
    """Samples higher than both neighbours; the middle (rounded down) of a flat top."""
    if x.size < 3:
        return np.zeros(0, dtype=int)
    starts = np.flatnonzero(np.concatenate([[True], x[1:] != x[:-1]]))
    ends = np.concatenate([starts[1:], [x.size]]) - 1
    values = x[starts]
    rises = np.concatenate([[False], values[1:] > values[:-1]])
    falls = np.concatenate([values[:-1] > values[1:], [False]])
    top = rises & falls
    return (starts[top] + ends[top]) // 2


def _far_apart(peaks: np.ndarray, priority: np.ndarray, distance: int) -> np.ndarray:
    """Keep mask: from the highest peak down, drop lower peaks closer than `distance`."""
    keep = np.ones(peaks.size, dtype=bool)
    for j in np.argsort(priority)[::-1]:
        if keep[j]:
            near = np.abs(peaks - peaks[j]) < distance
            near[j] = False
            keep[near] = False
    return keep


def _prominence(x: np.ndarray, peak: int) -> float:
    """Height above the higher of the lowest points on either side before higher ground."""
    higher_left = np.flatnonzero(x[:peak] > x[peak])
    higher_right = np.flatnonzero(x[peak + 1 :] > x[peak])
    left = higher_left[-1] + 1 if higher_left.size else 0
    right = peak + 1 + higher_right[0] if higher_right.size else x.size
    return float(x[peak] - max(x[left : peak + 1].min(), x[peak:right].min()))


def sync(
    data: np.ndarray, frames: np.ndarray, *, aggregate: Callable[..., np.ndarray] = np.median
) -> np.ndarray:
    """``librosa.util.sync(data, frames, aggregate=...)``: `aggregate` over the last axis between
    consecutive boundaries (0, the clipped `frames`, and the end, deduplicated)."""
    n = data.shape[-1]
    bounds = np.unique(np.concatenate([[0, n], np.clip(frames, 0, n)]).astype(int))
    columns = [aggregate(data[..., a:b], axis=-1) for a, b in itertools.pairwise(bounds)]
    return np.stack(columns, axis=-1).astype(data.dtype, copy=False)
