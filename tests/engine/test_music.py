"""The music entry points: cached preset tracks, fitting custom tracks, preset selection."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import soundfile as sf

from reelflow.engine.audio import load_audio
from reelflow.engine.errors import InputError
from reelflow.engine.music import tracks as music
from reelflow.engine.music.tracks import bar_duration_s, choose_preset, fit_track, preset_track
from reelflow.presets import MUSIC_PRESETS

RATE = 8_000  # custom-track tests: small arrays, exact sample arithmetic


def _noise(seconds: float, channels: int = 2, seed: int = 1) -> np.ndarray:
    shape = (round(seconds * RATE), channels) if channels > 1 else (round(seconds * RATE),)
    return (0.5 * np.random.default_rng(seed).standard_normal(shape)).astype(np.float32)


# -- preset_track ---------------------------------------------------------------------------------


def test_preset_track_is_whole_bars_of_stereo_at_the_rate(tmp_path):
    preset = MUSIC_PRESETS["gaming"]

    path = preset_track(preset, 2.0, cache_dir=tmp_path, sample_rate=22_050)

    info = sf.info(path)
    bars = int(np.ceil(2.0 / bar_duration_s(preset)))
    assert (info.samplerate, info.channels) == (22_050, 2)
    assert info.frames == round(bars * bar_duration_s(preset) * 22_050)
    decoded = load_audio(path, sample_rate=22_050, mono=False)  # ffmpeg reads it too
    assert decoded.shape == (info.frames, 2)
    assert 20 * np.log10(np.abs(decoded).max()) == pytest.approx(-3.0, abs=0.1)


def test_second_preset_track_call_is_a_cache_hit(tmp_path, monkeypatch):
    preset = MUSIC_PRESETS["chill"]
    first = preset_track(preset, 2.0, cache_dir=tmp_path, sample_rate=22_050)
    stamp = first.stat().st_mtime_ns, first.stat().st_ino

    def no_synthesis(*args, **kwargs):
        raise AssertionError("a cached track was rendered again")

    monkeypatch.setattr(music, "synthesize_preset", no_synthesis)
    # Any duration within the same whole number of bars is the same track.
    second = preset_track(preset, 2.5, cache_dir=tmp_path, sample_rate=22_050)

    assert second == first
    assert (second.stat().st_mtime_ns, second.stat().st_ino) == stamp
    assert list(tmp_path.iterdir()) == [first]  # no temporary files left behind


def test_preset_track_cache_key_follows_the_parameters(tmp_path):
    preset = MUSIC_PRESETS["upbeat"]
    base = preset_track(preset, 1.0, cache_dir=tmp_path, sample_rate=22_050)

    longer = preset_track(preset, 3.0, cache_dir=tmp_path, sample_rate=22_050)
    other_rate = preset_track(preset, 1.0, cache_dir=tmp_path, sample_rate=16_000)
    retuned = preset_track(
        dataclasses.replace(preset, key_root_midi=62), 1.0, cache_dir=tmp_path, sample_rate=22_050
    )

    assert len({base, longer, other_rate, retuned}) == 4


def test_preset_track_rejects_a_negative_duration(tmp_path):
    with pytest.raises(InputError):
        preset_track(MUSIC_PRESETS["upbeat"], -1.0, cache_dir=tmp_path)
    assert not any(tmp_path.iterdir())


# -- fit_track ------------------------------------------------------------------------------------


def test_long_track_is_trimmed_from_the_start_offset():
    track = _noise(10.0)

    out = fit_track(track, RATE, 4.0, start_s=2.0, fade_out_s=0.0)

    assert out.shape == (4 * RATE, 2)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, track[2 * RATE : 6 * RATE])


def test_short_track_loops_with_an_equal_power_crossfade():
    track = _noise(1.0, channels=1)
    crossfade = round(music.LOOP_CROSSFADE_S * RATE)
    period = track.size - crossfade

    out = fit_track(track, RATE, 3.5, fade_out_s=0.0)

    assert out.shape == (round(3.5 * RATE),)
    np.testing.assert_array_equal(out[:period], track[:period])
    # Every later pass repeats the same loop, seam included.
    np.testing.assert_array_equal(out[period : 2 * period], out[2 * period : 3 * period])
    np.testing.assert_array_equal(out[period + crossfade : 2 * period], track[crossfade:period])
    # Equal power: uncorrelated noise keeps its level through the seam.
    seam_db = 10 * np.log10(np.mean(out[period : period + crossfade] ** 2))
    body_db = 10 * np.log10(np.mean(track**2))
    assert seam_db == pytest.approx(body_db, abs=1.0)


def test_start_beyond_the_end_of_a_short_track_keeps_looping():
    track = _noise(1.0, channels=1)

    out = fit_track(track, RATE, 1.0, start_s=2.5, fade_out_s=0.0)

    assert out.shape == (RATE,)
    assert np.sqrt(np.mean(out**2)) > 0.3


def test_fades_start_and_end_at_silence():
    track = np.ones((5 * RATE, 2), dtype=np.float32)

    out = fit_track(track, RATE, 4.0, fade_in_s=0.5, fade_out_s=1.5)

    assert out[0].tolist() == [0.0, 0.0]
    assert out[-1].tolist() == [0.0, 0.0]
    assert np.all(out[round(0.5 * RATE) : round(2.5 * RATE)] == 1.0)  # untouched in between
    mid_fade_out = out[round(3.25 * RATE)]
    assert mid_fade_out[0] == pytest.approx(0.5, abs=0.01)
    assert np.all(np.diff(out[round(2.5 * RATE) :, 0]) <= 0)  # monotonic fade


def test_layout_is_kept_for_mono_tracks():
    out = fit_track(_noise(2.0, channels=1), RATE, 1.0)

    assert out.shape == (RATE,)


@pytest.mark.parametrize(
    ("samples", "kwargs"),
    [
        (np.zeros(0, dtype=np.float32), {}),
        (np.zeros((0, 2), dtype=np.float32), {}),
        (np.full(RATE, np.nan, dtype=np.float32), {}),
        (_noise(1.0), {"duration_s": -1.0}),
        (_noise(1.0), {"duration_s": 0.0}),
        (_noise(1.0), {"start_s": -0.5}),
        (_noise(1.0), {"fade_out_s": float("nan")}),
    ],
)
def test_bad_input_is_an_input_error(samples, kwargs):
    args = {"duration_s": 1.0, **kwargs}
    with pytest.raises(InputError):
        fit_track(samples, RATE, args.pop("duration_s"), **args)


# -- choose_preset --------------------------------------------------------------------------------


def test_fast_energetic_voices_get_fast_music_and_calm_slow_ones_chill():
    assert choose_preset(words_per_minute=185, voice_energy=0.9) == "gaming"
    assert choose_preset(words_per_minute=110, voice_energy=0.2) == "chill"
    assert choose_preset(words_per_minute=165, voice_energy=0.6) == "upbeat"
    assert choose_preset(words_per_minute=135, voice_energy=0.55) == "dramatic"


@pytest.mark.parametrize("energy", [0.2, 0.5, 0.8])
def test_faster_speech_never_gets_slower_music(energy):
    tempos = [
        MUSIC_PRESETS[choose_preset(words_per_minute=wpm, voice_energy=energy)].bpm
        for wpm in range(90, 230, 10)
    ]

    assert tempos == sorted(tempos)


def test_more_energy_never_gets_calmer_music():
    energies = [
        MUSIC_PRESETS[choose_preset(words_per_minute=150, voice_energy=e)].energy
        for e in np.linspace(0, 1, 11)
    ]

    assert energies == sorted(energies)


@pytest.mark.parametrize(
    ("wpm", "energy"), [(0.0, 0.5), (-10.0, 0.5), (float("nan"), 0.5), (150.0, 1.5), (150, -0.1)]
)
def test_choose_preset_rejects_impossible_voices(wpm, energy):
    with pytest.raises(InputError):
        choose_preset(words_per_minute=wpm, voice_energy=energy)
