"""Transcript tokens: what the viewer reads, one timing each.

A token is a whitespace-separated piece of the transcript after markdown syntax is removed.
Pieces with nothing to say (a lone dash, an emoji) are glued to the neighbouring word so they
still show on screen but never need a timing of their own.
"""

from __future__ import annotations

import re
import unicodedata

from reelflow.engine.segment import needs_segmenting, segment

_MD_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_MD_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_MD_CODE = re.compile(r"`+([^`]*)`+")
_MD_LINE_PREFIX = re.compile(r"^\s{0,3}(?:#{1,6}\s+|>\s?|[-*+]\s+|\d+[.)]\s+)", re.MULTILINE)
_MD_EMPHASIS = re.compile(r"(\*\*|__|~~|\*|_)(?=\S)(.+?)(?<=\S)\1")
_MD_RULE = re.compile(r"^\s*([-*_])(\s*\1){2,}\s*$", re.MULTILINE)


def strip_markdown(text: str) -> str:
    """Remove markdown syntax but keep the words it decorates."""
    text = _MD_RULE.sub(" ", text)
    text = _MD_IMAGE.sub(r"\1", text)
    text = _MD_LINK.sub(r"\1", text)
    text = _MD_CODE.sub(r"\1", text)
    text = _MD_LINE_PREFIX.sub("", text)
    for _ in range(3):  # nested emphasis such as ***word***
        text = _MD_EMPHASIS.sub(r"\2", text)
    return text


def is_speakable(piece: str) -> bool:
    """Whether a piece holds something a voice would say (letters, digits or symbols like $ % &)."""
    return any(ch.isalnum() or ch in "$%&@+#€£¥=" for ch in piece)


def tokenize(text: str) -> tuple[str, ...]:
    """Split a transcript into display tokens, in order; every token is speakable.

    Chinese, Japanese and Thai pieces are cut into words (`segment`). Their punctuation is glued
    without a space: closing marks to the word before, opening marks to the word after, so no
    caption line starts with "。" or "」" or ends with "「" (CJK line-breaking rules).
    """
    tokens: list[str] = []
    pending = ""  # unspeakable pieces before the next word (opening marks, leading symbols)
    for piece, spaced in _pieces(unicodedata.normalize("NFC", strip_markdown(text))):
        sep = " " if spaced else ""
        if is_speakable(piece):
            tokens.append(f"{pending}{piece}" if pending else piece)
            pending = ""
        elif tokens and not _is_opening(piece):
            tokens[-1] = f"{tokens[-1]}{sep}{piece}"
        else:
            pending += piece if _is_opening(piece) else f"{piece}{sep}"
    return tuple(tokens)


def _pieces(text: str) -> list[tuple[str, bool]]:
    """Whitespace pieces, those in unspaced writing cut into words; each with whether a space
    came before it (True) or it was cut from the piece before (False)."""
    out: list[tuple[str, bool]] = []
    for piece in text.split():
        words = segment(piece) if needs_segmenting(piece) else [piece]
        out.extend((word, k == 0) for k, word in enumerate(words))
    return out


def _is_opening(piece: str) -> bool:
    return all(unicodedata.category(ch) in ("Ps", "Pi") for ch in piece)


_VOWEL_GROUPS = re.compile(r"[aeiouy]+")


def syllable_weight(token: str) -> float:
    """Rough spoken length of a token in syllables, to share out time when nothing better exists.

    Digits count as about 1.3 syllables each (\"2026\" is five syllables spoken); symbols such as
    \"$\" and \"%\" add a word of their own; any token counts at least one syllable.
    """
    core = token.lower()
    letters = re.sub(r"[^a-z]", "", core)
    groups = len(_VOWEL_GROUPS.findall(letters))
    if letters.endswith("e") and groups > 1 and not letters.endswith(("le", "ee")):
        groups -= 1
    digits = sum(ch.isdigit() for ch in core)
    symbols = sum(ch in "$%&@+=€£¥" for ch in core)
    other_letters = sum(ch.isalpha() and not ("a" <= ch <= "z") for ch in core)
    weight = groups + 1.3 * digits + 1.0 * symbols + 0.5 * other_letters
    return max(1.0, weight)
