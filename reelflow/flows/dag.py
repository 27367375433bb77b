"""The reel's DAG, written once: which step runs after which, with what.

`reel_dag` reads top to bottom like the diagram in ARCHITECTURE.md. It does not know how its
steps run: the `generate-reel` Prefect flow hands it a runner that makes each step a Prefect
task (reelflow/flows/reel.py), and a run without a Prefect server hands it the in-process
runner (reelflow/flows/local.py). Both runners cache, retry and report progress the same way.
"""

from __future__ import annotations

from concurrent.futures import Future
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel

from reelflow.flows.runtime import RunContext, RunProgress
from reelflow.models import ReelSpec
from reelflow.settings import Settings
from reelflow.tasks.music import (
    analyze_music,
    measure_music_levels,
    plan_audio_mix,
    prepare_music,
)
from reelflow.tasks.picture import (
    build_captions,
    plan_effects,
    prepare_background,
    publish,
    render_reel,
    track_face,
)
from reelflow.tasks.step import Step
from reelflow.tasks.voice import (
    align_words,
    analyze_voice,
    check_inputs,
    prepare_voice,
    record_timings,
)

# Render time limit per second of reel at each quality: ~10x what two cores need.
RENDER_SECONDS_PER_SECOND = {"low": 3, "medium": 5, "high": 10, "ultra": 60}


class Runner(Protocol):
    """Runs steps: now (`__call__`) or beside the caller (`submit`, a future)."""

    def __call__(self, step: Step, **parameters: Any) -> Any: ...

    def submit(self, step: Step, **parameters: Any) -> Future | Any: ...

    def fence(self) -> None:
        """Stop the run, reporting nothing, if it is no longer the current attempt (its run
        was resubmitted elsewhere while this process was cut off)."""


class ReelOutput(BaseModel):
    """What a finished run returns (and the `completed` event carries)."""

    task_id: str
    video: Path
    poster: Path
    duration_s: float
    size_bytes: int
    encoder: str
    words: int
    timing_method: str
    music_preset: str | None


def reel_dag(
    spec: ReelSpec,
    context: RunContext,
    *,
    task_id: str,
    run: Runner,
    progress: RunProgress,
    settings: Settings,
) -> ReelOutput:
    """Voice, words, analysis, music, captions, effects, one render pass, publish."""
    run(check_inputs, spec=spec)
    voice = run(
        prepare_voice,
        script=spec.script,
        voiceover=spec.voiceover or spec.video,  # a clip's sound is its voice
        voice_name=spec.voice,
        rate_wpm=spec.speaking_rate_wpm,
        platform=spec.platform,
        trim_pauses_over_s=spec.trim_pauses_over_s,
        # cuts fall on the output's frames only when there are cuts (else the key stays put)
        frame_rate=spec.quality_preset.fps if spec.trim_pauses_over_s is not None else None,
    )
    trimmed = f", {voice.cuts.removed_s:.1f} s of pauses cut" if voice.cuts else ""
    progress.milestone("voice", f"{voice.duration_s:.1f} s of voice{trimmed}")

    # Independent branches run side by side; milestones are reported in order.
    words_later = run.submit(
        align_words, voice=voice, transcript=spec.text, known=spec.word_timings
    )
    analysis_later = run.submit(analyze_voice, voice=voice, transcript=spec.text)
    background_later = run.submit(prepare_background, spec=spec.background)
    face_later = run.submit(track_face, video=spec.video) if spec.video else None
    # Music waits for the voice analysis only when it must pick a preset to fit the voice.
    picks_preset = spec.music.preset == "auto" and spec.music.file is None
    music_later = run.submit(
        prepare_music,
        spec=spec.music,
        analysis=analysis_later if picks_preset else None,
        duration_s=voice.duration_s,
        library_dir=settings.music_dir,
    )
    beats_later = run.submit(analyze_music, music=music_later)
    levels_later = run.submit(measure_music_levels, voice=voice, music=music_later)
    # The mix starts the music where the speech starts, so it need not wait for the words.
    mix_later = run.submit(
        plan_audio_mix,
        voice=voice,
        analysis=analysis_later,
        music=music_later,
        beats=beats_later,
        levels=levels_later,
        spec=spec.music,
        platform=spec.platform,
    )
    camera_later = run.submit(plan_effects, spec=spec.effects, beats=beats_later, mix=mix_later)

    words = words_later.result()
    progress.milestone("words", f"{len(words)} words ({words.method})")
    if context.project_id and context.user_id and spec.word_timings is None:
        run(
            record_timings,
            words=words,
            duration_s=voice.source_duration_s,
            user_id=context.user_id,
            project_id=context.project_id,
        )
    captions_later = run.submit(
        build_captions,
        words=words,
        spec=spec.captions,
        quality=spec.quality,
        platform=spec.platform,
        duration_s=voice.duration_s,
        cuts=voice.cuts,
    )
    analysis = analysis_later.result()
    progress.milestone("voice_analysis", f"{len(analysis.speech)} phrases")
    captions = captions_later.result()
    progress.milestone("captions", spec.captions.animation)
    background = background_later.result()
    progress.milestone("background", spec.background.type)
    music = music_later.result()
    progress.milestone("music", music.preset or music.source)
    mix, camera = mix_later.result(), camera_later.result()
    progress.milestone("effects", f"{camera.pulses} pulses, {camera.shakes} shakes")

    result = run(
        render_reel,
        mix=mix,
        background=background,
        camera=camera,
        captions=captions,
        quality=spec.quality,
        platform=spec.platform,
        encoder=spec.encoder,
        allow_gpu=settings.enable_gpu_acceleration,
        max_file_size_mb=spec.max_file_size_mb,
        threads=settings.ffmpeg_threads,
        timeout_s=120 + voice.duration_s * RENDER_SECONDS_PER_SECOND[spec.quality],
        on_progress=progress.render_fraction,
        video=spec.video,
        face=face_later.result() if face_later is not None else None,
        cuts=voice.cuts,
    )
    progress.milestone("render", result.encoder)
    run.fence()  # never publish (or report) from an attempt that another worker has taken over
    stored = run(
        publish,
        result=result,
        target=context.output or settings.output_dir / task_id / "reel.mp4",
        # the user's own path is theirs to overwrite; a run's output belongs to whichever
        # attempt finished first (a later one renders the same bytes)
        replace=context.output is not None,
    )
    progress.milestone("stored", stored["video"])
    return ReelOutput(
        task_id=task_id,
        video=Path(stored["video"]),
        poster=Path(stored["poster"]),
        duration_s=result.duration_s,
        size_bytes=result.size_bytes,
        encoder=result.encoder,
        words=len(words),
        timing_method=words.method,
        music_preset=music.preset,
    )
