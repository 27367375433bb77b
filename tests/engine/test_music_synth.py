"""Synthesised music presets: shape, level, determinism and audible differences."""

from __future__ import annotations

import dataclasses
import itertools

import librosa
import numpy as np
import pytest

from reelflow.engine.errors import InputError
from reelflow.engine.music.synth import bar_duration_s, synthesize_preset
from reelflow.presets import MUSIC_PRESETS

RATE = 48_000


@pytest.fixture(scope="module")
def features() -> dict[str, dict[str, float]]:
    """Spectral centroid and onset density of 8 s of each preset."""
    out = {}
    for name, preset in MUSIC_PRESETS.items():
        mono = librosa.resample(
            synthesize_preset(preset, 8.0).mean(axis=1), orig_sr=RATE, target_sr=22_050
        )
        onsets = librosa.onset.onset_detect(y=mono, sr=22_050, units="time")
        out[name] = {
            "centroid_hz": float(librosa.feature.spectral_centroid(y=mono, sr=22_050).mean()),
            "onsets_per_s": len(onsets) / 8.0,
        }
    return out


@pytest.mark.parametrize("name", sorted(MUSIC_PRESETS))
def test_stereo_float32_of_the_requested_length_peaking_at_minus_3_dbfs(name):
    samples = synthesize_preset(MUSIC_PRESETS[name], 2.5)

    assert samples.shape == (round(2.5 * RATE), 2)
    assert samples.dtype == np.float32
    assert np.all(np.isfinite(samples))
    peak_db = 20 * np.log10(np.max(np.abs(samples)))
    assert peak_db == pytest.approx(-3.0, abs=0.05)
    assert not np.array_equal(samples[:, 0], samples[:, 1])  # a real stereo image


def test_same_call_gives_identical_samples():
    preset = MUSIC_PRESETS["chill"]

    first = synthesize_preset(preset, 3.0, sample_rate=22_050)
    second = synthesize_preset(preset, 3.0, sample_rate=22_050)

    assert np.array_equal(first, second)


def test_presets_differ_in_brightness_and_density(features):
    for a, b in itertools.combinations(features, 2):
        fa, fb = features[a], features[b]
        centroid_ratio = max(fa["centroid_hz"], fb["centroid_hz"]) / min(
            fa["centroid_hz"], fb["centroid_hz"]
        )
        density_ratio = max(fa["onsets_per_s"], fb["onsets_per_s"]) / min(
            fa["onsets_per_s"], fb["onsets_per_s"]
        )
        assert centroid_ratio > 1.1 or density_ratio > 1.2, (a, b, fa, fb)
    # The character each preset promises: lo-fi chill is the darkest, gaming the busiest.
    assert min(features, key=lambda n: features[n]["centroid_hz"]) == "chill"
    assert max(features, key=lambda n: features[n]["onsets_per_s"]) == "gaming"


@pytest.mark.parametrize("name", sorted(MUSIC_PRESETS))
def test_bar_downbeats_are_accented(name):
    preset = MUSIC_PRESETS[name]
    samples = synthesize_preset(preset, 8 * bar_duration_s(preset), sample_rate=22_050)
    mono, window = samples.mean(axis=1), round(0.15 * 22_050)
    starts = np.round(np.arange(32) * 60.0 / preset.bpm * 22_050).astype(int)
    level_db = np.array([10 * np.log10(np.mean(mono[s : s + window] ** 2)) for s in starts])
    by_position = level_db.reshape(8, 4).mean(axis=0)  # bars x beats

    assert by_position[0] > by_position[1:].max() + 1.5


def test_unknown_preset_gets_a_style_by_its_energy():
    custom = dataclasses.replace(MUSIC_PRESETS["gaming"], name="my-preset", bpm=150.0)

    samples = synthesize_preset(custom, 1.0, sample_rate=22_050)

    assert samples.shape == (22_050, 2)


@pytest.mark.parametrize("duration_s", [0.0, -1.0, float("nan"), float("inf")])
def test_bad_duration_is_an_input_error(duration_s):
    with pytest.raises(InputError) as err:
        synthesize_preset(MUSIC_PRESETS["upbeat"], duration_s)
    assert err.value.field == "duration_s"


def test_bad_sample_rate_is_an_input_error():
    with pytest.raises(InputError):
        synthesize_preset(MUSIC_PRESETS["upbeat"], 1.0, sample_rate=100)


@pytest.mark.parametrize("name", sorted(MUSIC_PRESETS))
def test_low_sample_rates_render_too(name):
    samples = synthesize_preset(MUSIC_PRESETS[name], 1.0, sample_rate=8_000)

    assert samples.shape == (8_000, 2)
    assert np.all(np.isfinite(samples))
