"""Pronunciations for words the CMU dictionary lacks, in the acoustic model's ARPAbet phones.

espeak-ng (from the espeakng-loader wheel) turns any spelling into IPA with its letter-to-sound
rules; we map that IPA onto the 39 CMU phones. Anything espeak cannot say (letters of another
script) falls back to spelling out the Latin letters, and finally to nothing (the caller treats
the word as unknown speech). Nothing is downloaded.
"""

from __future__ import annotations

import ctypes
import functools
import threading
import unicodedata

import espeakng_loader

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

_LOCK = threading.Lock()


def guess_pronunciation(word: str) -> str | None:
    """ARPAbet phones for `word` ("K UW B ER N EH D IY Z"), or None if nothing sayable."""
    if not any("LATIN" in unicodedata.name(ch, "") for ch in word):
        return None  # another script: an English voice model cannot listen for it
    try:
        phones = _espeak_phones(word)
    except (OSError, RuntimeError):  # no usable espeak-ng: spelling is still better than nothing
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
    ipa = _text_to_ipa(word)
    phones = ipa_to_arpabet(ipa) if ipa else []
    return " ".join(phones) or None


def _text_to_ipa(text: str) -> str:
    lib = _library()
    buffer = ctypes.create_string_buffer(text.encode("utf-8"))
    pointer = ctypes.c_char_p(ctypes.addressof(buffer))
    parts: list[str] = []
    with _LOCK:  # libespeak-ng keeps global state and is not thread-safe
        while pointer.value:
            out = lib.espeak_TextToPhonemes(ctypes.byref(pointer), _CHARS_UTF8, _IPA_MODE)
            if out:
                parts.append(out.decode("utf-8", errors="replace"))
            else:
                break
    return " ".join(parts)


_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000
_CHARS_UTF8 = 1
_IPA_MODE = 0x02 | (ord("_") << 8)  # IPA, phonemes separated by "_"


@functools.cache
def _library() -> ctypes.CDLL:
    """The wheel's libespeak-ng, initialised once for phoneme conversion (no audio output)."""
    lib = ctypes.CDLL(espeakng_loader.get_library_path())
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
    lib.espeak_TextToPhonemes.argtypes = [
        ctypes.POINTER(ctypes.c_char_p), ctypes.c_int, ctypes.c_int
    ]  # fmt: skip
    with _LOCK:
        data = espeakng_loader.get_data_path().encode()
        if lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data, _INITIALIZE_DONT_EXIT) <= 0:
            raise RuntimeError("espeak-ng could not initialise")
        lib.espeak_SetVoiceByName(b"en-us")
    return lib
