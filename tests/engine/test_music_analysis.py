"""Music analysis measured on real audio: synthesised presets and a hand-made click track."""

from __future__ import annotations

import numpy as np
import pytest

from reelflow.engine.errors import InputError
from reelflow.engine.music.analysis import MusicAnalysis, analyze_music, music_start_s
from reelflow.engine.music.synth import bar_duration_s, synthesize_preset
from reelflow.presets import MUSIC_PRESETS

RATE = 48_000
GRID_TOLERANCE_S = 0.02


@pytest.fixture(scope="module")
def rendered() -> dict[str, tuple[np.ndarray, MusicAnalysis]]:
    """10 s of each preset and its analysis."""
    out = {}
    for name, preset in MUSIC_PRESETS.items():
        samples = synthesize_preset(preset, 10.0, sample_rate=RATE)
        out[name] = (samples, analyze_music(samples, RATE))
    return out


def _off_grid_s(times, period_s: float) -> np.ndarray:
    times = np.asarray(times)
    return np.abs(times - np.round(times / period_s) * period_s)


@pytest.mark.parametrize("name", sorted(MUSIC_PRESETS))
def test_measured_tempo_is_within_2_bpm_of_nominal(rendered, name):
    _, analysis = rendered[name]

    assert analysis.tempo_bpm == pytest.approx(MUSIC_PRESETS[name].bpm, abs=2.0)


@pytest.mark.parametrize("name", sorted(MUSIC_PRESETS))
def test_beats_and_downbeats_sit_on_the_synthesised_grid(rendered, name):
    preset = MUSIC_PRESETS[name]
    _, analysis = rendered[name]
    beat_s, bar_s = 60.0 / preset.bpm, bar_duration_s(preset)

    assert len(analysis.beat_times_s) >= 0.9 * 10.0 / beat_s
    assert _off_grid_s(analysis.beat_times_s, beat_s).max() < GRID_TOLERANCE_S
    assert len(analysis.strong_beat_times_s) >= 4
    assert _off_grid_s(analysis.strong_beat_times_s, bar_s).max() < GRID_TOLERANCE_S
    assert np.all(np.diff(analysis.strong_beat_times_s) > 0.9 * bar_s)


@pytest.mark.parametrize("name", sorted(MUSIC_PRESETS))
def test_energy_envelope_is_normalised_and_its_peaks_are_sparse(rendered, name):
    _, analysis = rendered[name]
    energy = np.asarray(analysis.energy)

    assert energy.max() == pytest.approx(1.0)
    assert energy.min() >= 0.0
    assert len(energy) * analysis.energy_hop_s == pytest.approx(10.0, abs=0.1)
    peaks = analysis.energy_peak_times_s
    assert 1 <= len(peaks) <= len(analysis.beat_times_s) / 2
    assert np.all(np.diff(peaks) >= 2 * 60.0 / analysis.tempo_bpm - analysis.energy_hop_s)


def test_analysis_measures_the_audio_not_a_nominal_tempo():
    """A click track at 117 BPM with every 4th click louder and lower, from its second beat."""
    rate, bpm, start_s = 22_050, 117.0, 0.3
    samples = np.zeros(int(12.0 * rate), dtype=np.float32)
    t = np.arange(int(0.05 * rate)) / rate
    for k in range(int((12.0 - start_s) * bpm / 60)):
        accent = k % 4 == 1
        click = np.sin(2 * np.pi * (150 if accent else 1_000) * t) * np.exp(-t / 0.01)
        at = int((start_s + k * 60 / bpm) * rate)
        samples[at : at + t.size] += (0.9 if accent else 0.4) * click[: samples.size - at]

    analysis = analyze_music(samples, rate)

    assert analysis.tempo_bpm == pytest.approx(bpm, abs=1.0)
    first_strong = start_s + 60 / bpm
    assert _off_grid_s(np.asarray(analysis.strong_beat_times_s) - first_strong, 240 / bpm).max() < (
        GRID_TOLERANCE_S
    )


@pytest.mark.parametrize(("name", "first_word_s"), [("upbeat", 1.3), ("chill", 0.45)])
def test_music_start_puts_a_strong_beat_on_the_first_word(rendered, name, first_word_s):
    samples, analysis = rendered[name]

    offset_s = music_start_s(analysis, first_word_s)

    assert 0.0 <= offset_s < bar_duration_s(MUSIC_PRESETS[name]) + first_word_s
    played = samples[round(offset_s * RATE) :]  # what the reel hears from t = 0
    heard = analyze_music(played, RATE).strong_beat_times_s
    assert min(abs(t - first_word_s) for t in heard) < GRID_TOLERANCE_S


def test_music_start_picks_the_first_strong_beat_at_or_after_the_word():
    analysis = MusicAnalysis(120.0, (0.0, 0.5, 1.0), (0.0, 2.0, 4.0), 0.02, (1.0,), ())

    assert music_start_s(analysis, 2.0) == pytest.approx(0.0)
    assert music_start_s(analysis, 1.5) == pytest.approx(0.5)
    # Beyond the analysed downbeats the bar grid (2 s at 120 BPM) is extended.
    assert music_start_s(analysis, 4.5) == pytest.approx(1.5)


def test_music_start_without_beats_is_zero():
    silence = np.zeros(3 * RATE, dtype=np.float32)

    analysis = analyze_music(silence, RATE)

    assert analysis.beat_times_s == ()
    assert analysis.tempo_bpm == 0.0
    assert music_start_s(analysis, 1.0) == 0.0


def test_negative_first_word_time_is_an_input_error(rendered):
    with pytest.raises(InputError):
        music_start_s(rendered["upbeat"][1], -0.1)


@pytest.mark.parametrize(
    "samples",
    [np.zeros(0, dtype=np.float32), np.zeros((0, 2), dtype=np.float32), np.full(100, np.nan)],
)
def test_empty_or_broken_samples_are_an_input_error(samples):
    with pytest.raises(InputError):
        analyze_music(samples, RATE)
