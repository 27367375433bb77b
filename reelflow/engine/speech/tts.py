"""Offline speech synthesis (espeak-ng) with a timing for every transcript token.

espeak reports where each word starts in the audio, by character offset into the text it was
given. We build that text from the display tokens ourselves, so every offset maps back to exactly
one token; word ends come from the audio's energy, so pauses show as gaps between words.
"""

from __future__ import annotations

import bisect
import dataclasses
import os
import re
import unicodedata
from dataclasses import dataclass

import numpy as np
import soxr

from reelflow.engine.audio import frame_energy_db, write_wav
from reelflow.engine.errors import InputError
from reelflow.engine.speech import espeak
from reelflow.engine.text import is_speakable, syllable_weight, tokenize
from reelflow.engine.timing import WordTiming, WordTimings

RATE_WPM_RANGE = (80, 450)
PITCH_RANGE = (0, 100)

# Characters espeak would read aloud ("asterisk", "tilde", "grinning face") or that carry no
# sound: markup left inside words, emoji and other pictographs, controls and joiners.
_MARKUP = re.compile(r"[*_`~|<>\[\]{}\\^\ufe00-\ufe0f]")
_SILENT_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cn", "Cs", "So", "Sk", "Me"})
_DASHES = frozenset("-‐‑‒–—―")
_PAUSE_PUNCTUATION = frozenset(".,;:!?…")

_HOP_S = 0.005  # energy frames: 10 ms long every 5 ms, fine enough for 30 fps captions
_FRAME_S = 0.010
# espeak's pauses are digital silence and its quietest consonants sit about 40 dB below its peaks.
_AUDIBLE_BELOW_PEAK_DB = 45.0
_TAIL_S = 0.020  # how long a word event may precede the silence (closure or pause) it starts with


@dataclass(frozen=True)
class Synthesis:
    """Speech for a script: float32 mono samples and one timing per display token."""

    samples: np.ndarray
    sample_rate: int
    words: WordTimings

    @property
    def duration_s(self) -> float:
        return self.samples.shape[0] / float(self.sample_rate)


def synthesize(
    text: str,
    *,
    voice: str = "en-us",
    rate_wpm: int = 165,
    pitch: int = 50,
    tokens: tuple[str, ...] | None = None,
) -> Synthesis:
    """Speak `text` with espeak-ng and time each token of ``tokenize(text)``.

    Markdown and emoji are shown in captions but never spoken. Starts come from espeak's word
    events, moved onto the audible onset when a word begins with silence (a pause or a stop
    closure); ends are where the word's sound stops before the next word. Tokens espeak gives no
    event of their own share their neighbour's interval (``confidence`` 0.5). Same text and
    settings give identical samples.

    Raises `InputError` with field ``script`` for text with nothing to say, ``voice`` for an
    unknown voice, ``rate_wpm`` or ``pitch`` for values out of range.
    """
    # Given tokens (an aligner's, already cut) are timed as they are, not re-segmented.
    if tokens is None:
        tokens = tokenize(text) if isinstance(text, str) else ()
    if not tokens:
        raise InputError("there is nothing to speak: the script is empty", field="script")
    _check_range("rate_wpm", rate_wpm, RATE_WPM_RANGE)
    _check_range("pitch", pitch, PITCH_RANGE)
    spoken, spans = spoken_text(tokens)
    raw = espeak.speak(spoken, voice=voice, rate_wpm=rate_wpm, pitch=pitch)
    if raw.samples.size == 0:
        raise InputError("espeak-ng found nothing to say in the script", field="script")
    samples = raw.samples.astype(np.float32) / 32768.0
    duration = samples.shape[0] / raw.sample_rate
    anchors = _first_event_per_token(raw.words, spoken, spans, duration)
    starts = _fill_missing(anchors, tokens, duration)
    levels = frame_energy_db(samples, raw.sample_rate, frame_s=_FRAME_S, hop_s=_HOP_S)
    audible = levels > np.percentile(levels, 95) - _AUDIBLE_BELOW_PEAK_DB
    starts = [
        _onset(audible, s, nxt) for s, nxt in zip(starts, [*starts[1:], duration], strict=True)
    ]
    bounds = [*starts[1:], duration]
    words = tuple(
        WordTiming(token, _ms(s), _ms(_end(audible, s, nxt)), 0.5 if a is None else 1.0)
        for token, s, nxt, a in zip(tokens, starts, bounds, anchors, strict=True)
    )
    interpolated = sum(a is None for a in anchors)
    details = dict(voice=voice, rate_wpm=rate_wpm, pitch=pitch, interpolated=interpolated)
    return Synthesis(samples, raw.sample_rate, WordTimings(words, "synthesized", details))


def synthesize_to_wav(
    text: str, path: str | os.PathLike[str], *, sample_rate: int = 48_000, **kw
) -> Synthesis:
    """Synthesise `text` and write it as a 16-bit WAV at `sample_rate`, atomically.

    Keyword arguments go to `synthesize`. Returns the synthesis as written: samples resampled to
    `sample_rate`, word timings (seconds) unchanged.
    """
    if not isinstance(sample_rate, int) or sample_rate < 8_000:
        raise InputError(f"must be at least 8000 Hz, not {sample_rate!r}", field="sample_rate")
    synthesis = synthesize(text, **kw)
    samples = synthesis.samples
    if sample_rate != synthesis.sample_rate:
        # soxr directly (what librosa.resample calls by default): importing librosa's audio
        # module loads numba and scipy.signal, ~1.5 s of CPU for every script reel.
        samples = soxr.resample(samples, synthesis.sample_rate, sample_rate, quality="HQ")
    samples = np.clip(samples, -1.0, 1.0).astype(np.float32)
    write_wav(path, samples, sample_rate)
    return dataclasses.replace(synthesis, samples=samples, sample_rate=sample_rate)


def spoken_text(tokens: tuple[str, ...]) -> tuple[str, list[tuple[int, int]]]:
    """The plain text espeak speaks for `tokens`, and each token's [start, end) in it.

    Tokens are joined by single spaces. Unspeakable pieces glued to a token keep only the pause
    they imply (a dash becomes a comma, "..." stays), so punctuation still paces the speech.
    """
    parts: list[str] = []
    spans: list[tuple[int, int]] = []
    offset = 0
    for token in tokens:
        part = _spoken_token(token)
        spans.append((offset, offset + len(part)))
        parts.append(part)
        offset += len(part) + 1
    return " ".join(parts), spans


def _spoken_token(token: str) -> str:
    pieces: list[str] = []
    for piece in token.split():
        if is_speakable(piece):
            cleaned = "".join(
                " " if unicodedata.category(ch) in _SILENT_CATEGORIES and not ch.isalnum() else ch
                for ch in _MARKUP.sub(" ", piece)
            )
            pieces.extend(cleaned.split())
        elif pieces and pieces[-1][-1] not in _PAUSE_PUNCTUATION:
            pause = "," if any(ch in _DASHES for ch in piece) else ""
            pause += "".join(ch for ch in piece if ch in _PAUSE_PUNCTUATION)
            pieces[-1] += pause
    return " ".join(pieces)


def _first_event_per_token(
    events: tuple[espeak.WordEvent, ...],
    spoken: str,
    spans: list[tuple[int, int]],
    duration_s: float,
) -> list[float | None]:
    """Each token's first word event time, kept only while times strictly increase.

    Numbers and hyphenated words give several events: the first wins. An event can point past a
    token's last sounding character: espeak expands "½" into two words and reports the second at
    the following space, but after an abbreviation-like ". " it reports the *next* word one or two
    characters early. Such an event goes to the next token only if that token has none of its own.
    """
    starts = [start for start, _ in spans]
    owners = []
    for event in events:
        i = max(0, bisect.bisect_right(starts, event.char_idx) - 1)
        ambiguous = i + 1 < len(spans) and event.char_idx >= _sounding_end(spoken, *spans[i])
        owners.append((i, ambiguous))
    owned = {i for i, ambiguous in owners if not ambiguous}
    anchors: list[float | None] = [None] * len(spans)
    last_token, last_time = -1, -1.0
    for event, (i, ambiguous) in zip(events, owners, strict=True):
        token = i + 1 if ambiguous and i + 1 not in owned else i
        # Only the first token may start at 0: the ones before it need some time of their own.
        earliest = last_time if token == 0 or last_token >= 0 else 0.0
        if token > last_token and earliest < event.phoneme_s < duration_s:
            anchors[token] = event.phoneme_s
            last_token, last_time = token, event.phoneme_s
    return anchors


def _sounding_end(spoken: str, start: int, end: int) -> int:
    """Offset just after the token's last character with a sound (not trailing punctuation)."""
    for k in range(end, start, -1):
        if is_speakable(spoken[k - 1]):
            return k
    return start


def _fill_missing(
    anchors: list[float | None], tokens: tuple[str, ...], duration_s: float
) -> list[float]:
    """Start times for every token: a token without an event shares the interval of the anchored
    token before it (or, at the very beginning, from time zero) in proportion to syllables."""
    anchored = [i for i, t in enumerate(anchors) if t is not None]
    if not anchored or anchored[0] != 0:
        anchored = [0, *anchored]  # the first group starts at time zero
    starts: list[float] = []
    for k, first in enumerate(anchored):
        last = anchored[k + 1] if k + 1 < len(anchored) else len(tokens)
        t0 = anchors[first] if anchors[first] is not None else 0.0
        t1 = anchors[last] if last < len(tokens) else duration_s
        weights = np.array([syllable_weight(tok) for tok in tokens[first:last]])
        offsets = np.concatenate(([0.0], np.cumsum(weights)[:-1])) / weights.sum()
        starts.extend(float(t0 + (t1 - t0) * o) for o in offsets)
    return starts


def _onset(audible: np.ndarray, start_s: float, next_s: float) -> float:
    """Move a start onto the first sound when the word begins with silence (a sentence pause,
    or the closure of a stop such as the t in "test"), never past the next word's start."""
    k0, k_next = _frame(start_s), min(_frame(next_s), audible.size)
    k_tail = min(k0 + _frame(_TAIL_S) + 1, k_next)
    silent = np.flatnonzero(~audible[k0:k_tail])
    if silent.size == 0:
        return start_s  # sound right from the event: espeak's boundary is the onset
    sound = np.flatnonzero(audible[k0 + silent[0] : k_next])
    if sound.size == 0:
        return start_s
    onset_s = (k0 + silent[0] + sound[0]) * _HOP_S - _HOP_S / 2
    return max(start_s, min(onset_s, next_s - _HOP_S / 2))


def _end(audible: np.ndarray, start_s: float, next_s: float) -> float:
    """Where the word's sound stops before the next word starts (at least 10 ms after start)."""
    k0, k_next = _frame(start_s), min(_frame(next_s), audible.size)
    sound = np.flatnonzero(audible[k0:k_next])
    end_s = next_s if sound.size == 0 else (k0 + sound[-1]) * _HOP_S + _HOP_S / 2
    return min(next_s, max(end_s, start_s + min(0.010, (next_s - start_s) / 2)))


def _ms(time_s: float) -> float:
    return round(float(time_s), 4)


def _frame(time_s: float) -> int:
    return max(0, round(time_s / _HOP_S))


def _check_range(field: str, value: int, bounds: tuple[int, int]) -> None:
    low, high = bounds
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InputError(f"must be a whole number from {low} to {high}, not {value!r}", field=field)
