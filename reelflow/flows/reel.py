"""The `generate-reel` flow: one reel as a DAG of cached, retryable tasks."""

from __future__ import annotations

from pathlib import Path

from prefect import flow
from prefect.context import get_run_context
from pydantic import BaseModel

from reelflow.deployments.recovery import MAX_ATTEMPTS
from reelflow.flows import hooks
from reelflow.flows.runtime import RunContext, run_progress
from reelflow.models import ReelSpec
from reelflow.settings import Settings, get_settings
from reelflow.tasks import reel as t
from reelflow.tasks.storage import result_storage

# Render time limit per second of reel at each quality: ~10x what two cores need.
RENDER_SECONDS_PER_SECOND = {"low": 3, "medium": 5, "high": 10, "ultra": 60}


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


@flow(
    name="generate-reel",
    on_running=[hooks.on_running],
    on_completion=[hooks.on_completion],
    on_failure=[hooks.on_failure],
    on_crashed=[hooks.on_crashed],
    on_cancellation=[hooks.on_cancellation],
    log_prints=True,
)
def generate_reel(spec: ReelSpec, context: RunContext | None = None) -> ReelOutput:
    """Voice, words, analysis, music, captions, effects, one render pass, publish."""
    context = context or RunContext()
    settings = get_settings()
    flow_run = get_run_context().flow_run
    task_id = str(flow_run.id)
    if (flow_run.run_count or 1) > MAX_ATTEMPTS:
        # Resubmitted after every crash so far: stop the loop (see deployments/recovery.py).
        raise RuntimeError(f"gave up after {MAX_ATTEMPTS} attempts that crashed")
    progress = run_progress(task_id, context, settings, attempt=flow_run.run_count or 1)
    # A task option, not temporary_settings: copying Prefect's settings costs ~0.15 s a run.
    run = _Runner(settings, refresh_cache=context.refresh_cache)
    t.check_inputs(spec)
    voice = run(t.prepare_voice, spec.script, spec.voiceover, spec.voice,
                spec.speaking_rate_wpm, spec.platform)  # fmt: skip
    progress.milestone("voice", f"{voice.duration_s:.1f} s of voice")
    # Independent branches of the DAG run side by side; milestones are reported in order.
    words_later = run.submit(t.align_words, voice, spec.text, spec.word_timings)
    analysis_later = run.submit(t.analyze_voice, voice, spec.text)
    background_later = run.submit(t.prepare_background, spec.background)
    # Music waits for the voice analysis only when it must pick a preset to fit the voice.
    picks_preset = spec.music.preset == "auto" and spec.music.file is None
    if not picks_preset:
        music_later = run.submit(t.prepare_music, spec.music, None, voice.duration_s)
        music_analysis_later = run.submit(t.analyze_music, music_later)
    words = words_later.result()
    progress.milestone("words", f"{len(words)} words ({words.method})")
    if context.project_id and context.user_id and spec.word_timings is None:
        run(t.record_timings, words, voice.duration_s, context)
    analysis = analysis_later.result()
    progress.milestone("voice_analysis", f"{len(analysis.speech)} phrases")
    if picks_preset:
        music_later = run.submit(t.prepare_music, spec.music, analysis, voice.duration_s)
        music_analysis_later = run.submit(t.analyze_music, music_later)
    captions = run(t.build_captions, words, spec.captions, spec.quality, spec.platform,
                   voice.duration_s)  # fmt: skip
    progress.milestone("captions", spec.captions.animation)
    background = background_later.result()
    progress.milestone("background", spec.background.type)
    music = music_later.result()
    music_analysis = music_analysis_later.result()
    mix = run(t.plan_mix, voice, words.first_start_s, analysis, music, music_analysis,
              spec.music, spec.platform)  # fmt: skip
    progress.milestone("music", music.preset or music.source)
    camera = run(t.plan_effects, spec.effects, music_analysis, mix)
    progress.milestone("effects", f"{camera.pulses} pulses, {camera.shakes} shakes")
    render_timeout_s = 120 + voice.duration_s * RENDER_SECONDS_PER_SECOND[spec.quality]
    result = run(
        t.render_reel, mix, background, camera, captions, spec.quality, spec.platform,
        spec.encoder, settings.enable_gpu_acceleration, spec.max_file_size_mb,
        render_timeout_s, reporter=progress,
    )  # fmt: skip
    progress.milestone("render", result.encoder)
    stored = run(t.publish, result, task_id, context.output)
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


class _Runner:
    """Calls a task with this run's settings and result storage."""

    def __init__(self, settings: Settings, *, refresh_cache: bool = False) -> None:
        self.settings = settings
        self.storage = result_storage(settings)
        self.refresh_cache = refresh_cache

    def _configured(self, task):
        # refresh_cache=None keeps Prefect's default: read the cache, write on a miss.
        return task.with_options(
            result_storage=self.storage, refresh_cache=self.refresh_cache or None
        )

    def __call__(self, task, *args, **kwargs):
        return self._configured(task)(*args, settings=self.settings, **kwargs)

    def submit(self, task, *args, **kwargs):
        """Start `task` on the flow's task runner and return its future."""
        return self._configured(task).submit(*args, settings=self.settings, **kwargs)
