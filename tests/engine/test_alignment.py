"""Forced alignment against speech with known word times (espeak-ng's own word events)."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import pytest

from reelflow.engine.alignment import chunks as align_chunks
from reelflow.engine.alignment.align import align, align_file
from reelflow.engine.alignment.pcm import repair_byte_slips
from reelflow.engine.audio import write_wav
from reelflow.engine.errors import InputError
from reelflow.engine.speech.tts import Synthesis, synthesize
from reelflow.engine.text import tokenize
from reelflow.engine.timing import WordTimings

ALIGN_DEV = Path(__file__).resolve().parents[3] / "shared" / "align-dev"


@functools.cache
def speech(text: str, voice: str = "en-us") -> Synthesis:
    return synthesize(text, voice=voice)


def errors_ms(got: WordTimings, truth: Synthesis, offset_s: float = 0.0) -> np.ndarray:
    """|start error| and |end error| of every word, in ms (2 x words)."""
    return np.array(
        [[abs(w.start_s - t.start_s - offset_s), abs(w.end_s - t.end_s - offset_s)]
         for w, t in zip(got.words, truth.words.words, strict=True)]
    ).T * 1000  # fmt: skip


def assert_contract(got: WordTimings, transcript: str, duration_s: float) -> None:
    """One timing per token, as written, in order, disjoint, inside the audio, confidence 0-1."""
    assert tuple(w.word for w in got.words) == tokenize(transcript)
    assert got.method in ("aligned", "partly_estimated", "estimated")
    prev_end = 0.0
    for w in got.words:
        assert prev_end <= w.start_s < w.end_s <= duration_s + 1e-9, w
        assert 0.0 <= w.confidence <= 1.0
        prev_end = w.end_s


@pytest.mark.parametrize(
    ("text", "voice"),
    [
        ("The quick brown fox jumps over the lazy dog.", "en-us"),
        ("Please remember to water the plants before you leave.", "en-us+f3"),
        ("We walked to the station and waited for the last train home.", "en-us"),
    ],
)
def test_synthetic_sentences_align_tightly(text: str, voice: str) -> None:
    truth = speech(text, voice)
    got = align(truth.samples, truth.sample_rate, text)
    assert_contract(got, text, truth.duration_s)
    assert got.method == "aligned"
    err = errors_ms(got, truth)
    assert np.median(err) <= 20, err
    assert err.max() <= 80, err
    assert min(w.confidence for w in got.words) >= 0.3


def test_numbers_symbols_and_markdown() -> None:
    text = "She bought **3** apples for $2.50 on May 1st — in 2026! 🍎"
    truth = speech(text)
    got = align(truth.samples, truth.sample_rate, text)
    assert_contract(got, text, truth.duration_s)
    assert got.method == "aligned"
    err = errors_ms(got, truth)
    assert np.median(err) <= 25, err
    assert err.max() <= 150, err


def test_words_missing_from_the_dictionary() -> None:
    text = "Zorbulax and Quenthira visited Vlaskovic yesterday."
    truth = speech(text)
    got = align(truth.samples, truth.sample_rate, text)
    assert got.method == "aligned"
    err = errors_ms(got, truth)
    assert np.median(err) <= 25 and err.max() <= 80, err
    assert all(w.confidence >= 0.5 for w in got.words[:5:2])  # the made-up names


def test_long_pauses_and_silence_at_both_ends() -> None:
    first, second = speech("First part of the talk."), speech("Second part, after a long pause.")
    rate = first.sample_rate
    gap = np.zeros(rate * 3, dtype=np.float32)
    samples = np.concatenate([gap[:rate], first.samples, gap, second.samples, gap[: 2 * rate]])
    text = "First part of the talk. Second part, after a long pause."
    got = align(samples, rate, text)
    assert_contract(got, text, samples.size / rate)
    assert got.method == "aligned"
    n = len(first.words)
    err_first = errors_ms(WordTimings(got.words[:n], "aligned"), first, offset_s=1.0)
    later = 1.0 + first.duration_s + 3.0
    err_second = errors_ms(WordTimings(got.words[n:], "aligned"), second, offset_s=later)
    assert np.median(np.concatenate([err_first, err_second], axis=1)) <= 25
    assert max(err_first.max(), err_second.max()) <= 100
    assert got.words[n - 1].end_s < 1.0 + first.duration_s + 0.1  # nothing spread into the pause


def test_noise_only_is_estimated_with_low_confidence() -> None:
    rng = np.random.default_rng(7)
    noise = (rng.standard_normal(16_000 * 3) * 0.05).astype(np.float32)
    text = "Nobody said any of these words."
    got = align(noise, 16_000, text)
    assert_contract(got, text, 3.0)
    assert got.method == "estimated"
    assert all(w.confidence <= 0.2 for w in got.words)


def test_silence_only_is_estimated_with_very_low_confidence() -> None:
    got = align(np.zeros(16_000 * 2, np.float32), 16_000, "hello there")
    assert got.method == "estimated"
    assert all(w.confidence <= 0.05 for w in got.words)


def test_transcript_longer_than_the_speech() -> None:
    truth = speech("This sentence is spoken.")
    rate = truth.sample_rate
    samples = np.concatenate([truth.samples, np.zeros(int(2.5 * rate), np.float32)])
    text = "This sentence is spoken. But these extra words never were said by anyone."
    got = align(samples, rate, text)
    assert_contract(got, text, samples.size / rate)
    assert got.method == "partly_estimated"
    spoken, extra = got.words[:4], got.words[4:]
    assert np.median(errors_ms(WordTimings(spoken, "aligned"), truth)) <= 25
    assert all(w.confidence >= 0.3 for w in spoken)
    assert all(w.confidence <= 0.2 and w.start_s >= spoken[-1].end_s for w in extra)


def test_other_rates_and_channels_give_the_same_words() -> None:
    text = "The quick brown fox jumps over the lazy dog."
    truth = speech(text)
    import librosa

    stereo_44k = librosa.resample(truth.samples, orig_sr=truth.sample_rate, target_sr=44_100)
    stereo_44k = np.stack([stereo_44k, stereo_44k * 0.5], axis=1)
    got = align(stereo_44k, 44_100, text)
    assert got.method == "aligned"
    assert np.median(errors_ms(got, truth)) <= 20


def test_a_slipped_byte_is_repaired() -> None:
    """16-bit PCM read one byte off from some point on is noise; the aligner repairs it."""
    text = "We walked to the station and waited for the last train home."
    truth = speech(text)
    import librosa

    clean = librosa.resample(truth.samples, orig_sr=truth.sample_rate, target_sr=16_000)
    pcm = np.round(clean * 32767).astype("<i2")
    raw = pcm.tobytes()
    cut = 2 * (pcm.size // 3) + 1  # drop one byte a third of the way in: the rest is misread
    slipped = np.frombuffer(raw[:cut] + raw[cut + 1 :] + b"\0", dtype="<i2")
    fixed, changed = repair_byte_slips(slipped)
    assert changed > pcm.size // 2
    assert np.abs(fixed[-1000:-1].astype(int) - pcm[-999:].astype(int)).max() <= 256
    got = align(slipped.astype(np.float32) / 32768, 16_000, text)
    assert got.method == "aligned" and got.details["repaired_samples"] == changed
    assert np.median(errors_ms(got, truth)) <= 25


def test_clean_audio_is_never_repaired() -> None:
    rng = np.random.default_rng(3)
    noise = np.round(rng.standard_normal(16_000) * 300).astype(np.int16)
    assert repair_byte_slips(noise)[1] == 0
    assert repair_byte_slips(np.zeros(16_000, np.int16))[1] == 0


def test_long_audio_is_aligned_window_by_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """Small windows stand in for minutes of audio: cuts at pauses must not lose words."""
    monkeypatch.setattr(align_chunks, "WINDOW_S", 8.0)
    monkeypatch.setattr(align_chunks, "LAST_WINDOW_S", 9.0)
    monkeypatch.setattr(align_chunks, "GUARD_S", 2.0)
    texts = [
        "The quick brown fox jumps over the lazy dog.",
        "Please remember to water the plants before you leave.",
        "We walked to the station and waited for the last train home.",
        "Zorbulax and Quenthira visited Vlaskovic yesterday.",
        "She bought 3 apples for $2.50 on May 1st.",
    ]
    parts, truth_words, t = [], [], 0.0
    for text in texts:
        syn = speech(text)
        truth_words += [(w.start_s + t, w.end_s + t) for w in syn.words.words]
        parts += [syn.samples, np.zeros(int(0.5 * syn.sample_rate), np.float32)]
        t += syn.duration_s + 0.5
    samples = np.concatenate(parts)
    got = align(samples, 22_050, " ".join(texts))
    assert got.details["windows"] >= 3
    assert got.method == "aligned"
    pairs = zip(got.words, truth_words, strict=True)
    err = np.abs([[w.start_s - a, w.end_s - b] for w, (a, b) in pairs])
    assert np.median(err) * 1000 <= 25
    assert np.mean(err * 1000 <= 50) >= 0.9


def test_align_file_reads_any_audio(tmp_path: Path) -> None:
    text = "Please remember to water the plants before you leave."
    truth = speech(text)
    import librosa

    path = write_wav(
        tmp_path / "voice.wav",
        librosa.resample(truth.samples, orig_sr=truth.sample_rate, target_sr=48_000),
        48_000,
    )
    got = align_file(path, text)
    assert got.method == "aligned"
    assert np.median(errors_ms(got, truth)) <= 20


def test_same_input_same_output() -> None:
    truth = speech("The quick brown fox jumps over the lazy dog.")
    first = align(truth.samples, truth.sample_rate, "The quick brown fox jumps over the lazy dog.")
    again = align(truth.samples, truth.sample_rate, "The quick brown fox jumps over the lazy dog.")
    assert first == again


@pytest.mark.parametrize(
    ("samples", "rate", "transcript", "field"),
    [
        (np.zeros(16_000, np.float32), 16_000, "  \n ", "transcript"),
        (np.zeros(16_000, np.float32), 16_000, "**  —  🚀**", "transcript"),
        (np.zeros(0, np.float32), 16_000, "hello", "audio"),
        (np.zeros(16_000, np.float32), 0, "hello", "audio"),
        (np.zeros(16_000, np.float32), 16_000, "word " * 100, "transcript"),
    ],
)
def test_bad_input(samples: np.ndarray, rate: int, transcript: str, field: str) -> None:
    with pytest.raises(InputError) as caught:
        align(samples, rate, transcript)
    assert caught.value.field == field


def test_align_dev_sample() -> None:
    """Human speech with hand-labelled word boundaries (TIMIT sample; evaluation only)."""
    if not ALIGN_DEV.is_dir():
        pytest.skip(f"align-dev evaluation data not found at {ALIGN_DEV}; see bench/README.md")
    import soundfile as sf

    errors = []
    for meta in sorted(ALIGN_DEV.glob("*.json"))[::16]:  # five speakers' sentences
        data = json.loads(meta.read_text())
        samples, rate = sf.read(meta.with_suffix(".wav"), dtype="float32")
        got = align(samples, rate, data["transcript"])
        assert got.method == "aligned", meta.name
        pairs = zip(got.words, data["words"], strict=True)
        errors += [abs(w.start_s - t["start"]) for w, t in pairs]
    assert np.mean(errors) <= 0.03
