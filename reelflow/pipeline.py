"""Run a reel's steps in order in this process, without Prefect.

This is the engine-only path: the benchmark's "direct engine call" and the reference the Prefect
flow is measured against. Progress is reported at the same milestones the flow reports.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from reelflow import steps
from reelflow.engine.timing import WordTimings
from reelflow.models import ReelSpec
from reelflow.settings import Settings
from reelflow.steps import MILESTONES

ProgressFn = Callable[[str, float, str], None]
"""Receives (stage, percent 0-100, details)."""


@dataclass(frozen=True)
class ReelResult:
    """A finished reel and how it was made."""

    video_path: Path
    poster_path: Path
    encoder: str
    duration_s: float
    size_bytes: int
    words: WordTimings
    music_preset: str | None
    stage_seconds: dict[str, float] = field(default_factory=dict)


def run_reel(
    spec: ReelSpec,
    out_path: Path,
    *,
    settings: Settings,
    on_progress: ProgressFn | None = None,
) -> ReelResult:
    """Render `spec` to `out_path` (and a poster beside it), reporting progress as it goes."""
    report = on_progress or (lambda stage, pct, details: None)
    seconds: dict[str, float] = {}
    settings.work_dir.mkdir(parents=True, exist_ok=True)
    steps.check_inputs(spec)
    with tempfile.TemporaryDirectory(dir=settings.work_dir, prefix="reel-") as tmp:
        work = Path(tmp)
        with _timed(seconds, "voice"):
            voice = steps.prepare_voice(
                script=spec.script,
                voiceover=spec.voiceover,
                voice_name=spec.voice,
                rate_wpm=spec.speaking_rate_wpm,
                platform=spec.platform,
                out_dir=work,
            )
        report("voice", MILESTONES["voice"], f"{voice.duration_s:.1f} s of voice")
        with _timed(seconds, "words"):
            words = steps.time_words(voice, transcript=spec.text)
        report("words", MILESTONES["words"], f"{len(words)} words ({words.method})")
        with _timed(seconds, "voice_analysis"):
            analysis = steps.analyze_voice(voice, transcript=spec.text)
        report("voice_analysis", MILESTONES["voice_analysis"], f"{len(analysis.speech)} phrases")
        with _timed(seconds, "captions"):
            captions_path = steps.build_captions(
                words,
                spec.captions,
                quality=spec.quality,
                platform=spec.platform,
                duration_s=voice.duration_s,
                out_dir=work,
            )
        report("captions", MILESTONES["captions"], spec.captions.animation)
        with _timed(seconds, "background"):
            background = steps.prepare_background(spec.background)
        report("background", MILESTONES["background"], spec.background.type)
        with _timed(seconds, "music"):
            music = steps.prepare_music(
                spec.music,
                analysis=analysis,
                duration_s=voice.duration_s,
                cache_dir=settings.music_dir,
                out_dir=work,
            )
            music_analysis = steps.analyze_music(music)
            mix = steps.plan_audio_mix(
                voice, words.first_start_s, analysis, music, music_analysis, spec.music,
                platform=spec.platform, out_dir=work,
            )  # fmt: skip
        report("music", MILESTONES["music"], music.preset or music.source)
        with _timed(seconds, "effects"):
            camera = steps.plan_effects(spec.effects, music_analysis, mix)
        report("effects", MILESTONES["effects"], f"{camera.pulses} pulses, {camera.shakes} shakes")

        def render_progress(fraction: float) -> None:
            span = MILESTONES["render"] - MILESTONES["effects"]
            report("render", MILESTONES["effects"] + span * fraction, "encoding")

        with _timed(seconds, "render"):
            result = steps.render_reel(
                mix,
                background,
                camera,
                captions_path,
                quality=spec.quality,
                platform=spec.platform,
                encoder=spec.encoder,
                allow_gpu=settings.enable_gpu_acceleration,
                max_file_size_mb=spec.max_file_size_mb,
                out_path=out_path,
                threads=settings.ffmpeg_threads,
                on_progress=render_progress,
            )
        report("render", MILESTONES["render"], result.encoder)
    report("stored", MILESTONES["stored"], str(result.video_path))
    return ReelResult(
        video_path=result.video_path,
        poster_path=result.poster_path,
        encoder=result.encoder,
        duration_s=result.duration_s,
        size_bytes=result.size_bytes,
        words=words,
        music_preset=music.preset,
        stage_seconds=seconds,
    )


@contextlib.contextmanager
def _timed(seconds: dict[str, float], stage: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        seconds[stage] = time.perf_counter() - start
