"""Word timings: stored per project, validated against the transcript, corrected by hand."""

from __future__ import annotations

from pathlib import Path

import pytest

from reelflow.engine.errors import InputError
from reelflow.engine.timing import WordTiming, WordTimings
from reelflow.store import Store


def timed(*spans: tuple[str, float, float], method="aligned") -> WordTimings:
    return WordTimings(tuple(WordTiming(w, a, b, 0.8) for w, a, b in spans), method)


NAN = float("nan")
HELLO = timed(("Hello", 0.1, 0.4), ("big", 0.5, 0.7), ("world", 0.8, 1.2))


@pytest.fixture
def project(store: Store, alice):
    return store.create_project(alice.id, {"title": "t", "script": "Hello big world"})


def test_timings_round_trip(store: Store, alice, project) -> None:
    assert project.timings is None
    stored = store.set_word_timings(alice.id, project.id, HELLO, duration_s=1.5)
    assert stored.timings_method == "aligned"
    again = store.get_project(alice.id, project.id)
    assert again.timings == HELLO
    assert again.word_timings["duration_s"] == 1.5


@pytest.mark.parametrize(("timings", "duration_s", "field"), [
    (timed(("Hello", 0.1, 0.4), ("world", 0.8, 1.2)), 1.5, "word_timings"),
    (timed(("Hello", 0.1, 0.4), ("big", 0.3, 0.7), ("world", 0.8, 1.2)), 1.5, "word_timings[1]"),
    (timed(("Hello", 0.1, 0.4), ("big", 0.5, 0.7), ("world", 0.8, 1.2)), 1.0, "word_timings[2]"),
    (timed(("Hello", 0.4, 0.4), ("big", 0.5, 0.7), ("world", 0.8, 1.2)), 1.5, "word_timings[0]"),
    (timed(("Hello", -0.1, 0.4), ("big", 0.5, 0.7), ("world", 0.8, 1.2)), 1.5, "word_timings[0]"),
    (timed(("Hello", 0.1, 0.4), ("big", 0.5, NAN), ("world", 0.8, 1)), 1.5, "word_timings[1]"),
    (HELLO, 0.0, "word_timings"),
    (WordTimings(HELLO.words, "guessed"), 2, "word_timings"),  # type: ignore[arg-type]
])  # fmt: skip
def test_impossible_timings_are_refused(
    store: Store, alice, project, timings, duration_s, field
) -> None:
    with pytest.raises(InputError) as err:
        store.set_word_timings(alice.id, project.id, timings, duration_s=duration_s)
    assert err.value.field == field
    assert store.get_project(alice.id, project.id).timings is None


def test_corrections_are_validated_applied_and_kept(store: Store, alice, bob, project) -> None:
    with pytest.raises(InputError, match="no word timings yet") as err:
        store.correct_word_timings(alice.id, project.id, {"0": [0.0, 0.2]})
    assert err.value.field == "corrections"

    store.set_word_timings(alice.id, project.id, HELLO, duration_s=1.5)
    corrected = store.correct_word_timings(alice.id, project.id, {"1": [0.45, 0.75]})
    assert corrected.words[1].start_s == pytest.approx(0.45)
    assert corrected.words[1].end_s == pytest.approx(0.75)
    assert corrected.words[1].confidence == 1.0
    assert corrected.words[0] == HELLO.words[0]

    later = store.correct_word_timings(alice.id, project.id, {2: (1.0, 1.4)})
    again = store.get_project(alice.id, project.id)
    assert again.timings == later
    assert again.word_timings["corrections"] == {"1": [0.45, 0.75], "2": [1.0, 1.4]}
    assert store.correct_word_timings(bob.id, project.id, {"0": [0, 1]}) is None


@pytest.mark.parametrize(("corrections", "field"), [
    ({"7": [0.1, 0.2]}, "corrections[7]"),
    ({"x": [0.1, 0.2]}, "corrections['x']"),
    ({"0": [0.3, 0.2]}, "corrections[0]"),
    ({"2": [1.2, 9.0]}, "corrections[2]"),
    ({"1": "soon"}, "corrections[1]"),
    ({}, "corrections"),
])  # fmt: skip
def test_impossible_corrections_name_the_word(
    store: Store, alice, project, corrections, field
) -> None:
    store.set_word_timings(alice.id, project.id, HELLO, duration_s=1.5)
    with pytest.raises(InputError) as err:
        store.correct_word_timings(alice.id, project.id, corrections)
    assert err.value.field == field
    assert store.get_project(alice.id, project.id).timings == HELLO


def test_changing_the_words_drops_old_timings(store: Store, alice, project) -> None:
    store.set_word_timings(alice.id, project.id, HELLO, duration_s=1.5)
    kept = store.update_project(alice.id, project.id, {"title": "renamed"})
    assert kept.timings == HELLO
    dropped = store.update_project(alice.id, project.id, {"script": "Goodbye world"})
    assert dropped.timings is None and dropped.timings_method is None


@pytest.mark.parametrize("style", [{"language": "es"}, {"voice": "en-gb"}])
def test_changing_the_language_or_voice_drops_old_timings(store, alice, project, style) -> None:
    store.set_word_timings(alice.id, project.id, HELLO, duration_s=1.5)
    kept = store.update_project(alice.id, project.id, {"style": {"quality": "low"}})
    assert kept.timings == HELLO
    dropped = store.update_project(alice.id, project.id, {"style": style})
    assert dropped.timings is None and dropped.style[next(iter(style))] == next(
        iter(style.values())
    )


def test_voice_duration_bounds_corrections(store: Store, alice, wav_file: Path) -> None:
    with wav_file.open("rb") as f:
        voice = store.save_upload(alice.id, "voice", f, filename="v.wav")
    project = store.create_project(
        alice.id, {"title": "t", "voice_upload_id": voice.id, "transcript": "Hello big world"}
    )
    short = timed(("Hello", 0.1, 0.3), ("big", 0.4, 0.6), ("world", 0.7, 0.9))
    store.set_word_timings(alice.id, project.id, short, duration_s=voice.duration_s)
    with pytest.raises(InputError, match="<= 1 s"):
        store.correct_word_timings(alice.id, project.id, {"2": [0.9, 1.3]})
