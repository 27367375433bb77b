"""espeak-ng synthesis: one timing per display token, placed where the speech actually is."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from reelflow.engine import ffmpeg
from reelflow.engine.audio import frame_energy_db
from reelflow.engine.errors import InputError
from reelflow.engine.speech import espeak as _espeak_ctypes
from reelflow.engine.speech import tts
from reelflow.engine.speech.tts import Synthesis, spoken_text, synthesize, synthesize_to_wav
from reelflow.engine.text import tokenize

HOP_S = 0.005

TRICKY_SCRIPTS = [
    "In 2026 it cost $5, the 1st well-known trick.",
    "Dr. Smith met Zoë and José in São Paulo on March 3rd, e.g. at 10:30.",
    "**Three** tips to *grow* your [channel](https://x.y) 🚀: post daily — and reply!",
    "# Big news\n- one\n- two 🎉🎉\n> quoted `code` here",
    "R2-D2 says ½ of 100% is 50%... right? 👋",
    "fish. 'sheep' ok, Dr. who; e.g. this — that",
    "🔥 Go!",
    "x",
]

NATURAL_SCRIPTS = [
    "Most people think productivity is about doing more. It isn't. It's about doing less, "
    "but better.",
    "In 2026, over 5 billion people will watch short videos every day. That's 62% of the planet!",
    "Stop scrolling. Seriously, stop. Café owners in São Paulo asked José: what do I want?",
]


def _random_scripts(count: int, seed: int) -> list[str]:
    """Scripts mixing numbers, symbols, punctuation, markdown and emoji, reproducibly."""
    rng = random.Random(seed)
    words = [
        "the", "a", "quick", "fox", "jumps", "over", "lazy", "dog", "2026", "$5", "1st",
        "well-known", "Alice", "Bob's", "café", "naïve", "don't", "3.14", "100%", "test",
        "simple", "pause", "it", "at", "up", "stop", "**bold**", "_soft_", "#1", "C++",
    ]  # fmt: skip
    tails = ["", "", "", ",", ".", "!", "?", " —", " 🔥", "...", ":"]
    return [
        " ".join(rng.choice(words) + rng.choice(tails) for _ in range(rng.randint(1, 20)))
        for _ in range(count)
    ]


def _levels(s: Synthesis) -> tuple[np.ndarray, np.ndarray]:
    """Frame levels (10 ms frames every 5 ms) and which frames are audible."""
    levels = frame_energy_db(s.samples, s.sample_rate, frame_s=0.010, hop_s=HOP_S)
    return levels, levels > np.percentile(levels, 95) - 45.0


def _assert_well_formed(s: Synthesis, text: str) -> None:
    tokens = tokenize(text)
    words = s.words.words
    assert s.words.method == "synthesized"
    assert [w.word for w in words] == list(tokens)
    previous_end = 0.0
    for w in words:
        assert isinstance(w.start_s, float) and isinstance(w.end_s, float)
        assert previous_end <= w.start_s < w.end_s <= s.duration_s, (text, w)
        previous_end = w.end_s


@pytest.mark.parametrize("text", TRICKY_SCRIPTS)
def test_every_display_token_gets_exactly_one_timing(text: str) -> None:
    s = synthesize(text)
    _assert_well_formed(s, text)
    assert s.words.details["interpolated"] == 0  # espeak spoke and reported every token
    assert s.sample_rate == 22_050 and s.samples.dtype == np.float32
    assert 0.05 < np.abs(s.samples).max() <= 1.0


@pytest.mark.parametrize("text", [*_random_scripts(12, seed=7), "I", "5", "go :) now"])
def test_timings_are_ordered_disjoint_and_inside_the_audio(text: str) -> None:
    _assert_well_formed(synthesize(text), text)


@pytest.mark.parametrize("text", NATURAL_SCRIPTS)
def test_each_word_starts_at_an_energy_onset(text: str) -> None:
    s = synthesize(text)
    levels, audible = _levels(s)
    for w in s.words.words:
        k = round(w.start_s / HOP_S)
        # Speech is audible within 30 ms of the reported start...
        assert audible[k : k + 7].any(), w
        if k >= 4 and not audible[k - 4 : k].any():
            # ...right at it when the word follows silence (a pause or a stop closure)...
            onset = k + int(np.argmax(audible[k:]))
            assert (onset - k) * HOP_S <= 0.010, w
        else:
            # ...and in connected speech the start sits by the dip between two words: the
            # quietest frame within 30 ms is well below the word's first 100 ms.
            dip = levels[max(0, k - 6) : k + 7].min()
            assert dip <= levels[k : k + 21].max() - 6.0, w


def test_a_sentence_pause_shows_as_a_silent_gap_between_words() -> None:
    s = synthesize("Hello world. This is new, and it works.")
    words = {w.word: w for w in s.words.words}
    _, audible = _levels(s)
    pause_s = words["This"].start_s - words["world."].end_s
    comma_s = words["and"].start_s - words["new,"].end_s
    within_s = words["is"].start_s - words["This"].end_s
    assert pause_s >= 0.2
    assert pause_s > comma_s > within_s >= 0.0
    gap = slice(round(words["world."].end_s / HOP_S) + 1, round(words["This"].start_s / HOP_S) - 1)
    assert not audible[gap].any()  # the gap is silence, not a clipped word


def test_spoken_text_drops_markup_and_emoji_but_keeps_pauses() -> None:
    tokens = tokenize("**Bold** 🚀 move — *now*! snake_case a*b ~x~")
    spoken, spans = spoken_text(tokens)
    assert spoken == "Bold move, now! snake case a b x"
    assert [spoken[a:b] for a, b in spans] == ["Bold", "move,", "now!", "snake case", "a b", "x"]


def test_a_token_without_a_word_event_gets_an_interpolated_interval(monkeypatch) -> None:
    real_speak = _espeak_ctypes.speak
    text = "We shipped version 2026 today."
    _, spans = spoken_text(tokenize(text))
    lost = spans[3]  # "2026": drop every event espeak reports inside it

    def speak_losing_a_word(*args, **kwargs):
        raw = real_speak(*args, **kwargs)
        kept = tuple(e for e in raw.words if not lost[0] <= e.char_idx < lost[1])
        return _espeak_ctypes.RawSpeech(raw.samples, raw.sample_rate, kept)

    monkeypatch.setattr(tts.espeak, "speak", speak_losing_a_word)
    s = synthesize(text)
    _assert_well_formed(s, text)
    assert [w.confidence for w in s.words.words] == [1.0, 1.0, 1.0, 0.5, 1.0]
    assert s.words.details["interpolated"] == 1


def test_same_input_gives_identical_samples_across_calls_and_threads() -> None:
    text = "The quick brown fox jumps over the lazy dog, twice."
    first = synthesize(text)
    synthesize("Something else in between.", voice="en-gb+f3", rate_wpm=220)
    again = synthesize(text)
    with ThreadPoolExecutor(max_workers=4) as pool:
        threaded = list(pool.map(lambda _: synthesize(text), range(8)))
    for other in [again, *threaded]:
        assert np.array_equal(other.samples, first.samples)
        assert other.words == first.words
    assert not np.array_equal(synthesize(text, pitch=70).samples, first.samples)


def test_synthesize_to_wav_writes_a_48khz_wav_matching_the_synthesis(tmp_path: Path) -> None:
    text = "Hello there. This is a test of the voice."
    reference = synthesize(text)
    out = tmp_path / "voice.wav"
    written = synthesize_to_wav(text, out)
    info = ffmpeg.probe(out)
    assert info.audio is not None
    assert (info.audio.sample_rate, info.audio.channels) == (48_000, 1)
    decoded, rate = sf.read(out, dtype="float32")
    assert rate == 48_000 and written.sample_rate == 48_000
    assert abs(decoded.shape[0] / rate - reference.duration_s) < 0.001
    assert written.words == reference.words
    assert sorted(p.name for p in tmp_path.iterdir()) == ["voice.wav"]  # no temporary left over
    # The decoded file still starts each word where the timings say.
    levels = frame_energy_db(decoded, rate, frame_s=0.010, hop_s=HOP_S)
    audible = levels > np.percentile(levels, 95) - 45.0
    this = next(w for w in written.words.words if w.word == "This")
    k = round(this.start_s / HOP_S)
    assert not audible[k - 4 : k].any() and audible[k : k + 3].any()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"text": ""}, "script"),
        ({"text": "  \n\t "}, "script"),
        ({"text": "🙂 🎉 --- **"}, "script"),
        ({"text": "Hi", "voice": "en-usa"}, "voice"),
        ({"text": "Hi", "voice": "m3"}, "voice"),  # a bare variant has no language
        ({"text": "Hi", "voice": "en-us+nope"}, "voice"),
        ({"text": "Hi", "rate_wpm": 20}, "rate_wpm"),
        ({"text": "Hi", "pitch": 101}, "pitch"),
    ],
)
def test_bad_input_raises_input_error_naming_the_field(kwargs: dict, field: str) -> None:
    with pytest.raises(InputError) as caught:
        synthesize(**kwargs)
    assert caught.value.field == field


def test_unknown_voice_message_suggests_real_voices() -> None:
    with pytest.raises(InputError, match=r"unknown voice 'en-usa'.*en-us"):
        synthesize("Hi", voice="en-usa")
    assert {"en-us", "en-gb", "fr", "de"} <= set(_espeak_ctypes.voice_names())


def test_voices_accept_language_codes_names_and_variants_in_any_case() -> None:
    for voice in ["en-gb", "EN-US", "English (America)", "en-us+F3", "fr"]:
        assert synthesize("Hello.", voice=voice).duration_s > 0.2


def test_a_failed_wav_write_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        synthesize_to_wav("   ", tmp_path / "voice.wav")
    assert list(tmp_path.iterdir()) == []
