"""Auto-ducking envelope: depth, look-ahead, hold, smoothness, and the WAV the render reads."""

from __future__ import annotations

import math

import numpy as np
import pytest
import soundfile as sf

from reelflow.engine.audio import Segment, frame_energy_db, load_audio, speech_activity
from reelflow.engine.errors import InputError
from reelflow.engine.music.ducking import ducking_envelope, write_envelope_wav

RATE_HZ = 100
DUCKED = 10 ** (-11.0 / 20)


def _at(envelope: np.ndarray, t_s: float) -> float:
    return float(envelope[round(t_s * RATE_HZ)])


def test_envelope_has_one_gain_per_step_of_the_duration():
    assert ducking_envelope([], 2.505).shape == (251,)
    assert ducking_envelope([], 2.505).dtype == np.float32
    assert np.all(ducking_envelope([], 3.0) == 1.0)


def test_music_is_ducked_by_duck_db_under_speech_and_restored_in_long_pauses():
    env = ducking_envelope([Segment(1.0, 3.0), Segment(6.0, 7.0)], 9.0)

    under_speech = np.concatenate([env[100:300], env[600:700]])
    np.testing.assert_allclose(under_speech, DUCKED, rtol=1e-6)
    assert 20 * np.log10(under_speech.max()) == pytest.approx(-11.0, abs=1e-4)
    np.testing.assert_array_equal(env[: round(0.9 * RATE_HZ)], 1.0)
    np.testing.assert_array_equal(env[round(3.7 * RATE_HZ) : round(5.9 * RATE_HZ)], 1.0)
    np.testing.assert_array_equal(env[round(7.7 * RATE_HZ) :], 1.0)


def test_ducking_starts_before_speech_so_the_first_syllable_is_clear():
    env = ducking_envelope([Segment(1.0, 2.0)], 3.0, attack_s=0.08)

    assert _at(env, 0.91) == 1.0  # before the look-ahead
    assert DUCKED < _at(env, 0.96) < 1.0  # ramping down ahead of the speech
    assert _at(env, 1.0) == pytest.approx(DUCKED)  # fully down when the first word starts


def test_short_gaps_between_words_never_release():
    words = [Segment(1.0, 1.4), Segment(1.6, 2.0), Segment(2.2, 2.5), Segment(2.74, 3.0)]

    env = ducking_envelope(words, 5.0, hold_s=0.25)

    np.testing.assert_allclose(env[100:300], DUCKED, rtol=1e-6)


def test_release_follows_the_hold_after_speech():
    env = ducking_envelope([Segment(1.0, 2.0)], 4.0, hold_s=0.25, release_s=0.4)

    assert _at(env, 2.25) == pytest.approx(DUCKED)
    assert DUCKED < _at(env, 2.45) < 1.0
    assert _at(env, 2.65) == 1.0


@pytest.mark.parametrize(("attack_s", "release_s"), [(0.08, 0.4), (0.05, 0.2), (0.3, 0.3)])
def test_gain_changes_are_bounded_per_step(attack_s, release_s):
    rng = np.random.default_rng(3)
    starts = np.cumsum(rng.uniform(0.1, 1.5, 40))
    speech = [Segment(s, s + d) for s, d in zip(starts, rng.uniform(0.05, 1.0, 40), strict=True)]

    env = ducking_envelope(speech, 60.0, attack_s=attack_s, release_s=release_s)

    steps_db = np.abs(np.diff(20 * np.log10(env.astype(np.float64))))
    bound_db = 11.0 * math.pi / (2 * min(attack_s, release_s) * RATE_HZ)
    assert steps_db.max() <= bound_db + 1e-3
    if (attack_s, release_s) == (0.08, 0.4):
        assert steps_db.max() < 2.2  # the defaults: never more than 2.2 dB in 10 ms


def test_envelope_follows_detected_speech_and_ducks_music_by_more_than_8_db():
    rate = 16_000
    rng = np.random.default_rng(5)
    voice = np.zeros(8 * rate, dtype=np.float32)
    for start_s, end_s in ((0.5, 2.5), (4.0, 6.0)):  # two phrases of noisy "speech"
        n = round((end_s - start_s) * rate)
        syllables = 0.5 + 0.5 * np.sin(2 * np.pi * 4 * np.arange(n) / rate) ** 2
        voice[round(start_s * rate) : round(start_s * rate) + n] = (
            0.3 * rng.standard_normal(n) * (syllables)
        )
    music = (0.2 * rng.standard_normal(voice.size)).astype(np.float32)

    speech = speech_activity(voice, rate)
    env = ducking_envelope(speech, voice.size / rate)
    gains = np.interp(np.arange(voice.size) / rate, np.arange(env.size) / RATE_HZ, env)
    level = frame_energy_db(music * gains, rate, frame_s=0.2, hop_s=0.01)

    assert len(speech) == 2
    under = np.concatenate([level[70:230], level[420:580]]).mean()
    pause = level[330:370].mean()
    assert pause - under > 8.0


def test_envelope_wav_is_mono_float_at_the_audio_rate_and_decodes_with_ffmpeg(tmp_path):
    env = ducking_envelope([Segment(0.5, 1.0)], 2.0)
    path = tmp_path / "duck.wav"

    written = write_envelope_wav(env, RATE_HZ, path, sample_rate=48_000)

    info = sf.info(written)
    assert (info.samplerate, info.channels, info.subtype) == (48_000, 1, "FLOAT")
    assert info.frames == 2 * 48_000
    decoded = load_audio(written, sample_rate=48_000)  # what ffmpeg's amultiply will see
    np.testing.assert_allclose(decoded[::480], env, atol=1e-6)
    assert decoded.min() == pytest.approx(DUCKED, abs=1e-6)
    assert list(tmp_path.iterdir()) == [path]


@pytest.mark.parametrize(
    ("speech", "duration_s", "kwargs"),
    [
        ([], -1.0, {}),
        ([], 0.0, {}),
        ([Segment(2.0, 1.0)], 3.0, {}),
        ([], 3.0, {"attack_s": -0.1}),
        ([], 3.0, {"duck_db": float("nan")}),
        ([], 3.0, {"rate_hz": 0}),
    ],
)
def test_bad_input_is_an_input_error(speech, duration_s, kwargs):
    with pytest.raises(InputError):
        ducking_envelope(speech, duration_s, **kwargs)


def test_bad_envelope_is_not_written(tmp_path):
    with pytest.raises(InputError):
        write_envelope_wav(np.zeros(0), RATE_HZ, tmp_path / "duck.wav")
    assert not any(tmp_path.iterdir())
