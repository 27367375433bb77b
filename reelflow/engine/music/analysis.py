"""Beats, bar downbeats and energy of a music track, measured from the audio.

Nothing here trusts a preset's nominal tempo: presets and uploaded tracks go through the same
analysis. The beat grid comes from the dynamic-programming tracker librosa uses (in numpy, see
`beats`), its tempo from a least-squares fit over the tracked beats (finer than the tracker's
tempogram bins), and its latency is removed by aligning the grid with a fine-grained onset
envelope.

The engine does not import librosa or scipy.signal: every Prefect flow run is a new process, and
importing `librosa.onset` alone costs ~3.2 s of CPU there (scipy.signal 1.3 s, numba-compiled
pitch code 0.7 s, numba itself 0.3 s), several times the analysis of a 30 s track. `spectral`
holds the few librosa pieces used, in numpy; librosa stays a test dependency, the reference
tests/engine/test_music_spectral.py checks them against.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import soxr

from reelflow.engine.errors import InputError
from reelflow.engine.music import spectral
from reelflow.engine.music.beats import track_beats

ANALYSIS_SR = 22_050
HOP = 256  # 11.6 ms beat-tracking resolution
FINE_HOP = 32  # 1.5 ms, for the latency correction
DOWNBEAT_HOP = 512  # 23 ms, for bass onsets and chord changes
ENERGY_HOP = 512  # 23 ms energy envelope
BEATS_PER_BAR = 4  # the downbeat finder assumes 4/4, like nearly all music for short videos
_LEAD_IN_S = 0.5  # silence prepended so an onset at 0 s is seen as one
_LATENCY_PROBES = 64  # beats around which the latency is measured
_TEMPO_EXCERPT_S = 40.0  # audio the first tempo guess looks at


@dataclass(frozen=True)
class MusicAnalysis:
    """Where the beats and the loud moments of a track are, in seconds from its start."""

    tempo_bpm: float
    beat_times_s: tuple[float, ...]
    strong_beat_times_s: tuple[float, ...]  # bar downbeats
    energy_hop_s: float
    energy: tuple[float, ...]  # RMS, frame k centred at k * energy_hop_s, 1.0 at the loudest
    energy_peak_times_s: tuple[float, ...]  # prominent surges, at most about one per bar

    @property
    def beat_period_s(self) -> float:
        return 60.0 / self.tempo_bpm if self.tempo_bpm > 0 else 0.0


def analyze_music(samples: np.ndarray, sample_rate: int) -> MusicAnalysis:
    """Tempo, beats, bar downbeats and energy of `samples` (mono or ``(n, channels)``).

    Any sample rate; the analysis runs at 22.05 kHz. Times are seconds from the first sample and
    mark the attacks you hear (within a few milliseconds). A track without a pulse yields no
    beats and a tempo of 0.
    """
    y = _prepare(samples, sample_rate)
    lead = round(_LEAD_IN_S * ANALYSIS_SR)
    padded = np.concatenate([np.zeros(lead, dtype=y.dtype), y])
    onset_env = spectral.onset_strength(padded, sr=ANALYSIS_SR, hop_length=HOP, n_fft=1024)
    beats = _track_beats(onset_env)
    if beats.size:
        beats = beats + _latency_s(padded, beats) - _LEAD_IN_S
        # An attack at 0 s may land a hair before it once the latency is removed.
        beats = np.maximum(beats[(beats > -0.03) & (beats < y.size / ANALYSIS_SR)], 0.0)
    tempo = _fit_tempo(beats)
    strong = _downbeats(padded, beats + _LEAD_IN_S) - _LEAD_IN_S if beats.size else beats
    energy = _energy(y)
    hop_s = ENERGY_HOP / ANALYSIS_SR
    peaks = _energy_peaks(energy, hop_s, beat_period_s=60.0 / tempo if tempo else 0.5)
    return MusicAnalysis(
        tempo_bpm=round(tempo, 3),
        beat_times_s=_rounded(beats),
        strong_beat_times_s=_rounded(strong),
        energy_hop_s=hop_s,
        energy=tuple(float(e) for e in np.round(energy, 4)),
        energy_peak_times_s=_rounded(peaks),
    )


def _prepare(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    samples = np.asarray(samples)
    if samples.ndim not in (1, 2) or 0 in samples.shape:
        raise InputError("music has no samples", field="music")
    if int(sample_rate) != sample_rate or sample_rate < 4_000:
        raise InputError(f"sample rate must be at least 4000 Hz, got {sample_rate}", field="music")
    if not np.all(np.isfinite(samples)):
        raise InputError("music samples contain NaN or infinity", field="music")
    mono = samples if samples.ndim == 1 else samples.mean(axis=1)
    mono = mono.astype(np.float32, copy=False)
    if sample_rate != ANALYSIS_SR:
        # What librosa.resample does by default: soxr's high quality, then exactly ceil(n * ratio).
        size = math.ceil(mono.size * ANALYSIS_SR / sample_rate)
        mono = soxr.resample(mono, sample_rate, ANALYSIS_SR, quality="soxr_hq")[:size]
        mono = np.pad(mono, (0, size - mono.size)).astype(np.float32, copy=False)
    return mono


def _track_beats(onset_env: np.ndarray) -> np.ndarray:
    """Beat times (s) from the dynamic-programming tracker, run again at the tempo fitted to
    its first pass.

    The first guess of the tempo comes from at most `_TEMPO_EXCERPT_S` in the middle of the
    track: the tempogram of a whole long track would cost hundreds of megabytes.
    """
    if not np.any(onset_env > 0):
        return np.zeros(0)
    excerpt = round(_TEMPO_EXCERPT_S * ANALYSIS_SR / HOP)
    middle = max(0, (onset_env.size - excerpt) // 2)
    tempo = spectral.tempo(onset_env[middle : middle + excerpt], sr=ANALYSIS_SR, hop_length=HOP)
    frame_s = HOP / ANALYSIS_SR
    for _ in range(2):
        frames = track_beats(onset_env, period_frames=60.0 / tempo / frame_s)
        beats = frames * frame_s
        tempo = _fit_tempo(beats)
        if tempo <= 0:
            return beats
    return _extend_edges(np.asarray(beats, dtype=np.float64), onset_env, 60.0 / tempo)


def _extend_edges(beats: np.ndarray, onset_env: np.ndarray, period_s: float) -> np.ndarray:
    """Put back grid positions the tracker trimmed at either end where there is a clear onset."""
    frame_s = HOP / ANALYSIS_SR
    strength = np.array([_onset_near(onset_env, t, frame_s) for t in beats])
    needed = 0.5 * float(np.median(strength))
    head, tail = list(beats[:1]), list(beats[-1:])
    while head[0] - period_s > 0 and _onset_near(onset_env, head[0] - period_s, frame_s) > needed:
        head.insert(0, head[0] - period_s)
    end_s = onset_env.size * frame_s
    while (
        tail[-1] + period_s < end_s
        and _onset_near(onset_env, tail[-1] + period_s, frame_s) > needed
    ):
        tail.append(tail[-1] + period_s)
    return np.concatenate([head[:-1], beats, tail[1:]])


def _onset_near(onset_env: np.ndarray, t: float, frame_s: float) -> float:
    f = round(t / frame_s)
    return float(onset_env[max(0, f - 2) : f + 3].max(initial=0.0))


def _fit_tempo(beats: np.ndarray) -> float:
    """Tempo from a least-squares line through the beats.

    Beats are numbered interval by interval (a skipped beat counts two), never by dividing the
    whole span by one period, so a slightly wrong first guess cannot drift over a long track.
    """
    if beats.size < 3:
        return 0.0
    intervals = np.diff(beats)
    steps = np.maximum(1, np.round(intervals / np.median(intervals)))
    index = np.concatenate([[0.0], np.cumsum(steps)])
    slope = np.polyfit(index, beats, 1)[0]
    return 60.0 / slope if slope > 0 else 0.0


def _latency_s(y: np.ndarray, beats: np.ndarray) -> float:
    """How far the coarse beats sit after the onsets a 12 ms window sees (median, seconds).

    The tracker's 46 ms window places beats 10-35 ms after the attacks we hear. Measured around
    at most `_LATENCY_PROBES` beats spread over the track, on short excerpts (one batched onset
    envelope), so memory stays flat.
    """
    frame_s = FINE_HOP / ANALYSIS_SR
    pad, before, after = round(0.1 * ANALYSIS_SR), round(0.06 / frame_s), round(0.02 / frame_s)
    probes = beats[np.linspace(0, beats.size - 1, min(beats.size, _LATENCY_PROBES)).astype(int)]
    starts = np.array([round(t * ANALYSIS_SR) - pad for t in probes])
    starts = starts[(starts >= 0) & (starts + 2 * pad <= y.size)]
    if starts.size == 0:
        return 0.0
    # Each excerpt starts 100 ms early so its own edge (a step from zero) is never searched.
    excerpts = y[starts[:, None] + np.arange(2 * pad)]
    fine = spectral.onset_strength(
        excerpts, sr=ANALYSIS_SR, hop_length=FINE_HOP, n_fft=256, n_mels=40
    )
    centre = round(pad / FINE_HOP)
    best = np.argmax(fine[:, centre - before : centre + after + 1], axis=1) - before
    return float(np.median(best * frame_s))


def _downbeats(y: np.ndarray, beats: np.ndarray) -> np.ndarray:
    """Every 4th beat, starting from the phase with the most bass onset and harmonic change."""
    if beats.size < BEATS_PER_BAR:
        return beats[:1]
    frames = (beats * ANALYSIS_SR).astype(int) // DOWNBEAT_HOP  # librosa.time_to_frames
    # The lowest 12 mel bands, up to about 300 Hz (kick and bass), and the chroma at tuning 0,
    # from one STFT pass that keeps only those 24 rows.
    mel = spectral.mel_filters(sr=ANALYSIS_SR, n_fft=2048)[:12]
    chroma_fb = spectral.chroma_filters(sr=ANALYSIS_SR, n_fft=2048)
    low_mel, chroma = spectral.filtered_power(
        y, [mel, chroma_fb], n_fft=2048, hop_length=DOWNBEAT_HOP
    )
    low = spectral.onset_strength_db(
        spectral.power_to_db(low_mel), n_fft=2048, hop_length=DOWNBEAT_HOP
    )
    bass_onset = np.array([low[max(0, f - 1) : f + 2].max(initial=0.0) for f in frames])
    peak = chroma.max(axis=0, keepdims=True)  # librosa's chroma is max-normalised per frame
    chroma = chroma / np.where(peak < np.finfo(chroma.dtype).tiny, 1.0, peak)
    synced = spectral.sync(chroma, frames, aggregate=np.median)[:, 1:]  # beat i..i+1
    unit = synced / (np.linalg.norm(synced, axis=0, keepdims=True) + 1e-9)
    change = np.concatenate([[0.0], 1.0 - np.sum(unit[:, 1:] * unit[:, :-1], axis=0)])
    score = _zscore(bass_onset) + _zscore(change[: beats.size])
    phases = [float(np.mean(score[p::BEATS_PER_BAR])) for p in range(BEATS_PER_BAR)]
    return beats[int(np.argmax(phases)) :: BEATS_PER_BAR]


def _zscore(x: np.ndarray) -> np.ndarray:
    std = float(np.std(x))
    return (x - np.mean(x)) / std if std > 0 else np.zeros_like(x)


def _energy(y: np.ndarray) -> np.ndarray:
    rms = spectral.rms(y, frame_length=2 * ENERGY_HOP, hop_length=ENERGY_HOP)
    peak = float(rms.max(initial=0.0))
    return rms / peak if peak > 0 else rms


def _energy_peaks(energy: np.ndarray, hop_s: float, *, beat_period_s: float) -> np.ndarray:
    """Surges of energy well above the surrounding two seconds, at least two beats apart."""
    if energy.size < 3:
        return np.zeros(0)
    window = max(3, round(2.0 / hop_s) | 1)
    baseline = (
        spectral.median_filter(energy, window) if energy.size >= window else np.median(energy)
    )
    excess = energy - baseline
    distance = max(1, round(max(2 * beat_period_s, 1.0) / hop_s))
    height = max(0.08, float(np.percentile(excess, 97)) * 0.6)
    found = spectral.find_peaks(excess, height=height, distance=distance, prominence=0.08)
    return found * hop_s


def _rounded(times: np.ndarray) -> tuple[float, ...]:
    return tuple(round(float(t), 4) for t in times)


def music_start_s(analysis: MusicAnalysis, first_word_s: float) -> float:
    """Offset into the track at which to start playback so a downbeat lands on the first word.

    Picks the first strong beat at or after `first_word_s` (so the offset is never negative); when
    the analysed track has none that late, extends the bar grid from its last downbeat (the track
    is then looped or longer than analysed). A track without beats starts at 0.
    """
    if not math.isfinite(first_word_s) or first_word_s < 0:
        raise InputError(f"first word time must be >= 0, got {first_word_s}", field="first_word_s")
    strong = np.asarray(analysis.strong_beat_times_s)
    if strong.size == 0:
        return 0.0
    later = strong[strong >= first_word_s - 1e-9]
    if later.size:
        return max(0.0, float(later[0]) - first_word_s)
    bar_s = BEATS_PER_BAR * analysis.beat_period_s
    if bar_s <= 0:
        return 0.0
    bars = math.ceil((first_word_s - strong[-1]) / bar_s - 1e-9)
    return max(0.0, float(strong[-1] + bars * bar_s) - first_word_s)
