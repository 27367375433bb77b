"""The reel's DAG, written once: which step runs after which, with what.

`reel_dag` reads top to bottom like the diagram in ARCHITECTURE.md. It does not know how its
steps run: the `generate-reel` Prefect flow hands it a runner that makes each step a Prefect
task (reelflow/flows/reel.py), and a run without a Prefect server hands it the in-process
runner (reelflow/flows/local.py). Both runners cache, retry and report progress the same way.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, Field

from reelflow.flows.confine import aspect_target
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
    warnings: list[str] = Field(
        default_factory=list, description="What the reel could not do as asked (undrawn characters)"
    )
    # Every aspect's video (the main one too), for a spec asking for several.
    renditions: dict[str, Path] = {}

    def files(self) -> dict[str, str]:
        """Where the files are, as the `completed` event reports them (strings only):
        ``renditions`` is JSON of aspect -> video path, each with its poster beside it."""
        files = {"video": str(self.video), "poster": str(self.poster)}
        if self.renditions:
            files["renditions"] = json.dumps({a: str(p) for a, p in self.renditions.items()})
        if self.warnings:
            files["warnings"] = "\n".join(self.warnings)
        return files


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
        voice_name=spec.speech_voice,
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
        align_words,
        voice=voice,
        transcript=spec.text,
        known=spec.word_timings,
        language=spec.text_language,
    )
    analysis_later = run.submit(analyze_voice, voice=voice, transcript=spec.text)
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
    # Several background files are cut on the music's downbeats; one needs no music at all.
    cuts_on_beats = len(spec.background.files) > 1
    background_later = run.submit(
        prepare_background,
        spec=spec.background,
        beats=beats_later if cuts_on_beats else None,
        mix=mix_later if cuts_on_beats else None,
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
    # One caption file per aspect: sizes and safe zones differ, the words do not.
    captions_later = {
        aspect: run.submit(
            build_captions,
            words=words,
            spec=spec.captions,
            quality=spec.quality,
            platform=spec.platform,
            aspect=aspect,
            duration_s=voice.duration_s,
            language=spec.language,
            cuts=voice.cuts,
        )
        for aspect in spec.output_aspects
    }
    analysis = analysis_later.result()
    progress.milestone("voice_analysis", f"{len(analysis.speech)} phrases")
    captions = {aspect: later.result() for aspect, later in captions_later.items()}
    caption_warnings = captions[spec.output_aspects[0]].warnings
    progress.milestone("captions", _captions_details(spec.captions.animation, caption_warnings))
    background = background_later.result()
    progress.milestone("background", spec.background.type)
    music = music_later.result()
    progress.milestone("music", music.preset or music.source)
    mix, camera = mix_later.result(), camera_later.result()
    progress.milestone("effects", f"{camera.pulses} pulses, {camera.shakes} shakes")

    # Sibling renders, one per aspect, sharing every step above.
    aspects = spec.output_aspects
    render_progress = _SharedProgress(progress.render_fraction, len(aspects))
    face = face_later.result() if face_later is not None else None
    results_later = [
        run.submit(
            render_reel,
            mix=mix,
            background=background,
            camera=camera,
            captions=captions[aspect].path,
            quality=spec.quality,
            platform=spec.platform,
            aspect=aspect,
            title=spec.title,
            progress_bar_colour=spec.progress_bar_colour,
            encoder=spec.encoder,
            allow_gpu=settings.enable_gpu_acceleration,
            max_file_size_mb=spec.max_file_size_mb,
            threads=settings.ffmpeg_threads,
            # siblings share the cores, so each may take as long as all of them in turn
            timeout_s=(120 + voice.duration_s * RENDER_SECONDS_PER_SECOND[spec.quality])
            * len(aspects),
            on_progress=render_progress.callback(i),
            video=spec.video,
            face=face,
            cuts=voice.cuts,
        )
        for i, aspect in enumerate(aspects)
    ]
    results = [later.result() for later in results_later]
    result = results[0]
    progress.milestone("render", result.encoder)
    run.fence()  # never publish (or report) from an attempt that another worker has taken over
    main_target = context.output or settings.output_dir / task_id / "reel.mp4"
    renditions: dict[str, Path] = {}
    for i, (aspect, rendered) in enumerate(zip(aspects, results, strict=True)):
        stored = run(
            publish,
            result=rendered,
            target=main_target if i == 0 else aspect_target(main_target, aspect),
            # the user's own path is theirs to overwrite; a run's output belongs to whichever
            # attempt finished first (a later one renders the same bytes)
            replace=context.output is not None,
        )
        renditions[aspect] = Path(stored["video"])
        if i == 0:
            main_stored = stored
    progress.milestone("stored", main_stored["video"])
    return ReelOutput(
        task_id=task_id,
        video=Path(main_stored["video"]),
        poster=Path(main_stored["poster"]),
        duration_s=result.duration_s,
        size_bytes=result.size_bytes,
        encoder=result.encoder,
        words=len(words),
        timing_method=words.method,
        music_preset=music.preset,
        renditions=renditions,
        warnings=list(caption_warnings),
    )


def _captions_details(animation: str, warnings: Sequence[str]) -> str:
    """The captions milestone, naming undrawable characters while the run is still going."""
    if not warnings:
        return animation
    return f"{animation}; {len(warnings)} character(s) no bundled font draws were left out"


class _SharedProgress:
    """One progress bar for sibling renders: the mean of their fractions."""

    def __init__(self, report: Callable[[float], None], count: int) -> None:
        self._report = report
        self._fractions = [0.0] * count

    def callback(self, index: int) -> Callable[[float], None]:
        def update(fraction: float) -> None:
            self._fractions[index] = fraction
            self._report(sum(self._fractions) / len(self._fractions))

        return update
