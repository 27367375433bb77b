"""Forced alignment: when each transcript token is spoken in a recording.

    align(samples, sample_rate, transcript) -> WordTimings

1. The transcript is split into display tokens (`text.tokenize`); each gets alternative
   readings ("2026" -> "twenty twenty six" | "two thousand twenty six", `normalize`) and every
   word a pronunciation (CMU dictionary, else espeak-ng, `pronounce`).
2. The audio becomes 16 kHz 16-bit mono, with slipped PCM bytes repaired (`pcm`).
3. pocketsphinx's bundled US English model aligns the readings window by window, retrying hard
   windows with wider beams (`align_chunks`, `sphinx`).
4. Frame boundaries become times; edges next to pauses are re-placed on the energy curve
   (`refine`). Each word's confidence comes from its acoustic score.
5. Tokens left unplaced are estimated between their neighbours (`gaps`); with no speech at all,
   or no trustworthy alignment, the whole transcript is estimated (`estimate`).

The method is ``aligned`` when every spoken token was aligned, ``partly_estimated`` when some
were estimated, ``estimated`` when none could be aligned.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from reelflow.engine import ffmpeg
from reelflow.engine.alignment import dtw, gaps, sphinx
from reelflow.engine.alignment.chunks import Span, align_spans
from reelflow.engine.alignment.condense import TimeMap, condense, speech_segments
from reelflow.engine.alignment.corrections import apply_corrections
from reelflow.engine.alignment.estimate import estimate_timings
from reelflow.engine.alignment.normalize import transcript_readings
from reelflow.engine.alignment.pcm import TARGET_RATE, to_pcm16
from reelflow.engine.alignment.refine import energy_curve, word_times
from reelflow.engine.audio import Segment
from reelflow.engine.errors import InputError, MediaError
from reelflow.engine.speech.languages import base_language, voice_for
from reelflow.engine.text import syllable_weight, tokenize
from reelflow.engine.timing import WordTiming, WordTimings

__all__ = ["align", "align_file", "apply_corrections"]

MAX_SYLLABLES_PER_S = 15.0  # beyond this (plus slack) no voice could have said the transcript
SYLLABLE_SLACK = 4.0
# Confidence = logistic((acoustic score per frame - MID) / SCALE). The score is the word's
# log-likelihood per 10 ms frame relative to the best state the search kept alive. MID and
# SCALE come from a class-balanced logistic fit on the synthetic corpus: its words aligned to
# their own transcript (median score -30) against words swapped for other sentences' words
# (median -67). Not fitted on align-dev (where right words score a median of -12).
CONFIDENCE_MID = -45.0
CONFIDENCE_SCALE = 10.0
NEIGHBOUR_WEIGHT = 0.5  # confidence a word inherits from well-aligned neighbours on both sides
UNTRUSTED_MEDIAN_CONFIDENCE = 0.15  # an alignment this poor overall is no better than a guess


def align(
    samples: np.ndarray, sample_rate: int, transcript: str, *, language: str | None = None
) -> WordTimings:
    """Time every token of ``tokenize(transcript)`` in `samples` (float, mono or channels last).

    English (and no `language`) goes through pocketsphinx; any other language espeak-ng speaks
    is aligned by warping a synthesis of the transcript onto the voice (`dtw`). The path that
    served is ``details["aligner"]``; each word's confidence is that path's.

    Returns one `WordTiming` per token, in order, non-overlapping, within the audio, each with
    a confidence in [0, 1]. Raises `InputError` for an empty transcript, empty or invalid
    audio, or a transcript far longer than the audio could hold.
    """
    tokens = _tokens(transcript)
    samples = _checked_samples(samples, sample_rate)
    pcm, repaired = to_pcm16(samples, sample_rate)
    duration_s = pcm.size / TARGET_RATE
    _check_feasible(tokens, duration_s)
    speech = speech_segments(pcm)
    details: dict[str, float | int | str] = {"duration_s": round(duration_s, 3)}
    if repaired:
        details["repaired_samples"] = repaired
    if not speech:
        return _estimated(pcm, tokens, speech, details | {"reason": "no speech found"})
    if language and base_language(language) != "en":
        return _warped(pcm, tokens, speech, details, voice_for(transcript, language=language))
    details["aligner"] = "pocketsphinx"
    plan = transcript_readings(tokens)
    unspoken = [() in options for options in plan]
    condensed, time_map = condense(pcm, speech)
    result = align_spans(condensed, sphinx.sayable_plan(plan), [syllable_weight(t) for t in tokens])
    details |= {"windows": result.windows, "lost_windows": result.lost_windows}
    spans = [_uncondensed(s, time_map) for s in result.spans]
    confidence = [_confidence(s) for s in spans]
    known = [c for c in confidence if c is not None]
    if not known or float(np.median(known)) < UNTRUSTED_MEDIAN_CONFIDENCE:
        return _estimated(pcm, tokens, speech, details | {"reason": "alignment not trustworthy"})
    confidence = _anchored(confidence)
    times = word_times(spans, energy_curve(pcm), duration_s)
    words, estimated = gaps.fill(
        tokens, times, [c or 0.0 for c in confidence],
        unspoken=[u and s is None for u, s in zip(unspoken, spans, strict=True)],
        speech=speech, duration_s=duration_s,
    )  # fmt: skip
    details["estimated_tokens"] = estimated
    method = "aligned" if estimated == 0 else "partly_estimated"
    return WordTimings(_tidy(words, duration_s), method, details)


def align_file(
    path: str | os.PathLike[str], transcript: str, *, language: str | None = None
) -> WordTimings:
    """Decode any audio (or video) file and `align` `transcript` to it.

    ffmpeg decodes to 16-bit mono at 16 kHz; mono 16-bit PCM is read at its own rate instead,
    bit for bit, so that a slipped byte can still be repaired (`pcm`). Raises `InputError`
    (field ``audio``) for a missing, unreadable or silent-less file.
    """
    tokens = _tokens(transcript)  # fail fast on an empty transcript, before decoding
    info = ffmpeg.probe(path, field="audio")
    if info.audio is None:
        raise InputError(f"{Path(path).name} has no audio stream", field="audio")
    exact = info.audio.codec in ("pcm_s16le", "pcm_s16be") and info.audio.channels == 1
    rate = info.audio.sample_rate if exact else TARGET_RATE
    args = ["-i", os.fspath(path), "-vn", "-map", "0:a:0", "-ac", "1", "-ar", str(rate),
            "-f", "s16le", "-acodec", "pcm_s16le", "pipe:1"]  # fmt: skip
    try:
        samples = np.frombuffer(ffmpeg.run_to_bytes(args), dtype="<i2")
    except MediaError as exc:
        raise InputError(f"audio does not decode: {exc}", field="audio") from exc
    if samples.size == 0:
        raise InputError(f"{Path(path).name} contains no audio samples", field="audio")
    return align(samples.astype(np.int16, copy=False), rate, " ".join(tokens), language=language)


def _warped(
    pcm: np.ndarray, tokens: tuple[str, ...], speech: tuple[Segment, ...], details: dict, voice: str
) -> WordTimings:
    """Non-English: the transcript synthesised with `voice` and warped onto the voice."""
    details = details | {"aligner": "espeak-dtw", "voice": voice}
    try:
        warped = dtw.align_by_synthesis(pcm, tokens, voice=voice)
    except InputError as exc:  # e.g. an espeak voice that does not exist
        return _estimated(pcm, tokens, speech, details | {"reason": str(exc)})
    if warped.mean_cost > dtw.UNTRUSTED_COST:
        return _estimated(pcm, tokens, speech, details | {"reason": "warp not trustworthy"})
    details["mean_cost"] = round(warped.mean_cost, 3)
    return WordTimings(_tidy(warped.words, pcm.size / TARGET_RATE), "aligned", details)


def _tokens(transcript: str) -> tuple[str, ...]:
    if not isinstance(transcript, str):
        raise InputError("transcript must be text", field="transcript")
    tokens = tokenize(transcript)
    if not tokens:
        raise InputError("transcript has no words", field="transcript")
    return tokens


def _checked_samples(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    if not isinstance(sample_rate, (int, np.integer)) or not 1000 <= sample_rate <= 768_000:
        raise InputError(f"sample rate must be 1000-768000 Hz, not {sample_rate!r}", field="audio")
    arr = np.asarray(samples)
    if arr.ndim not in (1, 2) or arr.shape[0] == 0 or not np.issubdtype(arr.dtype, np.number):
        raise InputError("audio must be a non-empty array of samples", field="audio")
    if arr.shape[0] / sample_rate < 0.05:
        raise InputError("audio is shorter than 50 ms", field="audio")
    if arr.dtype == np.int16 and arr.ndim == 1:
        return arr  # 16-bit PCM as decoded: kept exact, so a slipped byte can be repaired
    if np.issubdtype(arr.dtype, np.integer):  # other PCM integers: scale to [-1, 1)
        return arr.astype(np.float32) / np.float32(-np.iinfo(arr.dtype).min)
    return arr.astype(np.float32, copy=False)


def _check_feasible(tokens: tuple[str, ...], duration_s: float) -> None:
    syllables = sum(syllable_weight(t) for t in tokens)
    if syllables > MAX_SYLLABLES_PER_S * duration_s + SYLLABLE_SLACK:
        raise InputError(
            f"transcript is far longer than the audio allows: about {syllables:.0f} syllables "
            f"in {duration_s:.1f} s of audio",
            field="transcript",
        )


def _uncondensed(span: Span | None, time_map: TimeMap) -> Span | None:
    if span is None:
        return None
    start, end = time_map.to_original(span.start_frame), time_map.to_original(span.end_frame)
    return dataclasses.replace(span, start_frame=start, end_frame=end)


def _confidence(span: Span | None) -> float | None:
    if span is None:
        return None
    z = (span.score_per_frame - CONFIDENCE_MID) / CONFIDENCE_SCALE
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))


def _anchored(confidence: list[float | None]) -> list[float | None]:
    """A word that sounds unlike its dictionary form ("your" said "yer") but sits between two
    confidently aligned neighbours cannot be far off: they pin both its edges."""
    out = list(confidence)
    for i in range(1, len(out) - 1):
        own, before, after = confidence[i], confidence[i - 1], confidence[i + 1]
        if own is not None and before is not None and after is not None:
            out[i] = max(own, NEIGHBOUR_WEIGHT * min(before, after))
    return out


def _estimated(
    pcm: np.ndarray, tokens: tuple[str, ...], speech: tuple[Segment, ...], details: dict
) -> WordTimings:
    """The documented fallback: tokens spread over the speech by syllables, low confidence
    (`estimate.ESTIMATE_CONFIDENCE`, or `NO_SPEECH_CONFIDENCE` when there is no speech)."""
    estimate = estimate_timings(pcm, TARGET_RATE, tokens, segments=speech)
    duration_s = pcm.size / TARGET_RATE
    return WordTimings(
        _tidy(estimate.words, duration_s), "estimated", details | dict(estimate.details)
    )


def _tidy(words: Sequence[WordTiming], duration_s: float) -> tuple[WordTiming, ...]:
    """Times rounded to 0.1 ms, each word at least 1 ms long, in order, within the audio;
    confidences clipped to [0, 1]. Works in whole 0.1 ms units so rounding cannot undo it."""
    unit, min_len = 10_000, 10
    total = max(int(duration_s * unit), min_len * len(words))
    out: list[WordTiming] = []
    prev_end = 0
    for i, word in enumerate(words):
        room_after = min_len * (len(words) - 1 - i)
        start = min(max(round(word.start_s * unit), prev_end), total - room_after - min_len)
        end = min(max(round(word.end_s * unit), start + min_len), total - room_after)
        confidence = round(min(1.0, max(0.0, float(word.confidence))), 3)
        out.append(WordTiming(word.word, start / unit, end / unit, confidence))
        prev_end = end
    return tuple(out)
