"""Which language a transcript is in, and which espeak-ng voice speaks it.

A `language` (BCP 47, e.g. ``es``, ``pt-BR``, ``zh-TW``) decides when given. Otherwise the
writing decides where it can: kana is Japanese, hangul Korean, Han Chinese, Devanagari Hindi,
and so on. Latin script cannot tell Spanish from English, so it stays English without a
language. No espeak call here: this runs while a spec is validated.
"""

from __future__ import annotations

import unicodedata
from collections import Counter

DEFAULT_LANGUAGE = "en"
# espeak-ng voice for a BCP 47 language where the code alone is not espeak's name for it.
_VOICE_FOR = {
    "en": "en-us",
    "zh": "cmn",
    "zh-tw": "cmn",  # espeak's Mandarin reads traditional characters too
    "zh-hant": "cmn",
    "zh-hk": "yue",
    "pt": "pt-br",
    "iw": "he",
}
# Unicode script (first word of a character's name) -> the language its text most likely is.
_SCRIPT_LANGUAGE = {
    "CJK": "zh",
    "HIRAGANA": "ja",
    "KATAKANA": "ja",
    "HANGUL": "ko",
    "DEVANAGARI": "hi",
    "BENGALI": "bn",
    "TAMIL": "ta",
    "THAI": "th",
    "ARABIC": "ar",
    "HEBREW": "he",
    "CYRILLIC": "ru",
    "GREEK": "el",
}


def detect_language(text: str, *, language: str | None = None) -> str:
    """The language of `text` as a lower-case BCP 47 tag: `language` when given, else the
    one its writing implies (kana anywhere means Japanese), else English."""
    if language:
        return language.lower().replace("_", "-")
    scripts = Counter(
        _SCRIPT_LANGUAGE.get(unicodedata.name(ch, "").split(" ")[0]) for ch in text if ch.isalpha()
    )
    if scripts.get("ja"):
        return "ja"
    scripts.pop(None, None)
    return scripts.most_common(1)[0][0] if scripts else DEFAULT_LANGUAGE


def voice_for(text: str, *, language: str | None = None) -> str:
    """The espeak-ng voice for `text`: from `language`, else from its writing (see module)."""
    tag = detect_language(text, language=language)
    return _VOICE_FOR.get(tag) or _VOICE_FOR.get(tag.split("-")[0]) or tag


def base_language(tag: str) -> str:
    """``pt-br`` -> ``pt``: the part of a tag that picks the aligner's path."""
    return tag.lower().replace("_", "-").split("-")[0]
