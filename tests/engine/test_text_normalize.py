"""Transcript normalisation: display tokens stay as written, readings say what a voice says."""

from __future__ import annotations

import pytest

from reelflow.engine.alignment import numbers
from reelflow.engine.alignment.normalize import readings, transcript_readings
from reelflow.engine.alignment.pronounce import PHONES, guess_pronunciation, ipa_to_arpabet
from reelflow.engine.text import syllable_weight, tokenize

_UNITS = {w: i for i, w in enumerate(numbers._ONES)}
_TENS = {w: 10 * i for i, w in enumerate(numbers._TENS) if w != "_"}
_SCALES = {"thousand": 10**3, "million": 10**6, "billion": 10**9, "trillion": 10**12}


def words_to_int(words: list[str]) -> int:
    """Read number words back (a test-side parser, so cardinal() can be round-tripped)."""
    total, group = 0, 0
    for word in words:
        if word in _UNITS:
            group += _UNITS[word]
        elif word in _TENS:
            group += _TENS[word]
        elif word == "hundred":
            group *= 100
        elif word in _SCALES:
            total += group * _SCALES[word]
            group = 0
        elif word != "and":
            raise ValueError(word)
    return total + group


@pytest.mark.parametrize(
    "n", [0, 7, 13, 20, 42, 99, 100, 101, 110, 999, 1000, 1001, 2026, 10_000, 123_456,
          1_000_000, 7_000_019, 987_654_321, 1_000_000_000_001]
)  # fmt: skip
def test_cardinal_round_trips(n: int) -> None:
    assert words_to_int(numbers.cardinal(n)) == n


def test_every_number_below_ten_thousand_round_trips() -> None:
    assert all(words_to_int(numbers.cardinal(n)) == n for n in range(10_000))


@pytest.mark.parametrize(
    ("n", "words"),
    [(1, "first"), (2, "second"), (3, "third"), (12, "twelfth"), (21, "twenty first"),
     (40, "fortieth"), (100, "one hundredth"), (1000, "one thousandth")],
)  # fmt: skip
def test_ordinals(n: int, words: str) -> None:
    assert numbers.ordinal(n) == words.split()


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("Hello,", ("hello",)),
        ("2026", ("twenty", "twenty", "six")),
        ("1999", ("nineteen", "ninety", "nine")),
        ("2005", ("two", "thousand", "five")),
        ("21st", ("twenty", "first")),
        ("$5", ("five", "dollars")),
        ("$1", ("one", "dollar")),
        ("50%", ("fifty", "percent")),
        ("1990s", ("nineteen", "nineties")),
        ("'90s", ("nineties",)),
        ("3:30pm", ("three", "thirty", "p", "m")),
        ("1/2", ("one", "half")),
        ("10-20", ("ten", "to", "twenty")),
        ("1,000,000", ("one", "million")),
        ("3.14", ("three", "point", "one", "four")),
        ("&", ("and",)),
        ("don't", ("don't",)),
        ("state-of-the-art", ("state", "of", "the", "art")),
        ("covid-19", ("covid", "nineteen")),
        ("**bold**", ("bold",)),
        ("`code`", ("code",)),
        ("🚀launch", ("launch",)),
        ("Dr.", ("doctor",)),
        ("#1", ("one",)),
    ],
)
def test_first_reading(token: str, expected: tuple[str, ...]) -> None:
    assert readings(token)[0] == expected


def test_alternatives_cover_how_people_read() -> None:
    assert ("two", "thousand", "twenty", "six") in readings("2026")
    assert ("two", "thousand", "and", "twenty", "six") in readings("2026")
    assert ("one", "hundred", "and", "five") in readings("105")
    assert ("f", "b", "i") in readings("FBI")
    assert ("u", "s") in readings("U.S.")
    assert ("nineteen", "dollars", "ninety", "nine") in readings("$19.99")
    assert ("hashtag", "blessed") in readings("#blessed")
    assert () in readings("#")  # a lone symbol may go unspoken


def test_currency_word_may_follow_the_scale_word() -> None:
    plan = transcript_readings(["It", "costs", "$4.5", "million."])
    assert ("four", "point", "five") in plan[2]
    assert ("million", "dollars") in plan[3]


def test_readings_are_bounded_and_never_empty() -> None:
    for token in ["5551234567", "$19.99", "2026", "NeurIPS", "—", "日本", "x2", "H2O"]:
        options = readings(token)
        assert 1 <= len(options) <= 6
        assert all(isinstance(w, str) and w for r in options for w in r)


@pytest.mark.parametrize(
    "text",
    [
        "# Big **news**: we raised $5M in 2026 — *finally*! 🚀🚀",
        "- item one\n- item two\n\n> quoted `code` and [a link](http://x.y)",
        "Mr. O'Neill's 3rd-quarter e-mail (re: Q3) said \"50% off\" & more...",
    ],
)
def test_tokenize_contract_is_unchanged(text: str) -> None:
    """Every token is a display token with something to say; readings never drop one."""
    tokens = tokenize(text)
    assert tokens and all(t.strip() == t for t in tokens)
    assert len(transcript_readings(tokens)) == len(tokens)
    assert all(syllable_weight(t) >= 1.0 for t in tokens)


def test_markdown_symbols_never_become_words() -> None:
    tokens = tokenize("**Hello** _world_ ~~gone~~ `x`")
    assert tokens == ("Hello", "world", "gone", "x")
    first = [r[0] for r in transcript_readings(tokens)]
    assert first == [("hello",), ("world",), ("gone",), ("x",)]


def test_ipa_maps_onto_the_model_phones() -> None:
    assert ipa_to_arpabet("h_ə_l_ˈoʊ w_ˈɜː_l_d") == ["HH", "AH", "L", "OW", "W", "ER", "L", "D"]
    assert ipa_to_arpabet("tʃ_ˈɜː_tʃ") == ["CH", "ER", "CH"]


@pytest.mark.parametrize("word", ["zorbulax", "kubernetes", "NeurIPS", "naïve", "o'neill"])
def test_out_of_dictionary_words_get_a_pronunciation(word: str) -> None:
    phones = guess_pronunciation(word)
    assert phones and set(phones.split()) <= PHONES


def test_words_of_other_scripts_get_none() -> None:
    assert guess_pronunciation("日本") is None
