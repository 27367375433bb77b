"""Auto-ducking: a gain envelope that lowers the music under speech and restores it in pauses.

Each speech segment becomes a "duck amount" that is 1 from the segment's start until `hold_s`
after its end, ramps in over `attack_s` *before* the speech starts (look-ahead, so the first
syllable is already clear) and ramps out over `release_s` after the hold. Ramps are raised
cosines; overlapping segments take the larger amount, so a gap shorter than the hold plus the
attack never releases. The amount maps to gain in decibels (``-duck_db * amount``), which is how
the ear hears a fade.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import soundfile as sf

from reelflow.engine.audio import Segment
from reelflow.engine.errors import InputError
from reelflow.engine.ffmpeg import atomic_output


def ducking_envelope(
    speech: Sequence[Segment],
    duration_s: float,
    *,
    duck_db: float = 11.0,
    attack_s: float = 0.08,
    release_s: float = 0.4,
    hold_s: float = 0.25,
    rate_hz: int = 100,
) -> np.ndarray:
    """Linear music gain at ``k / rate_hz`` seconds, ``k = 0 .. ceil(duration_s * rate_hz) - 1``.

    1.0 in pauses and ``10 ** (-duck_db / 20)`` under speech. The largest change between two
    steps is ``duck_db * pi / (2 * ramp_s * rate_hz)`` dB for the shorter of attack and release.
    """
    _validate(speech, duration_s, duck_db, (attack_s, release_s, hold_s), rate_hz)
    n = max(1, math.ceil(duration_s * rate_hz - 1e-9))
    t = np.arange(n) / rate_hz
    amount = np.zeros(n)
    for seg in speech:
        if seg.end_s <= seg.start_s or seg.start_s >= duration_s + attack_s:
            continue
        rise = _edge(t - (seg.start_s - attack_s), attack_s)
        fall = _edge(seg.end_s + hold_s + release_s - t, release_s)
        np.maximum(amount, np.minimum(rise, fall), out=amount)
    return (10.0 ** (-duck_db * amount / 20.0)).astype(np.float32)


def _edge(x_s: np.ndarray, ramp_s: float) -> np.ndarray:
    """Raised cosine from 0 (x <= 0) to 1 (x >= ramp_s), flat at both ends; a step if no ramp."""
    if ramp_s <= 0:
        return (x_s >= 0).astype(np.float64)
    return 0.5 - 0.5 * np.cos(np.pi * np.clip(x_s / ramp_s, 0.0, 1.0))


def _validate(
    speech: Sequence[Segment],
    duration_s: float,
    duck_db: float,
    times_s: tuple[float, float, float],
    rate_hz: int,
) -> None:
    if not math.isfinite(duration_s) or duration_s <= 0:
        raise InputError(f"duration must be positive, got {duration_s}", field="duration_s")
    if not math.isfinite(duck_db) or not 0 <= duck_db <= 60:
        raise InputError(f"duck amount must be 0..60 dB, got {duck_db}", field="duck_db")
    if any(not math.isfinite(x) or x < 0 for x in times_s):
        raise InputError("attack, release and hold must be >= 0 s", field="music.auto_duck")
    if int(rate_hz) != rate_hz or rate_hz <= 0:
        raise InputError(
            f"envelope rate must be a positive integer, got {rate_hz}", field="rate_hz"
        )
    for seg in speech:
        if not (math.isfinite(seg.start_s) and math.isfinite(seg.end_s)) or seg.end_s < seg.start_s:
            raise InputError(f"speech segment ends before it starts: {seg}", field="speech")


def write_envelope_wav(
    envelope: np.ndarray,
    rate_hz: int,
    path: str | os.PathLike[str],
    *,
    sample_rate: int = 48_000,
) -> Path:
    """Write a gain envelope as a mono 32-bit float WAV at `sample_rate`, atomically.

    Linear interpolation between the envelope's steps, so ffmpeg's ``amultiply`` can apply it
    sample by sample without resampling (and without the ringing a sinc resampler would add to
    a 100 Hz control signal). The file lasts ``len(envelope) / rate_hz`` seconds.
    """
    envelope = np.asarray(envelope, dtype=np.float64)
    if envelope.ndim != 1 or envelope.size == 0 or not np.all(np.isfinite(envelope)):
        raise InputError("envelope must be a non-empty 1-D array of finite gains", field="envelope")
    if (
        int(rate_hz) != rate_hz
        or rate_hz <= 0
        or int(sample_rate) != sample_rate
        or sample_rate <= 0
    ):
        raise InputError("rates must be positive integers", field="rate_hz")
    n = round(envelope.size * sample_rate / rate_hz)
    t = np.arange(n) / sample_rate
    gains = np.interp(t, np.arange(envelope.size) / rate_hz, envelope).astype(np.float32)
    final = Path(path)
    with atomic_output(final) as tmp:
        sf.write(tmp, gains, int(sample_rate), subtype="FLOAT", format="WAV")
    return final
