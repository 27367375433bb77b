"""Pronunciations for words the CMU dictionary lacks, in the acoustic model's ARPAbet phones.

espeak-ng (from the espeakng-loader wheel) turns any spelling into IPA with its letter-to-sound
rules; we map that IPA onto the 39 CMU phones. Anything espeak cannot say (letters of another
script) falls back to spelling out the Latin letters, and finally to nothing (the caller treats
the word as unknown speech). Nothing is downloaded.
"""

from __future__ import annotations

import functools
import unicodedata

from reelflow.engine.errors import InputError, MediaError
from reelflow.engine.speech import espeak

PHONES = frozenset(
    [
        "AA",
        "AE",
        "AH",
        "AO",
        "AW",
        "AY",
        "B",
        "CH",
        "D",
        "DH",
        "EH",
        "ER",
        "EY",
        "F",
        "G",
        "HH",
        "IH",
        "IY",
        "JH",
        "K",
        "L",
        "M",
        "N",
        "NG",
        "OW",
        "OY",
        "P",
        "R",
        "S",
        "SH",
        "T",
        "TH",
        "UH",
        "UW",
        "V",
        "W",
        "Y",
        "Z",
        "ZH",
    ]
)

LETTER_NAMES = {
    "a": "EY", "b": "B IY", "c": "S IY", "d": "D IY", "e": "IY", "f": "EH F", "g": "JH IY",
    "h": "EY CH", "i": "AY", "j": "JH EY", "k": "K EY", "l": "EH L", "m": "EH M", "n": "EH N",
    "o": "OW", "p": "P IY", "q": "K Y UW", "r": "AA R", "s": "EH S", "t": "T IY", "u": "Y UW",
    "v": "V IY", "w": "D AH B AH L Y UW", "x": "EH K S", "y": "W AY", "z": "Z IY",
}  # fmt: skip

# espeak-ng's IPA for American English, longest symbols first when matching.
_IPA = {
    "aɪɚ": "AY ER", "aʊɚ": "AW ER", "ɑːɹ": "AA R", "ɔːɹ": "AO R", "oːɹ": "AO R", "ɛɹ": "EH R",
    "ɪɹ": "IH R", "ʊɹ": "UH R", "iə": "IY AH", "eɪ": "EY", "aɪ": "AY", "ɔɪ": "OY", "aʊ": "AW",
    "oʊ": "OW", "əʊ": "OW", "tʃ": "CH", "dʒ": "JH", "əl": "AH L", "ɑː": "AA", "ɔː": "AO",
    "uː": "UW", "iː": "IY", "ɜː": "ER", "ɪ": "IH", "i": "IY", "ɛ": "EH", "e": "EY", "æ": "AE",
    "a": "AA", "ɑ": "AA", "ɒ": "AA", "ɔ": "AO", "o": "OW", "ʊ": "UH", "u": "UW", "ʌ": "AH",
    "ə": "AH", "ɐ": "AH", "ᵻ": "IH", "ɚ": "ER", "ɝ": "ER", "ɜ": "ER", "y": "UW", "ø": "ER",
    "œ": "ER", "p": "P", "b": "B", "t": "T", "d": "D", "k": "K", "g": "G", "ɡ": "G", "f": "F",
    "v": "V", "θ": "TH", "ð": "DH", "s": "S", "z": "Z", "ʃ": "SH", "ʒ": "ZH", "h": "HH",
    "m": "M", "n": "N", "ŋ": "NG", "l": "L", "ɫ": "L", "ɹ": "R", "r": "R", "ɾ": "D", "w": "W",
    "j": "Y", "ʔ": "T", "x": "K", "ç": "HH", "ɬ": "L", "ʍ": "W", "ɲ": "N Y", "ʎ": "L Y",
    "n̩": "AH N", "l̩": "AH L", "m̩": "AH M",
}  # fmt: skip
_IPA_KEYS = sorted(_IPA, key=len, reverse=True)
_IGNORED = set("ˈˌːˑ‿|-_ \u0303\u032f")


def guess_pronunciation(word: str) -> str | None:
    """ARPAbet phones for `word` ("K UW B ER N EH D IY Z"), or None if nothing sayable."""
    if not any("LATIN" in unicodedata.name(ch, "") for ch in word):
        return None  # another script: an English voice model cannot listen for it
    try:
        phones = _espeak_phones(word)
    except (
        OSError,
        MediaError,
        InputError,
    ):  # no usable espeak-ng: spelling is still better than nothing
        phones = None
    if phones:
        return phones
    return spell_out(word)


def spell_out(word: str) -> str | None:
    """The letter names of `word`'s Latin letters (accents dropped), or None if it has none."""
    folded = unicodedata.normalize("NFKD", word.lower())
    names = [LETTER_NAMES[ch] for ch in folded if ch in LETTER_NAMES]
    return " ".join(names) or None


def ipa_to_arpabet(ipa: str) -> list[str]:
    """Map espeak's IPA (phonemes optionally separated by "_") onto CMU phones."""
    phones: list[str] = []
    for chunk in ipa.replace("_", " ").split():
        text = "".join(ch for ch in chunk if ch not in _IGNORED)
        i = 0
        while i < len(text):
            key = next((k for k in _IPA_KEYS if text.startswith(k, i)), None)
            if key is None:
                i += 1  # a symbol with no English counterpart: skip rather than guess
                continue
            phones += _IPA[key].split()
            i += len(key)
    return phones


@functools.lru_cache(maxsize=4096)
def _espeak_phones(word: str) -> str | None:
    ipa = espeak.text_to_ipa(word, voice="en-us")
    phones = ipa_to_arpabet(ipa) if ipa else []
    return " ".join(phones) or None
