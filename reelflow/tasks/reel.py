"""Thin Prefect tasks: caching, retries and progress around one step each.

No Prefect timeouts: sync tasks run in worker threads, where Prefect cannot interrupt them.
Long steps enforce their own limits where the work happens (the render's ffmpeg timeout scales
with the reel's length and quality).

Every task takes the spec fields its step reads plus `settings` (where to work, excluded from the
cache key), writes its files into its own content-addressed folder and marks it complete.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.context import TaskRunContext

from reelflow import steps
from reelflow.engine.music.tracks import MusicAnalysis
from reelflow.engine.render.background import Background
from reelflow.engine.render.effects import CameraMotion
from reelflow.engine.render.graph import RenderResult
from reelflow.engine.render.mix import MixPlan
from reelflow.engine.speech.analysis import VoiceAnalysis
from reelflow.engine.timing import WordTimings
from reelflow.flows.runtime import RunContext
from reelflow.models import (
    BackgroundSpec,
    CaptionSpec,
    EffectsSpec,
    MusicSpec,
    ReelSpec,
    WordTimingsSpec,
)
from reelflow.settings import Settings
from reelflow.tasks.caching import mark_complete, media_cache_policy, step_dir
from reelflow.tasks.faults import maybe_fail
from reelflow.tasks.retries import RETRIES, RETRY_DELAYS, RETRY_JITTER, is_transient

CACHED: dict[str, Any] = {
    "cache_policy": media_cache_policy(),
    "persist_result": True,
    "retries": RETRIES,
    "retry_delay_seconds": RETRY_DELAYS,
    "retry_jitter_factor": RETRY_JITTER,
    "retry_condition_fn": is_transient,
}


def _folder(settings: Settings) -> Path:
    ctx = TaskRunContext.get()
    folder = step_dir(settings.cache_dir, ctx.task.name, ctx.parameters)
    folder.mkdir(parents=True, exist_ok=True)
    maybe_fail(settings)
    return folder


@task(name="check-inputs", cache_policy=NO_CACHE)
def check_inputs(spec: ReelSpec) -> None:
    """Probe every input file before any work (bad input fails here, never retried)."""
    steps.check_inputs(spec)


@task(name="prepare-voice", **CACHED)
def prepare_voice(
    script: str | None,
    voiceover: Path | None,
    voice_name: str,
    rate_wpm: int,
    platform: str,
    *,
    settings: Settings,
) -> steps.PreparedVoice:
    folder = _folder(settings)
    voice = steps.prepare_voice(
        script=script, voiceover=voiceover, voice_name=voice_name, rate_wpm=rate_wpm,
        platform=platform, out_dir=folder,
    )  # fmt: skip
    mark_complete(folder)
    return voice


@task(name="align-words", **CACHED)
def align_words(
    voice: steps.PreparedVoice,
    transcript: str,
    known: WordTimingsSpec | None,
    *,
    settings: Settings,
) -> WordTimings:
    mark_complete(_folder(settings))
    return steps.time_words(voice, transcript=transcript, known=known)


@task(name="record-timings", cache_policy=NO_CACHE)
def record_timings(
    words: WordTimings, duration_s: float, context: RunContext, *, settings: Settings
) -> bool:
    """Keep the project's latest word timings, for viewing and correcting (best effort)."""
    from reelflow.store import Store

    try:
        with Store(settings) as store:
            return (
                store.set_word_timings(
                    context.user_id, context.project_id, words, duration_s=duration_s
                )
                is not None
            )
    except Exception as exc:  # a store outage must not fail a finished reel
        get_run_logger().warning("could not record word timings: %s", exc)
        return False


@task(name="analyze-voice", **CACHED)
def analyze_voice(voice: steps.PreparedVoice, transcript: str, *, settings: Settings):
    mark_complete(_folder(settings))
    return steps.analyze_voice(voice, transcript=transcript)


@task(name="prepare-background", **CACHED)
def prepare_background(spec: BackgroundSpec, *, settings: Settings) -> Background:
    mark_complete(_folder(settings))
    return steps.prepare_background(spec)


@task(name="prepare-music", **CACHED)
def prepare_music(
    spec: MusicSpec, analysis: VoiceAnalysis | None, duration_s: float, *, settings: Settings
) -> steps.PreparedMusic:
    """`analysis` only for ``preset: auto``; None otherwise lets the music start early."""
    folder = _folder(settings)
    music = steps.prepare_music(
        spec, analysis=analysis, duration_s=duration_s, cache_dir=settings.music_dir,
        out_dir=folder,
    )  # fmt: skip
    mark_complete(folder)
    return music


@task(name="analyze-music", **CACHED)
def analyze_music(music: steps.PreparedMusic, *, settings: Settings) -> MusicAnalysis | None:
    mark_complete(_folder(settings))
    return steps.analyze_music(music)


@task(name="plan-mix", **CACHED)
def plan_mix(
    voice: steps.PreparedVoice,
    first_word_s: float,
    analysis: VoiceAnalysis,
    music: steps.PreparedMusic,
    music_analysis: MusicAnalysis | None,
    spec: MusicSpec,
    platform: str,
    *,
    settings: Settings,
) -> MixPlan:
    folder = _folder(settings)
    mix = steps.plan_audio_mix(
        voice, first_word_s, analysis, music, music_analysis, spec, platform=platform,
        out_dir=folder,
    )  # fmt: skip
    mark_complete(folder)
    return mix


@task(name="build-captions", **CACHED)
def build_captions(
    words: WordTimings,
    spec: CaptionSpec,
    quality: str,
    platform: str,
    duration_s: float,
    *,
    settings: Settings,
) -> Path:
    folder = _folder(settings)
    path = steps.build_captions(
        words, spec, quality=quality, platform=platform, duration_s=duration_s, out_dir=folder
    )
    mark_complete(folder)
    return path


@task(name="plan-effects", **CACHED)
def plan_effects(
    spec: EffectsSpec, music_analysis: MusicAnalysis | None, mix: MixPlan, *, settings: Settings
) -> CameraMotion:
    mark_complete(_folder(settings))
    return steps.plan_effects(spec, music_analysis, mix)


@task(name="render-reel", **CACHED)
def render_reel(
    mix: MixPlan,
    background: Background,
    camera: CameraMotion,
    captions: Path,
    quality: str,
    platform: str,
    encoder: str,
    allow_gpu: bool,
    max_file_size_mb: float | None,
    timeout_s: float,
    *,
    settings: Settings,
    reporter=None,
) -> RenderResult:
    folder = _folder(settings)
    result = steps.render_reel(
        mix, background, camera, captions,
        quality=quality, platform=platform, encoder=encoder, allow_gpu=allow_gpu,
        max_file_size_mb=max_file_size_mb, out_path=folder / "reel.mp4",
        threads=settings.ffmpeg_threads, timeout_s=timeout_s,
        on_progress=reporter.render_fraction if reporter is not None else None,
    )  # fmt: skip
    mark_complete(folder)
    return result


@task(name="publish", cache_policy=NO_CACHE, retries=RETRIES, retry_condition_fn=is_transient)
def publish(
    result: RenderResult, task_id: str, output: Path | None, *, settings: Settings
) -> dict[str, str]:
    """Store the video and poster where the user expects them (atomically)."""
    return steps.publish(result, output or settings.output_dir / task_id / "reel.mp4")
