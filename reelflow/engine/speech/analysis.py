"""What the voice track tells the rest of the reel: where speech is, how fast and how lively."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reelflow.engine.audio import Segment, frame_energy_db, speech_activity
from reelflow.engine.errors import InputError

ANALYSIS_RATE = 16_000


@dataclass(frozen=True)
class VoiceAnalysis:
    """Speech activity and delivery of a voice track."""

    duration_s: float
    speech: tuple[Segment, ...]
    words_per_minute: float
    energy: float  # 0 (flat, calm) .. 1 (punchy, animated)

    @property
    def speech_s(self) -> float:
        return sum(s.duration_s for s in self.speech)

    @property
    def first_speech_s(self) -> float:
        return self.speech[0].start_s if self.speech else 0.0


def analyze_voice(samples: np.ndarray, sample_rate: int, *, word_count: int) -> VoiceAnalysis:
    """Speech segments, speaking rate over the speech time, and an energy score.

    Energy combines level variation during speech (an animated delivery swings more) with the
    share of time spent speaking; both are scaled into 0..1 from ranges seen on read speech.
    """
    if samples.size == 0:
        raise InputError("voice track is empty", field="voiceover")
    duration = samples.shape[0] / float(sample_rate)
    speech = speech_activity(samples, sample_rate)
    speech_s = sum(s.duration_s for s in speech)
    wpm = word_count / speech_s * 60.0 if speech_s > 0 else 0.0
    levels = frame_energy_db(samples, sample_rate)
    hop_s = 0.010
    in_speech = np.zeros(levels.size, dtype=bool)
    for seg in speech:
        in_speech[int(seg.start_s / hop_s) : int(seg.end_s / hop_s) + 1] = True
    swing = float(np.std(levels[in_speech])) if in_speech.any() else 0.0
    density = speech_s / duration if duration > 0 else 0.0
    energy = float(np.clip(0.6 * (swing - 4.0) / 8.0 + 0.4 * density, 0.0, 1.0))
    return VoiceAnalysis(
        duration_s=duration, speech=tuple(speech), words_per_minute=wpm, energy=energy
    )
