"""Uploaded voices beyond English are aligned (synthesis + DTW), not estimated."""

from __future__ import annotations

import numpy as np
import pytest
import soxr

from reelflow.engine.alignment.align import align
from reelflow.engine.speech.tts import synthesize


def _voice(text: str, voice: str) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """A 'user' recording: another variant and rate than the aligner's own synthesis."""
    syn = synthesize(text, voice=voice, rate_wpm=180)
    pcm = (np.clip(soxr.resample(syn.samples, syn.sample_rate, 16_000), -1, 1) * 32767).astype(
        np.int16
    )
    return pcm, [(w.start_s, w.end_s) for w in syn.words.words]


@pytest.mark.parametrize(
    ("text", "voice", "language"),
    [
        ("Hola, me llamo Carlos Ramírez y vivo en Madrid desde 2019.", "es+f3", "es"),
        ("李华在2018年去上海工作，现在是一名工程师。", "cmn+m3", "zh"),
        ("नमस्ते, मेरा नाम राहुल शर्मा है।", "hi+f3", "hi"),
    ],
)
def test_non_english_voices_are_aligned_word_by_word(text, voice, language):
    pcm, truth = _voice(text, voice)
    got = align(pcm, 16_000, text, language=language)
    assert got.method == "aligned" and got.details["aligner"] == "espeak-dtw"
    assert len(got.words) == len(truth)
    errors = np.array([abs(w.start_s - t0) for w, (t0, _) in zip(got.words, truth, strict=True)])
    assert errors.mean() < 0.06 and np.mean(errors <= 0.1) >= 0.85, errors
    assert all(0.0 <= w.confidence <= 1.0 for w in got.words)
    assert np.median([w.confidence for w in got.words]) > 0.5


def test_english_keeps_pocketsphinx():
    pcm, _ = _voice("The quick brown fox jumps over the lazy dog.", "en-us+f3")
    got = align(pcm, 16_000, "The quick brown fox jumps over the lazy dog.", language="en-GB")
    assert got.details["aligner"] == "pocketsphinx"
