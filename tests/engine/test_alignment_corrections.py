"""Manual corrections: validated, and only overlapping neighbours move."""

from __future__ import annotations

import pytest

from reelflow.engine.alignment.align import apply_corrections
from reelflow.engine.errors import InputError
from reelflow.engine.timing import WordTiming, WordTimings

DURATION = 5.0


def timings() -> WordTimings:
    spans = [(0.5, 1.0), (1.0, 1.4), (1.6, 2.0), (2.0, 2.5), (3.0, 3.5)]
    words = tuple(
        WordTiming(w, a, b, 0.6) for w, (a, b) in zip(["a", "b", "c", "d", "e"], spans, strict=True)
    )
    return WordTimings(words, "aligned", {"windows": 1})


def spans(t: WordTimings) -> list[tuple[float, float]]:
    return [(round(w.start_s, 4), round(w.end_s, 4)) for w in t.words]


def assert_ordered(t: WordTimings) -> None:
    prev = 0.0
    for w in t.words:
        assert prev <= w.start_s < w.end_s <= DURATION
        prev = w.end_s


def test_a_correction_that_fits_moves_nothing_else() -> None:
    fixed = apply_corrections(timings(), {2: (1.5, 1.95)}, duration_s=DURATION)
    assert spans(fixed) == [(0.5, 1.0), (1.0, 1.4), (1.5, 1.95), (2.0, 2.5), (3.0, 3.5)]
    assert fixed.words[2].confidence == 1.0 and fixed.words[1].confidence == 0.6
    assert fixed.method == "aligned" and fixed.details["corrected"] == 1


def test_overlapping_neighbours_are_clipped_on_both_sides() -> None:
    fixed = apply_corrections(timings(), {2: (1.2, 2.2)}, duration_s=DURATION)
    assert spans(fixed) == [(0.5, 1.0), (1.0, 1.2), (1.2, 2.2), (2.2, 2.5), (3.0, 3.5)]
    assert_ordered(fixed)


def test_a_neighbour_swallowed_whole_is_pushed_and_keeps_a_minimum() -> None:
    fixed = apply_corrections(timings(), {2: (0.9, 2.8)}, duration_s=DURATION)
    assert_ordered(fixed)
    assert spans(fixed)[2] == (0.9, 2.8)
    assert fixed.words[1].end_s <= 0.9 and fixed.words[3].start_s >= 2.8
    assert fixed.words[4].start_s == 3.0  # far enough away: untouched


def test_several_corrections_and_words_squeezed_between_them() -> None:
    fixed = apply_corrections(timings(), {0: (0.0, 2.0), 4: (2.05, 4.0)}, duration_s=DURATION)
    assert_ordered(fixed)
    assert spans(fixed)[0] == (0.0, 2.0) and spans(fixed)[4] == (2.05, 4.0)
    assert all(w.end_s - w.start_s >= 0.01 - 1e-9 for w in fixed.words)


def test_correcting_the_last_word_to_the_end_of_the_audio() -> None:
    fixed = apply_corrections(timings(), {4: (4.5, DURATION)}, duration_s=DURATION)
    assert spans(fixed)[4] == (4.5, 5.0)
    assert_ordered(fixed)


@pytest.mark.parametrize(
    ("corrections", "index", "reason"),
    [
        ({7: (1.0, 2.0)}, "7", "no word at index"),
        ({-1: (1.0, 2.0)}, "-1", "no word at index"),
        ({"2": (1.0, 2.0)}, "'2'", "no word at index"),
        ({1: (2.0, 1.0)}, "1", "start < end"),
        ({1: (1.0, 1.0)}, "1", "start < end"),
        ({1: (-0.1, 1.0)}, "1", "0 <= start"),
        ({1: (4.0, 5.5)}, "1", "end <="),
        ({1: (float("nan"), 1.0)}, "1", "finite"),
        ({1: (1.0,)}, "1", "(start, end) pair"),
        ({1: "soon"}, "1", "(start, end) pair"),
        ({1: (2.0, 3.0), 3: (1.0, 1.5)}, "3", "starts too early"),
        ({2: (0.0, 0.5)}, "2", "starts too early"),  # words 0 and 1 would not fit before it
        ({2: (1.0, 4.995)}, "2", "no room"),  # words 3 and 4 would not fit after it
    ],
)
def test_invalid_corrections_name_the_index(corrections: dict, index: str, reason: str) -> None:
    with pytest.raises(InputError) as caught:
        apply_corrections(timings(), corrections, duration_s=DURATION)
    assert caught.value.field == f"corrections[{index}]"
    assert reason in str(caught.value)


def test_corrections_must_be_a_mapping() -> None:
    with pytest.raises(InputError) as caught:
        apply_corrections(timings(), [(1, (1.0, 2.0))], duration_s=DURATION)  # type: ignore[arg-type]
    assert caught.value.field == "corrections"


def test_no_corrections_changes_nothing() -> None:
    assert spans(apply_corrections(timings(), {}, duration_s=DURATION)) == spans(timings())
