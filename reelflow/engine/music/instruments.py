"""Sounds of the music synthesiser: drum one-shots and pitched notes as numpy arrays, plus the
few filters the mixer shares with them.

Every generator returns a mono float64 array at `sample_rate` with a peak near 1 (the mixer sets
levels). Noise comes from fixed seeds, so the same call always yields the same samples.

scipy.signal is imported where it is used: it costs ~0.6 s, and a process that finds its music
in the library (or a reel without music) never needs it.
"""

from __future__ import annotations

import numpy as np


def midi_hz(note: float) -> float:
    """Frequency of a MIDI note number (69 = A4 = 440 Hz)."""
    return 440.0 * 2.0 ** ((note - 69.0) / 12.0)


def _time(duration_s: float, sample_rate: int) -> np.ndarray:
    return np.arange(max(1, round(duration_s * sample_rate))) / sample_rate


def _noise(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(n)


def butter_sos(sample_rate: int, kind: str, cutoff_hz, *, order: int = 2) -> np.ndarray:
    """Butterworth sections; cut-offs above 0.45 x the rate are lowered so any rate works."""
    from scipy import signal  # see the module docstring

    cutoff = np.minimum(np.asarray(cutoff_hz, dtype=np.float64), 0.45 * sample_rate)
    if cutoff.ndim:  # a band: keep it at least a quarter octave wide
        cutoff[0] = min(cutoff[0], cutoff[1] / 1.2)
    return signal.butter(order, cutoff, btype=kind, fs=sample_rate, output="sos")


def filtered(x: np.ndarray, sample_rate: int, kind: str, cutoff_hz) -> np.ndarray:
    """`x` through a second-order Butterworth filter (see `butter_sos`)."""
    from scipy import signal  # see the module docstring

    return signal.sosfilt(butter_sos(sample_rate, kind, cutoff_hz), x, axis=0)


_BLOCK = 1 << 17  # long tracks are processed in blocks of ~3 s to keep memory flat


def convolved(x: np.ndarray, h: np.ndarray) -> np.ndarray:
    """`x` convolved with `h`, cut to the length of `x` (overlap-add, block by block)."""
    from scipy import signal  # see the module docstring

    out = np.zeros(x.size, dtype=np.float32)
    for start in range(0, x.size, _BLOCK):
        y = signal.fftconvolve(x[start : start + _BLOCK], h)
        out[start : start + y.size] += y[: x.size - start]
    return out


def filtered_blocks(sos: np.ndarray, x: np.ndarray) -> np.ndarray:
    """`sosfilt` block by block, carrying the filter state across blocks."""
    from scipy import signal  # see the module docstring

    out = np.empty(x.size, dtype=np.float32)
    state = np.zeros((sos.shape[0], 2))
    for start in range(0, x.size, _BLOCK):
        out[start : start + _BLOCK], state = signal.sosfilt(
            sos, x[start : start + _BLOCK], zi=state
        )
    return out


def _normalised(x: np.ndarray) -> np.ndarray:
    peak = np.max(np.abs(x))
    return x / peak if peak > 0 else x


def _declick(x: np.ndarray, sample_rate: int, *, fade_s: float = 0.004) -> np.ndarray:
    """Short raised-cosine fade at the end so a cut-off note never clicks."""
    n = min(x.shape[0], max(1, round(fade_s * sample_rate)))
    x = x.copy()
    x[-n:] *= 0.5 + 0.5 * np.cos(np.linspace(0.0, np.pi, n))
    return x


def kick(
    sample_rate: int,
    start_hz: float,
    end_hz: float,
    pitch_decay_s: float,
    decay_s: float,
    click: float,
    drive: float,
) -> np.ndarray:
    """Sine with a falling pitch (the thump) plus a few milliseconds of noise (the beater)."""
    t = _time(decay_s * 5, sample_rate)
    freq = end_hz + (start_hz - end_hz) * np.exp(-t / pitch_decay_s)
    body = np.sin(2 * np.pi * np.cumsum(freq) / sample_rate) * np.exp(-t / decay_s)
    beater = filtered(_noise(t.size, 11), sample_rate, "bandpass", (1_500, 6_000))
    body += click * beater * np.exp(-t / 0.004)
    if drive > 0:
        body = np.tanh(body * (1 + drive)) / np.tanh(1 + drive)
    return _declick(_normalised(body), sample_rate)


def snare(
    sample_rate: int, *, tone_hz: float, decay_s: float, brightness_hz: float, seed: int
) -> np.ndarray:
    """Band-passed noise (the wires) over a short low tone (the drum head)."""
    t = _time(decay_s * 5, sample_rate)
    wires = filtered(_noise(t.size, seed), sample_rate, "bandpass", (900, brightness_hz))
    head = np.sin(2 * np.pi * tone_hz * t) * np.exp(-t / 0.045)
    out = wires * np.exp(-t / decay_s) + 0.6 * head
    return _declick(_normalised(out), sample_rate)


def clap(sample_rate: int, *, seed: int) -> np.ndarray:
    """Three quick noise bursts and a tail, band-passed around 1.5 kHz."""
    t = _time(0.35, sample_rate)
    env = np.exp(-t / 0.09)
    for offset_s in (0.0, 0.011, 0.022):
        shifted = np.clip(t - offset_s, 0, None)
        env += 0.8 * (t >= offset_s) * np.exp(-shifted / 0.006)
    out = filtered(_noise(t.size, seed), sample_rate, "bandpass", (800, 3_500)) * env
    return _declick(_normalised(out), sample_rate)


def hat(sample_rate: int, *, decay_s: float, highpass_hz: float, seed: int) -> np.ndarray:
    """High-passed noise with an exponential decay (closed or open by its decay)."""
    t = _time(decay_s * 5, sample_rate)
    noise = filtered(_noise(t.size, seed), sample_rate, "highpass", highpass_hz)
    return _declick(_normalised(noise * np.exp(-t / decay_s)), sample_rate)


def crash(sample_rate: int, *, decay_s: float, seed: int) -> np.ndarray:
    """A long shimmering noise wash for bar-line accents."""
    t = _time(decay_s * 3, sample_rate)
    noise = filtered(_noise(t.size, seed), sample_rate, "highpass", 3_500)
    return _declick(_normalised(noise * np.exp(-t / decay_s)), sample_rate)


def boom(sample_rate: int, *, freq_hz: float, decay_s: float, seed: int) -> np.ndarray:
    """A cinematic low hit: a falling sub tone with a thud of low-passed noise."""
    t = _time(decay_s * 4, sample_rate)
    freq = freq_hz * (1 + 0.6 * np.exp(-t / 0.05))
    tone = np.sin(2 * np.pi * np.cumsum(freq) / sample_rate) * np.exp(-t / decay_s)
    thud = filtered(_noise(t.size, seed), sample_rate, "lowpass", 300) * np.exp(-t / 0.12)
    return _declick(_normalised(tone + 0.5 * _normalised(thud)), sample_rate)


def pluck(
    freq_hz: float, duration_s: float, sample_rate: int, *, brightness: float, decay_s: float
) -> np.ndarray:
    """Additive pluck: upper harmonics die faster than the fundamental, like a plucked string."""
    t = _time(duration_s, sample_rate)
    k = np.arange(1, 16)
    k = k[k * freq_hz < min(12_000.0, sample_rate / 2.5)]
    amps = brightness ** (k - 1) / k
    decays = decay_s / (1 + 0.35 * (k - 1))
    parts = np.sin(2 * np.pi * freq_hz * np.outer(t, k)) * amps * np.exp(-np.outer(t, 1 / decays))
    attack = np.minimum(1.0, t / 0.003)
    return _declick(_normalised(parts.sum(axis=1) * attack), sample_rate)


def epiano(freq_hz: float, duration_s: float, sample_rate: int) -> np.ndarray:
    """Electric-piano tone: a sine with a quickly fading bell partial and a slow tremolo."""
    t = _time(duration_s, sample_rate)
    tone = np.sin(2 * np.pi * freq_hz * t) + 0.25 * np.sin(2 * np.pi * 2 * freq_hz * t)
    bell = 0.3 * np.sin(2 * np.pi * 7.02 * freq_hz * t) * np.exp(-t / 0.04)
    env = np.exp(-t / 1.6) * np.minimum(1.0, t / 0.004)
    tremolo = 1 - 0.15 * (0.5 - 0.5 * np.cos(2 * np.pi * 4.5 * t))
    return _declick(_normalised((tone * env + bell) * tremolo), sample_rate)


def saw_voice(
    freq_hz: float,
    duration_s: float,
    sample_rate: int,
    *,
    attack_s: float,
    release_s: float,
    detune_cents: float,
    cutoff_hz: float,
) -> np.ndarray:
    """Three detuned saws, low-passed, with a linear attack and a release tail (pads, strings)."""
    t = _time(duration_s + release_s, sample_rate)
    out = np.zeros_like(t)
    for i, cents in enumerate((-detune_cents, 0.0, detune_cents)):
        f = freq_hz * 2 ** (cents / 1200)
        out += 2 * np.mod(f * t + 0.31 * i, 1.0) - 1
    out = filtered(out, sample_rate, "lowpass", cutoff_hz)
    env = np.minimum(1.0, t / max(attack_s, 1e-3))
    held = t > duration_s
    env[held] *= np.exp(-(t[held] - duration_s) / max(release_s / 3, 1e-3))
    return _declick(_normalised(out * env), sample_rate)


def bass(
    freq_hz: float, duration_s: float, sample_rate: int, *, grit: float, cutoff_hz: float
) -> np.ndarray:
    """Sub sine plus a low-passed saw (`grit` 0..1 sets how much saw), short attack and release."""
    t = _time(duration_s, sample_rate)
    sub = np.sin(2 * np.pi * freq_hz * t)
    saw = filtered(2 * np.mod(freq_hz * t, 1.0) - 1, sample_rate, "lowpass", cutoff_hz)
    env = np.minimum(1.0, t / 0.005) * np.exp(-t / max(duration_s * 2.0, 0.05))
    return _declick(_normalised((sub + grit * saw) * env), sample_rate, fade_s=0.012)


def reverb_ir(sample_rate: int, *, decay_s: float, seed: int) -> np.ndarray:
    """Stereo impulse response of exponentially decaying, darkened noise, shape ``(n, 2)``."""
    t = _time(decay_s * 2.5, sample_rate)
    left, right = (
        filtered(_noise(t.size, seed + i), sample_rate, "lowpass", 5_000) for i in range(2)
    )
    env = np.exp(-t / (decay_s / 6.9)) * np.minimum(1.0, t / 0.01)  # -60 dB at decay_s
    ir = np.stack([left, right], axis=1) * env[:, None]
    return ir / np.sqrt(np.sum(ir**2) / 2)
