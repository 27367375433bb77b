"""The music's steps: fit a track to the reel, find its beats, plan and write the mix."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from reelflow.engine import audio
from reelflow.engine.music import analysis as music_analysis
from reelflow.engine.music import ducking, tracks
from reelflow.engine.render.mix import Levels, MixPlan, measure_levels, plan_mix
from reelflow.engine.speech.analysis import VoiceAnalysis
from reelflow.models import MusicSpec
from reelflow.presets import MUSIC_PRESETS, PLATFORM_PRESETS
from reelflow.tasks.step import step
from reelflow.tasks.voice import VOICE_RATE, PreparedVoice

ENVELOPE_RATE_HZ = 1_000
MUSIC_LEAD_BARS = 2  # extra music beyond the voice, so the track can start on a strong beat
CUSTOM_LEAD_S = 8.0  # the same for a custom track: enough for a strong beat of any tempo
ANALYSIS_RATE = 22_050


@dataclass(frozen=True)
class PreparedMusic:
    """The backing track fitted to the reel (None when the reel has no music)."""

    path: Path | None
    preset: str | None
    source: str  # "preset", "file" or "none"


@step("prepare-music")
def prepare_music(
    *,
    spec: MusicSpec,
    analysis: VoiceAnalysis | None,
    duration_s: float,
    library_dir: Path,
    out_dir: Path,
) -> PreparedMusic:
    """Fit the chosen preset (synthesised once into the library) or the user's track to the
    reel's length. `analysis` is needed only for ``preset: auto``."""
    if spec.volume <= 0 or (spec.preset == "none" and spec.file is None):
        return PreparedMusic(None, None, "none")
    if spec.file is not None:
        samples = audio.load_audio(
            spec.file, sample_rate=VOICE_RATE, mono=False, field="music.file"
        )
        # The render fades the music at the reel's real end; a fade here would be trimmed off.
        fitted = tracks.fit_track(samples, VOICE_RATE, duration_s + CUSTOM_LEAD_S, fade_out_s=0.0)
        target = out_dir / "music.wav"
        audio.write_wav(target, fitted, VOICE_RATE)
        return PreparedMusic(target, None, "file")
    name = spec.preset
    if name == "auto":
        if analysis is None:
            raise ValueError("music.preset auto needs the voice analysis")
        name = tracks.choose_preset(
            words_per_minute=analysis.words_per_minute, voice_energy=analysis.energy
        )
    preset = MUSIC_PRESETS[name]
    bar_s = 4 * 60.0 / preset.bpm
    path = tracks.preset_track(
        preset, duration_s + MUSIC_LEAD_BARS * bar_s, cache_dir=library_dir, sample_rate=VOICE_RATE
    )
    return PreparedMusic(path, name, "preset")


@step("analyze-music")
def analyze_music(*, music: PreparedMusic) -> music_analysis.MusicAnalysis | None:
    """Beats, strong beats and energy of the fitted track, measured from its audio."""
    if music.path is None:
        return None
    samples = audio.load_audio(music.path, sample_rate=ANALYSIS_RATE)
    return music_analysis.analyze_music(samples, ANALYSIS_RATE)


@step("measure-levels")
def measure_music_levels(*, voice: PreparedVoice, music: PreparedMusic) -> Levels | None:
    """Loudness of the voice and the fitted track (None without music), for the music's gain."""
    if music.path is None:
        return None
    return measure_levels(voice.path, music.path)


@step("plan-mix")
def plan_audio_mix(
    *,
    voice: PreparedVoice,
    analysis: VoiceAnalysis,
    music: PreparedMusic,
    beats: music_analysis.MusicAnalysis | None,
    levels: Levels | None,
    spec: MusicSpec,
    platform: str,
    out_dir: Path,
) -> MixPlan:
    """Start the music on a strong beat where the speech starts, duck it under speech, measure
    and write the finished mix.

    The start is the speech-activity onset rather than the aligned first word: the two agree
    to within a frame or two, and not waiting for the alignment lets the mix's ffmpeg passes
    run beside it."""
    target = PLATFORM_PRESETS[platform]
    start_s, envelope_path = 0.0, None
    if music.path is not None and beats is not None:
        start_s = music_analysis.music_start_s(beats, analysis.first_speech_s)
        if spec.auto_duck:
            envelope = ducking.ducking_envelope(
                analysis.speech, voice.duration_s, duck_db=spec.duck_db, rate_hz=ENVELOPE_RATE_HZ
            )
            envelope_path = out_dir / "duck-envelope.wav"
            ducking.write_envelope_wav(envelope, ENVELOPE_RATE_HZ, envelope_path)
    return plan_mix(
        voice.path,
        voice.duration_s,
        music_path=music.path,
        music_start_s=start_s,
        volume=spec.volume,
        envelope_path=envelope_path,
        target_lufs=target.loudness_lufs,
        true_peak_dbtp=target.true_peak_dbtp,
        out_path=out_dir / "mix.wav",
        levels=levels,
    )
