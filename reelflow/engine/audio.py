"""Audio in and out: decoding any format, speech activity, energy and loudness.

Arrays are float32 in [-1, 1], shaped ``(samples,)`` for mono and ``(samples, channels)`` otherwise.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from reelflow.engine import ffmpeg
from reelflow.engine.errors import InputError, MediaError

AUDIO_SUFFIXES = (".wav", ".mp3", ".m4a", ".aac", ".flac", ".ogg", ".oga", ".opus", ".webm")


def load_audio(
    path: str | os.PathLike[str],
    *,
    sample_rate: int = 16_000,
    mono: bool = True,
    field: str | None = None,
    max_duration_s: float | None = None,
) -> np.ndarray:
    """Decode any audio file (or the audio of a video) to float32 at `sample_rate`.

    `max_duration_s` decodes only the start (memory grows with the decoded length: a 3-hour
    track is 950 MB at 22 kHz).

    Raises `InputError` naming `field` when the file is missing, empty, has no audio stream or
    does not decode to at least one sample.
    """
    info = ffmpeg.probe(path, field=field)
    if info.audio is None:
        raise InputError(f"{Path(path).name} has no audio stream", field=field)
    channels = 1 if mono else 2
    try:
        raw = ffmpeg.run_to_bytes(
            [
                "-i", os.fspath(path),
                *(["-t", f"{max_duration_s:.3f}"] if max_duration_s is not None else []),
                "-vn", "-map", "0:a:0",
                "-ac", str(channels), "-ar", str(sample_rate),
                "-f", "f32le", "-acodec", "pcm_f32le", "pipe:1",
            ]
        )  # fmt: skip
    except MediaError as exc:
        raise InputError(f"audio does not decode: {exc}", field=field) from exc
    samples = np.frombuffer(raw, dtype="<f4").astype(np.float32)
    if samples.size < channels:
        raise InputError(f"{Path(path).name} contains no audio samples", field=field)
    return samples if mono else samples.reshape(-1, channels)


def write_wav(path: str | os.PathLike[str], samples: np.ndarray, sample_rate: int) -> Path:
    """Write float samples as 16-bit PCM WAV atomically (clipped to [-1, 1])."""
    final = Path(path)
    with ffmpeg.atomic_output(final) as tmp:
        sf.write(tmp, np.clip(samples, -1.0, 1.0), sample_rate, subtype="PCM_16", format="WAV")
    return final


def duration_s(samples: np.ndarray, sample_rate: int) -> float:
    """Length of a sample array in seconds."""
    return samples.shape[0] / float(sample_rate)


@dataclass(frozen=True)
class Segment:
    """A half-open interval of time in seconds."""

    start_s: float
    end_s: float

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


def frame_energy_db(
    samples: np.ndarray, sample_rate: int, *, frame_s: float = 0.025, hop_s: float = 0.010
) -> np.ndarray:
    """RMS level of overlapping frames in dBFS, one value per hop (frame centres at k * hop_s)."""
    mono = samples if samples.ndim == 1 else samples.mean(axis=1)
    frame = max(1, round(frame_s * sample_rate))
    hop = max(1, round(hop_s * sample_rate))
    padded = np.pad(mono.astype(np.float64), (frame // 2, frame // 2))
    n = 1 + max(0, (padded.size - frame) // hop)
    # Running sums make this O(samples) whatever the frame length.
    csum = np.concatenate(([0.0], np.cumsum(padded**2)))
    starts = np.arange(n) * hop
    mean_sq = (csum[starts + frame] - csum[starts]) / frame
    return 10.0 * np.log10(np.maximum(mean_sq, 1e-12))


def speech_activity(
    samples: np.ndarray,
    sample_rate: int,
    *,
    hop_s: float = 0.010,
    min_speech_s: float = 0.06,
    bridge_gap_s: float = 0.18,
    threshold_db: float | None = None,
) -> tuple[Segment, ...]:
    """Where someone is speaking: energy above an adaptive threshold, with hysteresis.

    The threshold sits between the noise floor (10th percentile of frame levels) and the speech
    level (95th percentile) so it adapts to quiet and loud recordings alike. Bursts shorter than
    `min_speech_s` are dropped and gaps shorter than `bridge_gap_s` are bridged, so the segments
    follow phrases rather than individual syllables.
    """
    if samples.size == 0:
        return ()
    levels = frame_energy_db(samples, sample_rate, hop_s=hop_s)
    floor = float(np.percentile(levels, 10))
    peak = float(np.percentile(levels, 95))
    if threshold_db is None:
        if peak - floor < 6.0 or peak < -60.0:
            return ()  # no dynamics to speak of: silence or steady noise
        threshold_db = max(floor + 0.3 * (peak - floor), peak - 35.0)
    hysteresis_db = 3.0
    active = np.zeros(levels.size, dtype=bool)
    on = False
    for i, level in enumerate(levels):
        on = level > (threshold_db - hysteresis_db if on else threshold_db)
        active[i] = on
    segments = _runs(active, hop_s)
    segments = _bridge(segments, bridge_gap_s)
    total = duration_s(samples, sample_rate)
    return tuple(
        Segment(max(0.0, s.start_s), min(total, s.end_s))
        for s in segments
        if s.duration_s >= min_speech_s
    )


def _runs(active: np.ndarray, hop_s: float) -> list[Segment]:
    edges = np.flatnonzero(np.diff(np.concatenate(([0], active.astype(np.int8), [0]))))
    return [
        Segment(float(a * hop_s), float(b * hop_s))
        for a, b in zip(edges[::2], edges[1::2], strict=True)
    ]


def _bridge(segments: list[Segment], max_gap_s: float) -> list[Segment]:
    merged: list[Segment] = []
    for seg in segments:
        if merged and seg.start_s - merged[-1].end_s < max_gap_s:
            merged[-1] = Segment(merged[-1].start_s, seg.end_s)
        else:
            merged.append(seg)
    return merged


@dataclass(frozen=True)
class Loudness:
    """EBU R128 measurement of a programme."""

    integrated_lufs: float
    true_peak_dbtp: float
    lra_lu: float
    threshold_lufs: float


_SUMMARY = {
    "integrated_lufs": re.compile(r"I:\s+(-?[\d.]+|-inf)\s+LUFS"),
    "threshold_lufs": re.compile(r"Threshold:\s+(-?[\d.]+|-inf)\s+LUFS"),
    "lra_lu": re.compile(r"LRA:\s+(-?[\d.]+)\s+LU"),
    "true_peak_dbtp": re.compile(r"Peak:\s+(-?[\d.]+|-inf)\s+dBFS"),
}


def measure_loudness(path: str | os.PathLike[str], *, true_peak: bool = True) -> Loudness:
    """Integrated loudness, loudness range and true peak of a file's audio (ffmpeg's ebur128).

    Without `true_peak` the peak is not measured (NaN): the 4x oversampling it needs is half
    the pass's cost, and setting a gain needs only the loudness.
    """
    log = ffmpeg.run(
        ["-nostats", "-i", os.fspath(path), "-map", "0:a:0",
         "-af", ebur128_filter(true_peak=true_peak), "-f", "null", "-"]
    )  # fmt: skip
    return parse_ebur128(log)


def ebur128_filter(*, true_peak: bool = True) -> str:
    """ffmpeg's ``ebur128`` filter that prints only its summary (with the true peak or not)."""
    return f"ebur128=peak={'true' if true_peak else 'none'}:framelog=quiet"


def parse_ebur128(log: str) -> Loudness:
    """Read the summary ffmpeg's ``ebur128`` filter prints at the end of a run."""
    summary = log[log.rfind("Summary:") :]
    values = {}
    for key, pattern in _SUMMARY.items():
        match = pattern.search(summary)
        if not match and key == "true_peak_dbtp":
            values[key] = float("nan")  # measured without the peak
            continue
        if not match:
            raise MediaError(f"could not read {key} from ffmpeg's ebur128 summary")
        values[key] = float("-inf") if match.group(1) == "-inf" else float(match.group(1))
    return Loudness(**values)
