"""The reel's DAG nodes: each turns spec fields and earlier results into one engine call.

These functions are the unit of caching and retrying: the sequential pipeline calls them
directly and the Prefect tasks wrap them one to one. Each takes only the spec fields it reads
(so a cache key can be built from exactly those) and returns small frozen dataclasses whose
media live as files in `out_dir`.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from reelflow.engine import audio
from reelflow.engine.alignment import align as alignment
from reelflow.engine.captions import ass as captions
from reelflow.engine.errors import InputError
from reelflow.engine.ffmpeg import atomic_output, probe
from reelflow.engine.music import tracks as music
from reelflow.engine.render import graph as render
from reelflow.engine.render.background import Background, check_background
from reelflow.engine.render.effects import CameraMotion, plan_camera
from reelflow.engine.render.mix import MixPlan, plan_mix
from reelflow.engine.speech import analysis as voice
from reelflow.engine.speech import tts
from reelflow.engine.text import tokenize
from reelflow.engine.timing import WordTiming, WordTimings
from reelflow.models import (
    BackgroundSpec,
    CaptionSpec,
    EffectsSpec,
    MusicSpec,
    ReelSpec,
    WordTimingsSpec,
)
from reelflow.presets import MUSIC_PRESETS, PLATFORM_PRESETS, QUALITY_PRESETS

# The seed's milestones: where each stage leaves the progress bar (pipeline and flow alike).
MILESTONES: dict[str, float] = {
    "voice": 10,
    "words": 20,
    "voice_analysis": 30,
    "captions": 40,
    "background": 50,
    "music": 60,
    "effects": 70,
    "render": 90,
    "stored": 100,
}

VOICE_RATE = 48_000
ENVELOPE_RATE_HZ = 1_000
MUSIC_LEAD_BARS = 2  # extra music beyond the voice, so the track can start on a strong beat


@dataclass(frozen=True)
class PreparedVoice:
    """The voice as a 48 kHz mono WAV, plus the synthesiser's word timings for scripts."""

    path: Path
    duration_s: float
    synthesized: WordTimings | None = None
    source: Path | None = None  # the user's upload, which the aligner reads as it is


@dataclass(frozen=True)
class PreparedMusic:
    """The backing track fitted to the reel (None when the reel has no music)."""

    path: Path | None
    preset: str | None
    source: str  # "preset", "file" or "none"


def check_inputs(spec: ReelSpec) -> None:
    """Probe every input file before any work: each must exist and hold the right media."""
    if spec.voiceover is not None:
        info = probe(spec.voiceover, field="voiceover")
        if info.audio is None:
            raise InputError(f"{spec.voiceover.name} has no audio stream", field="voiceover")
    if spec.music.file is not None:
        info = probe(spec.music.file, field="music.file")
        if info.audio is None:
            raise InputError(f"{spec.music.file.name} has no audio stream", field="music.file")
    check_background(
        Background(kind=spec.background.type, colors=tuple(spec.background.colors),
                   files=tuple(spec.background.files))
    )  # fmt: skip


def prepare_voice(
    *,
    script: str | None,
    voiceover: Path | None,
    voice_name: str,
    rate_wpm: int,
    platform: str,
    out_dir: Path,
) -> PreparedVoice:
    """Synthesise the script or decode the uploaded voice; enforce the platform's duration."""
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / "voice.wav"
    if script:
        synthesis = tts.synthesize_to_wav(
            script, target, sample_rate=VOICE_RATE, voice=voice_name, rate_wpm=rate_wpm
        )
        prepared = PreparedVoice(
            target, len(synthesis.samples) / synthesis.sample_rate, synthesis.words
        )
    elif voiceover is not None:
        samples = audio.load_audio(voiceover, sample_rate=VOICE_RATE, field="voiceover")
        audio.write_wav(target, samples, VOICE_RATE)
        prepared = PreparedVoice(
            target, audio.duration_s(samples, VOICE_RATE), source=Path(voiceover)
        )
    else:
        raise InputError("give either a voiceover file or a script", field="voiceover")
    limit = PLATFORM_PRESETS[platform].max_duration_s
    if prepared.duration_s > limit:
        raise InputError(
            f"{prepared.duration_s:.1f} s is longer than {platform}'s {limit:.0f} s limit",
            field="voiceover" if voiceover else "script",
        )
    if prepared.duration_s < 0.5:
        raise InputError("the voice is shorter than half a second", field="voiceover")
    return prepared


def time_words(
    prepared: PreparedVoice, *, transcript: str, known: WordTimingsSpec | None = None
) -> WordTimings:
    """Word timings: known ones (hand-corrected), the synthesiser's own for scripts, or forced
    alignment for uploaded voices.

    The aligner reads the original upload (it can repair byte-slipped PCM that a resample
    would smear) and falls back to speech-activity estimates only where alignment fails.
    """
    if not tokenize(transcript):
        raise InputError("has no words", field="transcript")
    if known is not None:
        if known.words[-1].end > prepared.duration_s + 0.05:
            raise InputError(
                f"the last word ends at {known.words[-1].end:.2f} s, after the voice "
                f"({prepared.duration_s:.2f} s)",
                field="word_timings",
            )
        words = tuple(
            WordTiming(w.word, w.start, min(w.end, prepared.duration_s), w.confidence)
            for w in known.words
        )
        return WordTimings(words, known.method, {"source": "given"})
    if prepared.synthesized is not None:
        return prepared.synthesized
    source = prepared.source if prepared.source and prepared.source.is_file() else prepared.path
    return alignment.align_file(source, transcript)


def analyze_voice(prepared: PreparedVoice, *, transcript: str) -> voice.VoiceAnalysis:
    """Speech activity, speaking rate and energy of the voice."""
    samples = audio.load_audio(prepared.path, sample_rate=voice.ANALYSIS_RATE)
    return voice.analyze_voice(samples, voice.ANALYSIS_RATE, word_count=len(tokenize(transcript)))


def prepare_background(spec: BackgroundSpec) -> Background:
    """Check background files exist and hold pictures; return the engine's description."""
    bg = Background(kind=spec.type, colors=tuple(spec.colors), files=tuple(spec.files))
    check_background(bg)
    return bg


def prepare_music(
    spec: MusicSpec,
    *,
    analysis: voice.VoiceAnalysis | None,
    duration_s: float,
    cache_dir: Path,
    out_dir: Path,
) -> PreparedMusic:
    """Fit the chosen preset (synthesised, cached) or the user's track to the reel's length."""
    if spec.volume <= 0 or (spec.preset == "none" and spec.file is None):
        return PreparedMusic(None, None, "none")
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / "music.wav"
    if spec.file is not None:
        samples = audio.load_audio(
            spec.file, sample_rate=VOICE_RATE, mono=False, field="music.file"
        )
        lead = 8.0  # seconds: enough for a strong beat of any tempo
        # The render fades the music at the reel's real end; a fade here would be trimmed off.
        fitted = music.fit_track(samples, VOICE_RATE, duration_s + lead, fade_out_s=0.0)
        audio.write_wav(target, fitted, VOICE_RATE)
        return PreparedMusic(target, None, "file")
    name = spec.preset
    if name == "auto":
        if analysis is None:
            raise ValueError("music.preset auto needs the voice analysis")
        name = music.choose_preset(
            words_per_minute=analysis.words_per_minute, voice_energy=analysis.energy
        )
    preset = MUSIC_PRESETS[name]
    bar_s = 4 * 60.0 / preset.bpm
    path = music.preset_track(
        preset, duration_s + MUSIC_LEAD_BARS * bar_s, cache_dir=cache_dir, sample_rate=VOICE_RATE
    )
    return PreparedMusic(path, name, "preset")


def analyze_music(prepared: PreparedMusic) -> music.MusicAnalysis | None:
    """Beats, strong beats and energy of the fitted track, measured from its audio."""
    if prepared.path is None:
        return None
    samples = audio.load_audio(prepared.path, sample_rate=22_050)
    return music.analyze_music(samples, 22_050)


def plan_audio_mix(
    prepared: PreparedVoice,
    first_word_s: float,
    analysis: voice.VoiceAnalysis,
    prepared_music: PreparedMusic,
    music_analysis: music.MusicAnalysis | None,
    spec: MusicSpec,
    *,
    platform: str,
    out_dir: Path,
) -> MixPlan:
    """Start the music on a strong beat at the first word, duck it under speech, measure and
    write the finished mix."""
    target = PLATFORM_PRESETS[platform]
    start_s, envelope_path = 0.0, None
    if prepared_music.path is not None and music_analysis is not None:
        start_s = music.music_start_s(music_analysis, first_word_s)
        if spec.auto_duck:
            envelope = music.ducking_envelope(
                analysis.speech,
                prepared.duration_s,
                duck_db=spec.duck_db,
                rate_hz=ENVELOPE_RATE_HZ,
            )
            envelope_path = out_dir / "duck-envelope.wav"
            music.write_envelope_wav(envelope, ENVELOPE_RATE_HZ, envelope_path)
    return plan_mix(
        prepared.path,
        prepared.duration_s,
        music_path=prepared_music.path,
        music_start_s=start_s,
        volume=spec.volume,
        envelope_path=envelope_path,
        target_lufs=target.loudness_lufs,
        true_peak_dbtp=target.true_peak_dbtp,
        out_path=out_dir / "mix.wav",
    )


def build_captions(
    words: WordTimings,
    spec: CaptionSpec,
    *,
    quality: str,
    platform: str,
    duration_s: float,
    out_dir: Path,
) -> Path:
    """Write the animated ASS captions for the output size and the platform's safe zone."""
    q = QUALITY_PRESETS[quality]
    return captions.write_captions(
        words,
        spec.to_style(),
        out_dir / "captions.ass",
        width=q.width,
        height=q.height,
        safe_zone=PLATFORM_PRESETS[platform].safe_zone,
        duration_s=duration_s,
    )


def plan_effects(
    spec: EffectsSpec,
    music_analysis: music.MusicAnalysis | None,
    mix: MixPlan,
) -> CameraMotion:
    """Camera motion from the preset, on the beats and peaks as they fall in the reel."""
    beats: list[float] = []
    peaks: list[float] = []
    if music_analysis is not None:
        shift = mix.music_start_s
        beats = [b - shift for b in music_analysis.beat_times_s]
        peaks = [p - shift for p in music_analysis.energy_peak_times_s]
    return plan_camera(spec.to_preset(), duration_s=mix.duration_s, beat_times_s=beats,
                       peak_times_s=peaks)  # fmt: skip


def render_reel(
    mix: MixPlan,
    background: Background,
    camera: CameraMotion,
    captions_path: Path | None,
    *,
    quality: str,
    platform: str,
    encoder: str,
    allow_gpu: bool,
    max_file_size_mb: float | None,
    out_path: Path,
    threads: int = 0,
    timeout_s: float | None = None,
    on_progress=None,
) -> render.RenderResult:
    """The single ffmpeg pass that produces the MP4 and its poster."""
    job = render.RenderJob(
        mix=mix,
        background=background,
        camera=camera,
        quality=QUALITY_PRESETS[quality],
        platform=PLATFORM_PRESETS[platform],
        captions_path=captions_path,
        encoder=encoder,
        allow_gpu=allow_gpu,
        max_file_size_mb=max_file_size_mb,
        threads=threads,
        timeout_s=timeout_s,
    )
    return render.render(job, out_path, on_progress=on_progress)


def publish(result: render.RenderResult, target: Path) -> dict[str, str]:
    """Put the video and its poster at `target` (and beside it), each atomically."""
    target.parent.mkdir(parents=True, exist_ok=True)
    poster = target.with_suffix(".jpg")
    for source, destination in ((result.video_path, target), (result.poster_path, poster)):
        with atomic_output(destination) as tmp:
            try:
                os.link(source, tmp)  # same disk: instant, and the cache copy stays intact
            except OSError:
                shutil.copy2(source, tmp)
    return {"video": str(target), "poster": str(poster)}
