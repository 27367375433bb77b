"""The one ctypes binding to libespeak-ng (espeakng-loader wheel): audio, word events, phonemes.

libespeak-ng keeps process-global state: one output mode, one callback, one current voice, and
function-local statics such as the pitch-flutter phase that `espeak_Terminate` does not reset, so
the same text synthesised twice in one process gives slightly different samples. Two rules follow:

* Every synthesis holds `_LOCK`, because the library is not thread-safe and its callback and
  voice are shared by all callers.
* Every synthesis loads a fresh instance of a private copy of the library and unloads it
  afterwards, so each one starts from the same pristine statics and identical input gives
  identical samples. Loading and initialising costs a few milliseconds. The private copy also
  keeps us apart from anyone else in the process who loads the wheel's library.

Nothing happens at import time; the copy is made on first use.
"""

from __future__ import annotations

import _ctypes
import atexit
import contextlib
import ctypes
import dataclasses
import difflib
import functools
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import espeakng_loader
import numpy as np

from reelflow.engine.errors import InputError, MediaError

_LOCK = threading.Lock()

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_PHONEME_EVENTS = 0x0001
_INITIALIZE_DONT_EXIT = 0x8000  # report missing data as an error instead of calling exit()
_EVENT_LIST_TERMINATED = 0
_EVENT_WORD = 1
_EVENT_PHONEME = 7
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_RATE, _PITCH = 1, 3
_EE_OK = 0


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),  # 1-based, in characters (code points) with CHARS_UTF8
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),  # milliseconds
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


class _Voice(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("languages", ctypes.c_void_p),  # priority byte, then NUL-terminated language names
        ("identifier", ctypes.c_char_p),
        ("gender", ctypes.c_ubyte),
        ("age", ctypes.c_ubyte),
        ("variant", ctypes.c_ubyte),
        ("xx1", ctypes.c_ubyte),
        ("score", ctypes.c_int),
        ("spare", ctypes.c_void_p),
    ]


_SynthCallback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)


@dataclass(frozen=True)
class WordEvent:
    """espeak's report that a word starts: where in the text and when in the audio."""

    char_idx: int  # 0-based code point offset into the synthesised text
    length: int  # in code points
    time_s: float
    # When the word's first phoneme starts. Usually ~10 ms after `time_s`, but after a ". "
    # that espeak takes for an abbreviation the word event fires inside the previous vowel.
    phoneme_s: float


@dataclass(frozen=True)
class RawSpeech:
    samples: np.ndarray  # int16 mono
    sample_rate: int
    words: tuple[WordEvent, ...]


def speak(text: str, *, voice: str, rate_wpm: int, pitch: int) -> RawSpeech:
    """Synthesise `text` (plain UTF-8, no SSML) and collect its audio and word events."""
    voice_name = resolve_voice(voice)
    collector = _Collector()
    callback = _SynthCallback(collector.on_audio)  # referenced until synthesis ends
    encoded = text.encode("utf-8")
    with _LOCK, _fresh_library() as (lib, sample_rate):
        lib.espeak_SetSynthCallback(callback)
        if lib.espeak_SetVoiceByName(voice_name.encode("utf-8")) != _EE_OK:
            raise InputError(_unknown_voice_message(voice), field="voice")
        lib.espeak_SetParameter(_RATE, rate_wpm, 0)
        lib.espeak_SetParameter(_PITCH, pitch, 0)
        status = lib.espeak_Synth(
            encoded, len(encoded) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None
        )
        if status != _EE_OK:
            raise MediaError(f"espeak-ng failed to synthesise (status {status})")
    samples = np.frombuffer(b"".join(collector.chunks), dtype=np.int16)
    return RawSpeech(samples, sample_rate, tuple(collector.words))


_IPA_MODE = 0x02 | (ord("_") << 8)  # IPA, phonemes separated by "_"


def text_to_ipa(text: str, *, voice: str) -> str:
    """espeak-ng's IPA for `text` in `voice` (phonemes joined by "_", words by spaces)."""
    voice_name = resolve_voice(voice)
    buffer = ctypes.create_string_buffer(text.encode("utf-8"))
    pointer = ctypes.c_char_p(ctypes.addressof(buffer))
    parts: list[str] = []
    with _LOCK, _fresh_library() as (lib, _rate):
        lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
        lib.espeak_TextToPhonemes.argtypes = [
            ctypes.POINTER(ctypes.c_char_p), ctypes.c_int, ctypes.c_int
        ]  # fmt: skip
        if lib.espeak_SetVoiceByName(voice_name.encode("utf-8")) != _EE_OK:
            raise InputError(_unknown_voice_message(voice), field="voice")
        while pointer.value:
            out = lib.espeak_TextToPhonemes(ctypes.byref(pointer), _CHARS_UTF8, _IPA_MODE)
            if not out:
                break
            parts.append(out.decode("utf-8", errors="replace"))
    return " ".join(parts)


class _Collector:
    """Receives espeak's callbacks: audio chunks, word events and each word's first phoneme."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.words: list[WordEvent] = []
        self._awaiting_phoneme = False

    def on_audio(self, wav, n_samples: int, events) -> int:
        if wav and n_samples > 0:
            self.chunks.append(ctypes.string_at(wav, n_samples * 2))
        i = 0
        while events[i].type != _EVENT_LIST_TERMINATED:
            self._on_event(events[i])
            i += 1
        return 0  # continue synthesis

    def _on_event(self, ev: _Event) -> None:
        time_s = ev.audio_position / 1e3
        if ev.type == _EVENT_WORD:
            self.words.append(WordEvent(ev.text_position - 1, ev.length, time_s, time_s))
            self._awaiting_phoneme = True
        elif ev.type == _EVENT_PHONEME and ev.id.string and self._awaiting_phoneme:
            # A word's phoneme events follow its word event; an empty name is a pause.
            word = self.words[-1]
            self.words[-1] = dataclasses.replace(word, phoneme_s=max(word.time_s, time_s))
            self._awaiting_phoneme = False


def voice_names() -> tuple[str, ...]:
    """Language codes espeak-ng has a voice for, such as ``en-us``, ``en-gb`` or ``fr``."""
    return tuple(sorted(_voices()[1]))


def resolve_voice(voice: str) -> str:
    """The espeak voice name for `voice`: a language code, voice name or file identifier,
    optionally ``+variant`` (e.g. ``en-gb``, ``English (America)``, ``en-us+f3``), any case.

    Raises `InputError` (field ``voice``) for anything else. espeak itself would "accept" a
    bare variant such as ``m3`` and then speak with no language, and it only takes file names
    (``gmw/en``), not language codes such as ``en-gb``.
    """
    if not isinstance(voice, str):
        raise InputError(f"must be a voice name such as en-us, not {voice!r}", field="voice")
    base, plus, variant = voice.strip().partition("+")
    identifier = _voices()[0].get(base.lower())
    variants = {name.lower(): name for name in _variants()}
    if identifier is None or (plus and variant.lower() not in variants):
        raise InputError(_unknown_voice_message(voice), field="voice")
    return f"{identifier}+{variants[variant.lower()]}" if plus else identifier


def _unknown_voice_message(voice: str) -> str:
    close = difflib.get_close_matches(voice.lower(), voice_names(), n=3, cutoff=0.6)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    return (
        f"unknown voice {voice!r}; {hint}voices are language codes such as en-us, en-gb, fr "
        "or de, optionally with a variant such as en-us+f3"
    )


@functools.cache
def _voices() -> tuple[dict[str, str], frozenset[str]]:
    """Every lower-case alias -> voice file identifier, and which aliases are language codes.

    Several voices claim a language ("en" is claimed by nine); the one espeak ranks first (the
    lowest priority number) keeps it, as espeak itself would choose.
    """
    ranked: dict[str, tuple[int, str]] = {}
    languages: set[str] = set()
    with _LOCK, _fresh_library() as (lib, _):
        lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_Voice))
        lib.espeak_ListVoices.argtypes = [ctypes.c_void_p]
        listing = lib.espeak_ListVoices(None)
        i = 0
        while listing[i]:
            v = listing[i].contents
            identifier = v.identifier.decode()
            aliases = [(0, identifier), (0, identifier.rsplit("/", 1)[-1]), (0, v.name.decode())]
            aliases += _languages(v)
            languages.update(language for _, language in _languages(v))
            for priority, alias in aliases:
                key = alias.lower()
                if key not in ranked or priority < ranked[key][0]:
                    ranked[key] = (priority, identifier)
            i += 1
    return {alias: identifier for alias, (_, identifier) in ranked.items()}, frozenset(languages)


def _languages(voice: _Voice) -> list[tuple[int, str]]:
    """Decode espeak's language list: (priority byte, NUL-terminated name) pairs, then a 0 byte."""
    found = []
    address = voice.languages
    while (priority := ctypes.c_ubyte.from_address(address).value) != 0:
        name = ctypes.string_at(address + 1)
        found.append((priority, name.decode()))
        address += len(name) + 2
    return found


@functools.cache
def _variants() -> frozenset[str]:
    return frozenset(
        p.name for p in (Path(espeakng_loader.get_data_path()) / "voices/!v").iterdir()
    )


@contextlib.contextmanager
def _fresh_library() -> Iterator[tuple[ctypes.CDLL, int]]:
    """Load and initialise one instance of the private library; terminate and unload it after."""
    lib = ctypes.CDLL(str(_private_library_path()))
    try:
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.argtypes = [
            ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
            ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p,
        ]  # fmt: skip
        data = espeakng_loader.get_data_path()
        options = _INITIALIZE_PHONEME_EVENTS | _INITIALIZE_DONT_EXIT
        sample_rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data.encode(), options)
        if sample_rate <= 0:
            raise MediaError(f"espeak-ng could not initialise from {data}")
        try:
            yield lib, sample_rate
        finally:
            lib.espeak_Terminate()
    finally:
        close = getattr(_ctypes, "dlclose", None)  # POSIX; elsewhere the statics persist
        if close is not None:
            close(lib._handle)


_private_copy: tuple[int, Path] | None = None  # (pid that made it, path)


def _private_library_path() -> Path:
    """A copy of the wheel's library in a private temporary folder, removed at exit.

    Called under `_LOCK`. A forked child that exits normally would run the parent's atexit
    hook, so only the process that made the copy removes it, and a missing copy is remade.
    """
    global _private_copy
    if _private_copy is None or not _private_copy[1].exists():
        folder = Path(tempfile.mkdtemp(prefix="reelflow-espeak-"))
        atexit.register(_remove_if_owner, os.getpid(), folder)
        source = Path(espeakng_loader.get_library_path())
        _private_copy = (os.getpid(), Path(shutil.copy2(source, folder / source.name)))
    return _private_copy[1]


def _remove_if_owner(pid: int, folder: Path) -> None:
    if os.getpid() == pid:
        shutil.rmtree(folder, ignore_errors=True)
