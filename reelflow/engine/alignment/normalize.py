"""How a display token may be read aloud: alternative sequences of plain dictionary words.

``readings("$5")`` gives ``(("five", "dollars"),)`` and ``readings("2026")`` gives both the year
reading ("twenty twenty six") and the cardinal one ("two thousand twenty six"): the aligner picks
whichever the voice actually said. The display token is never changed; readings only decide what
to listen for. An empty reading ``()`` means the token may go unspoken (a "#" or "@" prefix).
"""

from __future__ import annotations

import itertools
import re
import unicodedata

from reelflow.engine.alignment import numbers
from reelflow.engine.text import strip_markdown

Reading = tuple[str, ...]

MAX_READINGS = 6  # alternatives per token; more only slows the search down

_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "`": "'", "´": "'"})
_CURRENCY = {"$": ("dollar", "dollars"), "€": ("euro", "euros"), "£": ("pound", "pounds"),
             "¥": ("yen", "yen"), "₹": ("rupee", "rupees")}  # fmt: skip
_CENTS = {"$": ("cent", "cents"), "€": ("cent", "cents"), "£": ("penny", "pence")}
_SUFFIX_SCALE = {"k": "thousand", "m": "million", "mm": "million", "b": "billion", "bn": "billion",
                 "t": "trillion"}  # fmt: skip
_SYMBOLS = {"&": ("and",), "+": ("plus",), "=": ("equals",), "%": ("percent",), "@": ("at",),
            "×": ("times",), "°": ("degrees",), "/": ("slash",), "½": ("one", "half"),
            "¼": ("one", "quarter"), "¾": ("three", "quarters"), "$": ("dollars",),
            "€": ("euros",), "£": ("pounds",)}  # fmt: skip
_ABBREVIATIONS = {
    "dr": (("doctor",), ("drive",)), "mr": (("mister",),), "mrs": (("missus",),),
    "ms": (("miz",),), "st": (("saint",), ("street",)), "vs": (("versus",),),
    "etc": (("et", "cetera"),), "e.g": (("for", "example"), ("e", "g")),
    "i.e": (("that", "is"), ("i", "e")), "approx": (("approximately",),),
    "jr": (("junior",),), "sr": (("senior",),), "ft": (("feet",), ("foot",)),
    "lbs": (("pounds",),), "km": (("kilometers",), ("k", "m")), "kg": (("kilograms",),),
    "min": (("minutes",), ("min",)), "hr": (("hour",),), "hrs": (("hours",),),
}  # fmt: skip

_NUMBER = r"\d{1,3}(?:,\d{3})+|\d+"
_RE_MONEY = re.compile(rf"^([$€£¥₹])((?:{_NUMBER})(?:\.\d+)?)(k|m|mm|b|bn|t)?$")
_RE_SCALED = re.compile(rf"^((?:{_NUMBER})(?:\.\d+)?)(k|m|mm|b|bn|t)$")
_RE_PERCENT = re.compile(rf"^((?:{_NUMBER})(?:\.\d+)?)%$")
_RE_ORDINAL = re.compile(r"^(\d+)(st|nd|rd|th)$")
_RE_DECADE = re.compile(r"^'?(\d{2}|\d{4})'?s$")
_RE_TIME = re.compile(r"^(\d{1,2}):(\d{2})(am|pm|a\.m\.|p\.m\.)?$")
_RE_CLOCK = re.compile(r"^(\d{1,2})(am|pm)$")
_RE_DECIMAL = re.compile(rf"^(?:{_NUMBER})?\.\d+$|^(?:{_NUMBER})$")
_RE_FRACTION = re.compile(r"^(\d{1,3})/(\d{1,3})$")
_RE_RANGE = re.compile(rf"^((?:{_NUMBER})(?:\.\d+)?)[-–—]((?:{_NUMBER})(?:\.\d+)?)$")
_RE_PIECES = re.compile(
    r"\d+(?:st|nd|rd|th)(?![^\W\d_])|[^\W\d_]+(?:'[^\W\d_]+)*|\d+(?:[.,]\d+)*|[$€£¥₹&+=%@×°½¼¾#]"
)
_RE_ACRONYM = re.compile(r"^(?:[A-Z]\.)+[A-Z]\.?$|^[A-Z]{2,5}s?$")


def transcript_readings(tokens: tuple[str, ...] | list[str]) -> list[tuple[Reading, ...]]:
    """`readings` of each token, plus what context adds: in "$4.5 million" the currency word
    is said after the scale word ("four point five million dollars")."""
    plan = [readings(t) for t in tokens]
    for i in range(len(tokens) - 1):
        currency = tokens[i].lstrip("*_([\"'")[:1]
        scale = tokens[i + 1].lower().strip(".,;:!?)\"'")
        if currency in _CURRENCY and scale in ("thousand", "million", "billion", "trillion"):
            plan[i + 1] = _unique([*plan[i + 1], (scale, _CURRENCY[currency][1])])
    return plan


def readings(token: str) -> tuple[Reading, ...]:
    """Alternative word sequences a voice may say for `token` (at most `MAX_READINGS`)."""
    parts = [_piece_readings(p) for p in strip_markdown(token).split()]
    parts = [p for p in parts if p != ((),)]
    if not parts:
        return ((),)
    combined = [tuple(itertools.chain.from_iterable(c)) for c in itertools.product(*parts)]
    return _unique(combined)


def _piece_readings(piece: str) -> tuple[Reading, ...]:
    text = unicodedata.normalize("NFKC", piece).translate(_APOSTROPHES)
    text = text.strip("\"“”«»()[]{}<>*_~|,;:!?¡¿…'")
    if _RE_ACRONYM.match(text):
        letters = [ch.lower() for ch in text if ch.isalpha()]
        plural_s = text.endswith("s") and not text.isupper()
        spelled = tuple([*letters[:-1], "s"] if plural_s else letters)  # "CEOs"
        return _unique([(text.lower().replace(".", ""),), spelled])
    text = text.rstrip(".")
    if not text:
        return ((),)
    lower = text.lower()
    if lower in _ABBREVIATIONS:
        return _ABBREVIATIONS[lower]
    special = _numeric_readings(lower)
    if special is not None:
        return _unique(special)
    if lower in _SYMBOLS:
        return (_SYMBOLS[lower],)
    if lower.startswith(("#", "@")) and len(lower) > 1:  # hashtags and handles: "#1", "@name"
        rest = _piece_readings(lower[1:])
        lead = ("number",) if lower[0] == "#" and lower[1:].isdigit() else ("hashtag",)
        return _unique([*rest, *((*lead, *r) for r in rest if lower[0] == "#")])
    return _compound_readings(text)


def _numeric_readings(text: str) -> list[Reading] | None:
    """Readings for numbers, amounts, ordinals, times and ranges, or None if `text` is none."""
    if m := _RE_MONEY.match(text):
        return _money(m.group(1), m.group(2), m.group(3))
    if m := _RE_SCALED.match(text):
        spoken = _number(m.group(1))[0]
        return [(*spoken, _SUFFIX_SCALE[m.group(2)]), (*spoken, m.group(2))]
    if m := _RE_PERCENT.match(text):
        return [(*r, "percent") for r in _number(m.group(1))]
    if m := _RE_ORDINAL.match(text):
        return [tuple(numbers.ordinal(int(m.group(1))))]
    if m := _RE_DECADE.match(text):
        return [tuple(numbers.plural_decade(int(m.group(1))))]
    if m := _RE_TIME.match(text):
        return _clock(int(m.group(1)), int(m.group(2)), m.group(3))
    if m := _RE_CLOCK.match(text):
        return _clock(int(m.group(1)), 0, m.group(2))
    if m := _RE_FRACTION.match(text):
        num, den = int(m.group(1)), int(m.group(2))
        if num >= den:  # "24/7", "50/50": not a fraction
            return [(*numbers.cardinal(num), *numbers.cardinal(den)),
                    (*numbers.cardinal(num), "slash", *numbers.cardinal(den))]  # fmt: skip
        return [
            tuple(numbers.fraction(num, den)),
            (*numbers.cardinal(num), "over", *numbers.cardinal(den)),
            (*numbers.cardinal(num), "slash", *numbers.cardinal(den)),
        ]
    if m := _RE_RANGE.match(text):
        low, high = _number(m.group(1))[0], _number(m.group(2))[0]
        return [(*low, "to", *high), (*low, *high)]
    if _RE_DECIMAL.match(text):
        return _number(text)
    return None


def _number(text: str) -> list[Reading]:
    """A plain number: "2,500" or "3.5", and for four digits also the year reading first."""
    plain = text.replace(",", "")
    if "." in plain:
        return [tuple(numbers.decimal(plain))]
    value = int(plain)
    if len(plain) > 1 and plain.startswith("0"):
        return [tuple(numbers.digits(plain)), tuple(numbers.cardinal(value))]
    if len(plain) == 4 and "," not in text and 1100 <= value <= 2099:
        return _unique([tuple(numbers.year(value)), *_with_and(numbers.cardinal(value))])
    if len(plain) > 6 and "," not in text:  # phone numbers, codes: digit by digit too
        return [tuple(numbers.digits(plain)), tuple(numbers.cardinal(value))]
    return _with_and(numbers.cardinal(value))


def _with_and(words: list[str]) -> list[Reading]:
    """A cardinal, and the British "one hundred and five" / "two thousand and six" too."""
    plain = tuple(words)
    for scale in ("hundred", "thousand"):
        if scale in words[:-1] and words[-1] not in ("hundred", "thousand"):
            cut = len(words) - 1 - words[::-1].index(scale)
            if cut < len(words) - 1 and words[cut + 1] not in ("hundred",):
                return [plain, (*words[: cut + 1], "and", *words[cut + 1 :])]
    return [plain]


def _money(symbol: str, amount: str, scale: str | None) -> list[Reading]:
    one, many = _CURRENCY[symbol]
    whole, _, cents = amount.replace(",", "").partition(".")
    if scale:
        spoken = _number(amount)[0]
        return [(*spoken, _SUFFIX_SCALE[scale], many), (one, *spoken, _SUFFIX_SCALE[scale])]
    unit = one if int(whole) == 1 else many
    base = (*numbers.cardinal(int(whole)), unit)
    if not cents or int(cents) == 0:
        return [(*r, unit) for r in _with_and(numbers.cardinal(int(whole)))]
    cent_value = int(cents[:2].ljust(2, "0"))
    cent_one, cent_many = _CENTS.get(symbol, ("cent", "cents"))
    cent_words = tuple(numbers.cardinal(cent_value))
    decimal = tuple(numbers.decimal(f"{int(whole)}.{cents}"))
    return [
        (*numbers.cardinal(int(whole)), *cent_words),
        (*base, "and", *cent_words, cent_one if cent_value == 1 else cent_many),
        (*base, *cent_words),
        (*decimal, many),
        (*decimal,),  # "$4.5 million": the currency word comes after the scale word
        (one, *decimal),  # espeak-ng says "dollar four point five"
    ]


def _clock(hour: int, minute: int, suffix: str | None) -> list[Reading]:
    hour_words = tuple(numbers.cardinal(hour))
    if minute == 0:
        spoken = [(*hour_words,), (*hour_words, "o'clock")]
    elif minute < 10:
        spoken = [(*hour_words, "oh", *numbers.cardinal(minute))]
    else:
        spoken = [(*hour_words, *numbers.cardinal(minute))]
    if suffix:
        letters = ("a", "m") if suffix.startswith("a") else ("p", "m")
        spoken = [(*r, *letters) for r in spoken]
    return spoken


def _compound_readings(text: str) -> tuple[Reading, ...]:
    """Words, hyphenations ("state-of-the-art"), and mixtures such as "mp3" or "covid-19"."""
    pieces = _RE_PIECES.findall(text)
    if not pieces:
        return ((),)  # nothing we can say: letters of another script, stray symbols
    options: list[tuple[Reading, ...]] = []
    for piece in pieces:
        if m := _RE_ORDINAL.match(piece):
            options.append((tuple(numbers.ordinal(int(m.group(1)))),))
        elif piece[0].isdigit():
            options.append(tuple(_number(piece.rstrip(".,"))))
        elif piece in _SYMBOLS:
            options.append((_SYMBOLS[piece],))
        elif piece == "#":
            options.append(((), ("hashtag",)))
        elif any(ch.isupper() for ch in piece[1:]):  # "NeurIPS": the capitals guide a guess
            options.append(((piece.lower(),), (piece,)))
        else:
            options.append(((piece.lower(),),))
    combined = [tuple(itertools.chain.from_iterable(c)) for c in itertools.product(*options)]
    joined = text.lower().replace("-", "")
    if len(pieces) == 2 and joined.isalpha():
        combined.append((joined,))  # "e-mail" may be one dictionary word
    return _unique(combined)


def _unique(options: list[Reading] | tuple[Reading, ...]) -> tuple[Reading, ...]:
    seen: dict[Reading, None] = {}
    for option in options:
        seen.setdefault(tuple(option), None)
    return tuple(seen)[:MAX_READINGS] or ((),)
