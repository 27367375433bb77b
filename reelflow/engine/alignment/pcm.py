"""Audio as the aligner wants it: 16 kHz mono 16-bit, with slipped PCM bytes put back.

A 16-bit PCM stream that loses or gains one byte (a broken copy, a bad concatenation) is read
with every later sample's bytes straddling two samples: from that point on the "speech" is
loud broadband noise and no aligner can follow it. About one read sentence in five of the
align-dev sample has such a slip. The signal is still all there, one byte over: reading the
stream from the next byte restores it exactly. We decide, per 10 ms block, which of the two
readings is a plausible audio signal (the smoother one) with a two-state Viterbi path that
pays for every switch, so real audio is never "repaired".
"""

from __future__ import annotations

import numpy as np

TARGET_RATE = 16_000
_BLOCK = 160
_SWITCH_COST = 7.6  # in log-roughness units per block: a slip must be clearly better to win


def is_pcm16(samples: np.ndarray) -> bool:
    """Whether float samples are exactly 16-bit values (k / 32768), i.e. decoded 16-bit PCM."""
    probe = samples[: 1 << 16].astype(np.float64) * 32768.0
    return bool(probe.size) and bool(np.all(probe == np.round(probe)))


def repair_byte_slips(pcm: np.ndarray) -> tuple[np.ndarray, int]:
    """Undo one-byte slips in int16 `pcm`; returns the repaired copy and the samples changed."""
    if pcm.size < 4 * _BLOCK:
        return pcm, 0
    shifted = np.ascontiguousarray(pcm, dtype="<i2").view(np.uint8)[1:-1].view("<i2")
    n_blocks = (pcm.size - 1) // _BLOCK  # the shifted reading is one sample shorter
    cost_as_is = _log_roughness(pcm, n_blocks)
    cost_shifted = _log_roughness(shifted, n_blocks)
    if not np.any(cost_shifted < cost_as_is - 1.0):
        return pcm, 0  # the common case: the shifted reading is never even close
    path = _two_state_path(cost_as_is, cost_shifted, _SWITCH_COST)
    if not path.any():
        return pcm, 0
    out = pcm.astype(np.int16)  # a copy
    for block in np.flatnonzero(path):
        a = block * _BLOCK
        out[a : a + _BLOCK] = shifted[a : a + _BLOCK]
    if path[-1]:  # the slip runs to the end
        out[n_blocks * _BLOCK : pcm.size - 1] = shifted[n_blocks * _BLOCK :]
    return out, int(path.sum()) * _BLOCK


def _log_roughness(x: np.ndarray, n_blocks: int) -> np.ndarray:
    """Log of the mean absolute sample-to-sample step per block: low for audio, high for noise."""
    out = np.empty(n_blocks)
    step = 1 << 12  # blocks per chunk, to keep int32 temporaries small on long audio
    for b0 in range(0, n_blocks, step):
        b1 = min(n_blocks, b0 + step)
        head = x[max(0, b0 * _BLOCK - 1) : b1 * _BLOCK].astype(np.int32)
        if b0 == 0:
            head = np.concatenate([head[:1], head])  # the first sample steps from itself
        steps = np.abs(np.diff(head))
        out[b0:b1] = np.log1p(steps.reshape(b1 - b0, _BLOCK).mean(axis=1, dtype=np.float64))
    return out


def _two_state_path(cost0: np.ndarray, cost1: np.ndarray, switch: float) -> np.ndarray:
    """Cheapest sequence of states (False = cost0, True = cost1) with a price per switch."""
    n = cost0.size
    back = np.zeros((n, 2), dtype=bool)  # True: came from the other state
    acc0, acc1 = float(cost0[0]), float(cost1[0]) + switch
    for i in range(1, n):
        from0, from1 = acc1 + switch < acc0, acc0 + switch < acc1
        back[i] = (from0, from1)
        acc0, acc1 = (
            min(acc0, acc1 + switch) + cost0[i],
            min(acc1, acc0 + switch) + cost1[i],
        )
    state = acc1 < acc0
    path = np.empty(n, dtype=bool)
    for i in range(n - 1, -1, -1):
        path[i] = state
        if back[i, int(state)]:
            state = not state
    return path


def to_pcm16(samples: np.ndarray, sample_rate: int) -> tuple[np.ndarray, int]:
    """Audio (float in [-1, 1], mono or channels last, or mono int16) -> int16 at 16 kHz.

    Returns the samples and how many the slip repair changed (16-bit input only). A whisper
    of dither (one least significant bit) keeps digital silence from confusing the
    recogniser. Works chunk by chunk, so long audio needs little memory beyond its own size.
    """
    mono = samples if samples.ndim == 1 else samples.mean(axis=1, dtype=np.float32)
    ints = mono if mono.dtype == np.int16 else _quantised(mono) if is_pcm16(mono) else None
    if ints is None:
        if sample_rate != TARGET_RATE:
            mono = resample(mono, sample_rate, TARGET_RATE)
        return _dithered(_quantised(mono)), 0
    ints, repaired = repair_byte_slips(ints)
    if sample_rate != TARGET_RATE:
        ints = _rounded(resample(ints, sample_rate, TARGET_RATE))
    return _dithered(ints), repaired


_CHUNK = 1 << 20


def _quantised(x: np.ndarray) -> np.ndarray:
    """Float samples in [-1, 1] as int16 (NaN as silence, infinities clipped)."""
    out = np.empty(x.size, dtype=np.int16)
    for a in range(0, x.size, _CHUNK):
        part = np.nan_to_num(x[a : a + _CHUNK].astype(np.float32), nan=0.0, posinf=1.0, neginf=-1.0)
        out[a : a + _CHUNK] = np.clip(np.round(part * np.float32(32768.0)), -32768, 32767)
    return out


def _rounded(x: np.ndarray) -> np.ndarray:
    """Float samples already in 16-bit units as int16."""
    out = np.empty(x.size, dtype=np.int16)
    for a in range(0, x.size, _CHUNK):
        out[a : a + _CHUNK] = np.clip(np.round(x[a : a + _CHUNK]), -32768, 32767)
    return out


def _dithered(pcm: np.ndarray) -> np.ndarray:
    """Add Gaussian dither of one least significant bit, deterministically (same audio, same
    result), so that digital silence still has a noise floor."""
    rng = np.random.default_rng(0)
    out = np.empty_like(pcm)
    for a in range(0, pcm.size, _CHUNK):
        part = pcm[a : a + _CHUNK].astype(np.float32)
        part += rng.standard_normal(part.size, dtype=np.float32)
        out[a : a + _CHUNK] = np.clip(np.round(part), -32768, 32767)
    return out


def resample(x: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """High-quality resampling (soxr) chunk by chunk, float32 out in the units of `x`: one
    stream, so chunk edges leave no trace, with bounded temporaries on long audio.

    soxr, not scipy's resample_poly: importing scipy.signal costs 1.3-2.8 s of CPU here, paid
    by every process that aligns a voice not recorded at 16 kHz.
    """
    import soxr

    stream = soxr.ResampleStream(int(rate_in), int(rate_out), 1, dtype="float32", quality="HQ")
    parts = []
    for a in range(0, x.size, _CHUNK):
        chunk = x[a : a + _CHUNK].astype(np.float32)
        parts.append(stream.resample_chunk(chunk, last=a + _CHUNK >= x.size))
    if not parts:
        return np.zeros(0, dtype=np.float32)
    return np.concatenate(parts)
