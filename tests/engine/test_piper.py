"""The neural Piper voice: installed from wheels, spoken, resolved by name, and timed by
aligning its own audio."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from reelflow.cli import app as cli_app
from reelflow.engine.errors import InputError
from reelflow.engine.speech import voices
from reelflow.engine.speech.piper import installed_voices, synthesize_piper
from reelflow.flows.local import run_reel
from reelflow.flows.runtime import RunContext
from reelflow.models import parse_spec
from reelflow.settings import Settings

SCRIPT = "Neural voices sound natural. Every caption still lands on its word."


def test_joe_ships_in_a_wheel_and_speaks():
    joe = installed_voices()["joe"]
    assert joe.model.is_file() and joe.language == "en-us"
    samples, rate = synthesize_piper(SCRIPT, voice="joe")
    duration = samples.size / rate
    assert 2.0 < duration < 10.0 and np.abs(samples).max() > 0.1
    # the speaking rate maps onto Piper's length scale
    slow, _ = synthesize_piper(SCRIPT, voice="joe", rate_wpm=110)
    assert slow.size > 1.3 * samples.size


def test_voice_names_resolve_and_refuse_unknown_ones():
    assert voices.resolve("piper:joe") == voices.VoiceChoice("piper", "joe")
    assert voices.resolve("espeak:en-us") == voices.VoiceChoice("espeak", "en-us")
    assert voices.resolve("de") == voices.VoiceChoice("espeak", "de")
    assert voices.resolve("en-gb").engine == "espeak"
    # English, the spec's default, is the neural voice
    default = parse_spec({"script": "hi"}).speech_voice
    assert voices.resolve(default) == voices.VoiceChoice("piper", "joe")
    assert parse_spec({"script": "hi", "voice": "piper:joe"}).voice == "piper:joe"
    with pytest.raises(InputError) as err:
        synthesize_piper("hi", voice="nobody")
    assert err.value.field == "voice"


def test_cli_lists_installed_voices():
    result = CliRunner().invoke(cli_app, ["voices"])
    assert result.exit_code == 0
    assert "piper:joe" in result.stdout and "espeak:en-us" in result.stdout


def test_a_default_english_reel_is_neural_with_a_timing_for_every_word(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", enable_gpu_acceleration=False)
    spec = parse_spec({"script": SCRIPT, "music": {"preset": "none"}, "quality": "low"})
    result = run_reel(spec, RunContext(output=tmp_path / "reel.mp4"), settings=settings)
    assert result.words == len(SCRIPT.split())
    assert result.timing_method == "aligned"  # every word found by the aligner, none estimated


def test_aligning_joe_matches_pipers_own_phoneme_durations():
    """Median word-start error of the aligner on Piper's audio, against the word starts Piper's
    phoneme durations give (bench/piper_voice.py prints the same figure)."""
    import soxr
    from piper import PiperVoice

    from bench.piper_voice import TEXT, reference_starts
    from reelflow.engine.alignment.align import align

    files = installed_voices()["joe"]
    voice = PiperVoice.load(files.model, config_path=files.config, include_alignments=True)
    chunks = list(voice.synthesize(TEXT, include_alignments=True))
    rate = chunks[0].sample_rate
    audio = np.concatenate([c.audio_float_array for c in chunks])
    words = align(soxr.resample(audio, rate, 16_000), 16_000, TEXT)
    reference = reference_starts(chunks)
    assert len(reference) == len(words) and all(w.end_s > w.start_s for w in words.words)
    errors = [abs(w.start_s - r) for w, r in zip(words.words, reference, strict=True)]
    assert np.median(errors) <= 0.020
