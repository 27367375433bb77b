"""Which words of a transcript carry the sentence, for `captions.emphasis`.

``auto`` scores each word with plain rules that need no model: numbers first, then names
(capitalised where a sentence does not start), then long content words. Each sentence keeps
its best quarter at most, so emphasis stays a highlight rather than a second colour scheme.
A list of words emphasises exactly those words wherever they occur (case and punctuation
ignored).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from reelflow.engine.errors import InputError

MIN_LONG_WORD = 7  # letters: shorter words rarely carry the sentence on their own
SHARE = 0.25  # at most this share of a sentence's words is emphasised
_SENTENCE_END = re.compile(r"[.!?…؟。！？][\"'”’»)\]]*$")
_CORE = re.compile(r"^\W+|\W+$")
# Long words that are still function words (the short ones never qualify).
_FUNCTION_WORDS = frozenset(
    re.findall(
        r"[a-z]+",
        "although anything because before between everyone everything however something "
        "sometimes therefore through throughout whatever whenever wherever whether without "
        "yourself yourselves ourselves themselves another against already actually",
    )
)


def core(word: str) -> str:
    """`word` without leading or trailing punctuation, case-folded."""
    return _CORE.sub("", word).casefold()


def emphasised(words: Sequence[str], mode: str | Sequence[str]) -> tuple[bool, ...]:
    """One flag per word: whether `mode` (``auto``, ``none`` or a list of words) marks it."""
    if mode == "none":
        return (False,) * len(words)
    if mode == "auto":
        return _auto(words)
    if isinstance(mode, str):
        raise InputError(f"unknown emphasis {mode!r}", field="captions.emphasis")
    wanted = {core(w) for w in mode}
    return tuple(core(w) in wanted and bool(core(w)) for w in words)


def _auto(words: Sequence[str]) -> tuple[bool, ...]:
    flags = [False] * len(words)
    sentence: list[tuple[float, int]] = []
    starts_sentence = True
    for i, word in enumerate(words):
        score = _score(word, starts_sentence)
        if score > 0:
            sentence.append((score, i))
        starts_sentence = bool(_SENTENCE_END.search(word))
        if starts_sentence or i == len(words) - 1:
            length = _sentence_length(words, i)
            keep = max(1, math.floor(length * SHARE))
            # best score first; among equals, the earlier word
            for _, j in sorted(sentence, key=lambda c: (-c[0], c[1]))[:keep]:
                flags[j] = True
            sentence = []
    return tuple(flags)


def _sentence_length(words: Sequence[str], last: int) -> int:
    length = 1
    for j in range(last - 1, -1, -1):
        if _SENTENCE_END.search(words[j]):
            break
        length += 1
    return length


def _score(word: str, starts_sentence: bool) -> float:
    text = _CORE.sub("", word)
    if not text:
        return 0.0
    if any(c.isdigit() for c in text):
        return 3.0
    if text[0].isupper() and not starts_sentence and text != "I":
        return 2.0
    letters = sum(c.isalpha() for c in text)
    if letters >= MIN_LONG_WORD and text.casefold() not in _FUNCTION_WORDS:
        return 1.0 + letters / 100  # longer first among long words
    return 0.0
