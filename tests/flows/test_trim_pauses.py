"""Pause trimming end to end: a voice with 40% silence renders >= 30% shorter, captions on the
words of the shortened audio (re-aligned from the output), in one render pass."""

from __future__ import annotations

import numpy as np
import pysubs2
import pytest
import soundfile as sf

from reelflow.engine.alignment.align import align_file
from reelflow.engine.audio import speech_activity
from reelflow.engine.ffmpeg import probe
from reelflow.engine.speech.tts import synthesize_to_wav
from reelflow.flows.local import run_reel
from reelflow.flows.runtime import RunContext
from reelflow.models import parse_spec
from reelflow.settings import Settings
from tests.flows.test_local_run import _step_result

PHRASES = [
    "Long pauses make a reel feel slow.",
    "Trimming them keeps the pace up.",
    "Every caption follows its word.",
    "The music follows the shorter voice.",
]
RATE = 48_000


def _voice_with_pauses(folder, *, pause_s: float) -> tuple:
    pieces = [np.zeros(int(1.0 * RATE), dtype=np.float32)]
    for i, phrase in enumerate(PHRASES):
        synthesize_to_wav(phrase, folder / f"p{i}.wav", sample_rate=RATE)
        samples, _ = sf.read(folder / f"p{i}.wav", dtype="float32")
        pieces += [samples, np.zeros(int(pause_s * RATE), dtype=np.float32)]
    voice = np.concatenate(pieces)
    path = folder / "voice.wav"
    sf.write(path, voice, RATE, subtype="PCM_16")
    return path, voice


@pytest.fixture(scope="module")
def trimmed_reel(tmp_path_factory):
    root = tmp_path_factory.mktemp("trim")
    path, voice = _voice_with_pauses(root, pause_s=1.6)
    speech_s = sum(s.duration_s for s in speech_activity(voice, RATE))
    silence = 1 - speech_s / (voice.shape[0] / RATE)
    assert silence >= 0.40, silence  # the target's premise: a voice with 40% silence
    settings = Settings(data_dir=root / "data", enable_gpu_acceleration=False)
    spec = parse_spec(
        {
            "voiceover": str(path),
            "transcript": " ".join(PHRASES),
            "trim_pauses_over_s": 0.3,
            "music": {"preset": "chill", "volume": 0.05},
            "captions": {"words_per_caption": 1},
            "quality": "low",
        }
    )
    result = run_reel(spec, RunContext(output=root / "out" / "reel.mp4"), settings=settings)
    return settings, result, voice.shape[0] / RATE


def test_reel_is_at_least_30_percent_shorter(trimmed_reel):
    _, result, source_s = trimmed_reel
    out_s = probe(result.video).duration_s
    assert out_s <= 0.70 * source_s, (out_s, source_s)
    assert abs(out_s - result.duration_s) <= 0.1


def test_every_caption_is_within_50_ms_of_its_word_in_the_trimmed_audio(trimmed_reel):
    settings, result, _ = trimmed_reel
    heard = align_file(result.video, " ".join(PHRASES))  # the output's own sound, re-aligned
    assert heard.method == "aligned"
    ass = _step_result(settings, "build-captions").path
    # the highlight animation lights each word on layer 1 from the moment it is timed
    lit = sorted((e for e in pysubs2.load(str(ass)).events if e.layer == 1 and not e.is_comment),
                 key=lambda e: e.start)  # fmt: skip
    assert [e.plaintext for e in lit] == [w.word for w in heard.words]
    starts = [e.start for e in lit]
    errors_ms = [abs(s - w.start_s * 1000) for s, w in zip(starts, heard.words, strict=True)]
    assert max(errors_ms) <= 50, errors_ms


def test_stored_timings_stay_on_the_upload_timeline(trimmed_reel):
    settings, _, source_s = trimmed_reel
    words = _step_result(settings, "align-words")
    voice = _step_result(settings, "prepare-voice")
    assert voice.cuts is not None and voice.source_duration_s == pytest.approx(source_s)
    assert words.last_end_s > voice.duration_s  # not yet moved: on the upload's timeline
    assert voice.cuts.map_words(words).last_end_s <= voice.duration_s
