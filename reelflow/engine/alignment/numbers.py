"""English number words: cardinals, ordinals, years, decimals and amounts, as lists of words.

Everything here returns plain lower-case words that a pronunciation dictionary knows
("twenty", "first", "hundred"), so a transcript's "2026" or "21st" can be aligned to how a
voice actually says it.
"""

from __future__ import annotations

_ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_SCALES = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand"))
_ORDINAL_WORDS = {
    "one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
    "nine": "ninth", "twelve": "twelfth",
}  # fmt: skip

MAX_CARDINAL = 10**15 - 1


def cardinal(n: int) -> list[str]:
    """``cardinal(2026) == ["two", "thousand", "twenty", "six"]``; negative numbers say minus."""
    if n < 0:
        return ["minus", *cardinal(-n)]
    if n > MAX_CARDINAL:
        return digits(str(n))
    if n < 100:
        return _below_100(n)
    words: list[str] = []
    for scale, name in _SCALES:
        if n >= scale:
            words += [*_below_1000(n // scale), name]
            n %= scale
    if n:
        words += _below_1000(n)
    return words


def _below_100(n: int) -> list[str]:
    if n < 20:
        return [_ONES[n]]
    tens, ones = divmod(n, 10)
    return [_TENS[tens]] + ([_ONES[ones]] if ones else [])


def _below_1000(n: int) -> list[str]:
    hundreds, rest = divmod(n, 100)
    words = [_ONES[hundreds], "hundred"] if hundreds else []
    return words + (_below_100(rest) if rest else [])


def ordinal(n: int) -> list[str]:
    """``ordinal(22) == ["twenty", "second"]``."""
    words = cardinal(n)
    last = words[-1]
    if last in _ORDINAL_WORDS:
        words[-1] = _ORDINAL_WORDS[last]
    elif last.endswith("y"):
        words[-1] = last[:-1] + "ieth"
    else:
        words[-1] = last + "th"
    return words


def year(n: int) -> list[str]:
    """How a year is usually read: 1984 -> nineteen eighty four, 2005 -> two thousand five."""
    if not 1000 <= n <= 9999:
        return cardinal(n)
    high, low = divmod(n, 100)
    if low == 0:
        return cardinal(n) if high % 10 == 0 else [*_below_100(high), "hundred"]
    if 2000 <= n <= 2009:
        return cardinal(n)
    return [*_below_100(high), *(["oh", _ONES[low]] if low < 10 else _below_100(low))]


def plural_decade(n: int) -> list[str]:
    """1990 -> nineteen nineties, 90 -> nineties (for "1990s", "'90s")."""
    words = year(n) if n >= 100 else _below_100(n)
    last = words[-1]
    words[-1] = last[:-1] + "ies" if last.endswith("y") else last + "s"
    return words


def digits(text: str) -> list[str]:
    """Read a digit string one digit at a time ("007" -> zero zero seven)."""
    return [_ONES[int(ch)] for ch in text if ch.isdigit()]


def decimal(text: str) -> list[str]:
    """ "3.14" -> three point one four; "0.5" -> zero point five; ".5" -> point five."""
    whole, _, frac = text.partition(".")
    words = cardinal(int(whole)) if whole else []
    return [*words, "point", *digits(frac)] if frac else words


def fraction(numerator: int, denominator: int) -> list[str]:
    """1/2 -> one half, 3/4 -> three quarters, 2/3 -> two thirds, 5/16 -> five sixteenths."""
    if denominator == 2:
        name = "half" if numerator == 1 else "halves"
    elif denominator == 4:
        name = "quarter" if numerator == 1 else "quarters"
    else:
        name = ordinal(denominator)[-1] + ("" if numerator == 1 else "s")
        return [*cardinal(numerator), *ordinal(denominator)[:-1], name]
    return [*cardinal(numerator), name]
