"""Background music: preset tracks, custom tracks fitted to the reel, analysis and ducking.

This module is the engine's one entry point for music; the work is done in `music_synth`
(synthesis), `music_analysis` (beats, downbeats, energy) and `ducking` (the gain envelope).

Typical use for a reel of ``reel_s`` seconds whose first word starts at ``first_word_s``::

    path = preset_track(preset, reel_s + bar_duration_s(preset), cache_dir=cache)  # room to offset
    samples = load_audio(path, sample_rate=48_000, mono=False)
    start_s = music_start_s(analyze_music(samples, 48_000), first_word_s)
    music = fit_track(samples, 48_000, reel_s, start_s=start_s)
    gains = ducking_envelope(speech_activity(voice, voice_sr), reel_s)
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path

import numpy as np

from reelflow.engine.audio import write_wav
from reelflow.engine.errors import InputError
from reelflow.engine.music.analysis import MusicAnalysis, analyze_music, music_start_s
from reelflow.engine.music.ducking import ducking_envelope, write_envelope_wav
from reelflow.engine.music.synth import SYNTH_VERSION, bar_duration_s, synthesize_preset
from reelflow.presets import MUSIC_PRESETS, MusicPreset

__all__ = [
    "MusicAnalysis",
    "analyze_music",
    "bar_duration_s",
    "choose_preset",
    "ducking_envelope",
    "fit_track",
    "music_start_s",
    "preset_track",
    "synthesize_preset",
    "write_envelope_wav",
]

LOOP_CROSSFADE_S = 0.2


def preset_track(
    preset: MusicPreset, duration_s: float, *, cache_dir: Path, sample_rate: int = 48_000
) -> Path:
    """A WAV of `preset` at least `duration_s` long (whole bars), rendered once and cached.

    The file name carries a digest of the preset's parameters, the bar count, the sample rate and
    the synthesiser version, so any change renders a new file and an unchanged request is a cache
    hit. Ask for a bar more than the reel if playback will start at `music_start_s`.
    """
    if not math.isfinite(duration_s) or duration_s <= 0:
        raise InputError(f"duration must be positive, got {duration_s}", field="duration_s")
    bars = max(1, math.ceil(duration_s / bar_duration_s(preset) - 1e-9))
    key = {"preset": asdict(preset), "bars": bars, "rate": sample_rate, "synth": SYNTH_VERSION}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    safe_name = re.sub(r"[^A-Za-z0-9_-]+", "_", preset.name)
    path = Path(cache_dir) / f"music-{safe_name}-{bars}bars-{sample_rate}hz-{digest}.wav"
    if path.is_file() and path.stat().st_size > 0:
        return path
    samples = synthesize_preset(preset, bars * bar_duration_s(preset), sample_rate=sample_rate)
    return write_wav(path, samples, sample_rate)


def fit_track(
    samples: np.ndarray,
    sample_rate: int,
    duration_s: float,
    *,
    start_s: float = 0.0,
    fade_in_s: float = 0.0,
    fade_out_s: float = 1.5,
) -> np.ndarray:
    """`duration_s` of a track from `start_s`: looped when too short, trimmed, faded at the end.

    Loops join the track's end to its start with an equal-power crossfade of `LOOP_CROSSFADE_S`
    (at most a quarter of the track), so the loop period is the length minus the crossfade.
    Returns float32 with the layout of `samples` (``(n,)`` or ``(n, channels)``).
    """
    x = _track(samples, sample_rate)
    for name, value in (("start_s", start_s), ("fade_in_s", fade_in_s), ("fade_out_s", fade_out_s)):
        if not math.isfinite(value) or value < 0:
            raise InputError(f"{name} must be >= 0, got {value}", field=name)
    if not math.isfinite(duration_s) or duration_s <= 0:
        raise InputError(f"duration must be positive, got {duration_s}", field="duration_s")
    n = max(1, round(duration_s * sample_rate))
    out = _looped(x, round(start_s * sample_rate), n, round(LOOP_CROSSFADE_S * sample_rate))
    fade_in = _fade(min(n, round(fade_in_s * sample_rate)))
    fade_out = _fade(min(n, round(fade_out_s * sample_rate)))[::-1]
    shape = (-1,) + (1,) * (out.ndim - 1)
    out[: fade_in.size] *= fade_in.reshape(shape)
    out[n - fade_out.size :] *= fade_out.reshape(shape)
    return out.astype(np.float32)


def _track(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    x = np.asarray(samples)
    if x.ndim not in (1, 2) or x.shape[0] == 0 or (x.ndim == 2 and x.shape[1] == 0):
        raise InputError("music track has no samples", field="music.file")
    if not np.all(np.isfinite(x)):
        raise InputError("music track contains NaN or infinity", field="music.file")
    if int(sample_rate) != sample_rate or sample_rate <= 0:
        raise InputError(
            f"sample rate must be a positive integer, got {sample_rate}", field="music"
        )
    return x.astype(np.float32)


def _looped(x: np.ndarray, start: int, n: int, crossfade: int) -> np.ndarray:
    """Samples ``start .. start + n`` of `x` repeated forever, each seam crossfaded."""
    length = x.shape[0]
    if start + n <= length:
        return x[start : start + n].copy()
    xf = min(crossfade, length // 4)
    period = length - xf
    cycle = x[:period].copy()  # one loop: the crossfaded seam, then the rest of the track
    if xf:
        u = (np.arange(xf) + 0.5) / xf
        shape = (-1,) + (1,) * (x.ndim - 1)
        rise, fall = np.sin(np.pi / 2 * u).reshape(shape), np.cos(np.pi / 2 * u).reshape(shape)
        cycle[:xf] = x[:xf] * rise + x[period:] * fall
    out = np.empty((n, *x.shape[1:]), dtype=np.float32)
    pos, done = start, 0
    while done < n:
        # The first pass plays the track's own start (no seam); later passes play the cycle.
        chunk = x[pos:period] if pos < period else cycle[(pos - period) % period :]
        take = min(chunk.shape[0], n - done)
        out[done : done + take] = chunk[:take]
        done, pos = done + take, pos + take
    return out


def _fade(n: int) -> np.ndarray:
    """Raised-cosine fade-in gains of `n` samples, from exactly 0 to exactly 1."""
    if n <= 1:
        return np.ones(n, dtype=np.float32)
    return (0.5 - 0.5 * np.cos(np.pi * np.arange(n) / (n - 1))).astype(np.float32)


# Speaking rate to musical tempo: 120 wpm (calm narration) -> 90 BPM, 180 wpm (fast hype) ->
# 140 BPM, linear between and clamped to 85..145 BPM.
_SLOW_WPM, _SLOW_BPM, _FAST_WPM, _FAST_BPM = 120.0, 90.0, 180.0, 140.0
_ENERGY_WEIGHT = 1.5


def choose_preset(
    *,
    words_per_minute: float,
    voice_energy: float,
    presets: Mapping[str, MusicPreset] = MUSIC_PRESETS,
) -> str:
    """Name of the preset whose tempo and mood best fit a voice (for ``music.preset: auto``).

    The speaking rate sets a target tempo (120 wpm -> 90 BPM ... 180 wpm -> 140 BPM, clamped to
    85..145) and the voice's energy (0 calm .. 1 excited) is the target for the preset's energy,
    which stands for its mood. A preset's cost is its tempo distance in octaves, scaled so the
    span of the built-in presets (90..140 BPM) counts 1, plus 1.5 x its energy distance. With the
    built-in presets that gives (columns: voice energy):

    ========  ======  ======  ========  ========  ========
    wpm       0.1     0.3     0.5       0.7       0.9
    ========  ======  ======  ========  ========  ========
    <= 120    chill   chill   chill     dramatic  dramatic
    130       chill   chill   dramatic  dramatic  dramatic
    140       chill   chill   dramatic  dramatic  gaming
    150       chill   chill   dramatic  upbeat    gaming
    160       chill   chill   upbeat    upbeat    gaming
    >= 170    upbeat  upbeat  upbeat    upbeat    gaming
    ========  ======  ======  ========  ========  ========
    """
    if not math.isfinite(words_per_minute) or not 0 < words_per_minute <= 600:
        raise InputError(
            f"speaking rate must be 0..600 words per minute, got {words_per_minute}",
            field="words_per_minute",
        )
    if not math.isfinite(voice_energy) or not 0 <= voice_energy <= 1:
        raise InputError(f"voice energy must be 0..1, got {voice_energy}", field="voice_energy")
    if not presets:
        raise InputError("no music presets to choose from", field="music.preset")
    slope = (_FAST_BPM - _SLOW_BPM) / (_FAST_WPM - _SLOW_WPM)
    target_bpm = float(np.clip(_SLOW_BPM + (words_per_minute - _SLOW_WPM) * slope, 85, 145))
    span = math.log2(_FAST_BPM / _SLOW_BPM)

    def cost(p: MusicPreset) -> float:
        tempo = abs(math.log2(p.bpm / target_bpm)) / span
        return tempo + _ENERGY_WEIGHT * abs(p.energy - voice_energy)

    return min(presets.values(), key=cost).name
