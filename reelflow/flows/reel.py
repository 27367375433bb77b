"""The `generate-reel` flow: the reel's DAG (`flows.dag`) with every step a Prefect task."""

from __future__ import annotations

from prefect import flow
from prefect.context import get_run_context

from reelflow.deployments.recovery import MAX_ATTEMPTS
from reelflow.flows import hooks
from reelflow.flows.dag import ReelOutput, reel_dag
from reelflow.flows.runtime import RunContext, run_progress
from reelflow.models import ReelSpec
from reelflow.settings import Settings, get_settings
from reelflow.tasks.step import Step
from reelflow.tasks.storage import result_storage

__all__ = ["ReelOutput", "generate_reel"]


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
    if (flow_run.run_count or 1) > MAX_ATTEMPTS:
        # Resubmitted after every crash so far: stop the loop (see deployments/recovery.py).
        raise RuntimeError(f"gave up after {MAX_ATTEMPTS} attempts that crashed")
    task_id = str(flow_run.id)
    progress = run_progress(
        task_id, context, settings, attempt=flow_run.run_count or 1, ui_artifact=True
    )
    runner = PrefectRunner(settings, refresh_cache=context.refresh_cache)
    return reel_dag(spec, context, task_id=task_id, run=runner, progress=progress,
                    settings=settings)  # fmt: skip


class PrefectRunner:
    """Runs each step as its Prefect task, with this run's settings and result storage."""

    def __init__(self, settings: Settings, *, refresh_cache: bool = False) -> None:
        self.settings = settings
        self.storage = result_storage(settings)
        self.refresh_cache = refresh_cache

    def _task(self, step: Step):
        # refresh_cache=None keeps Prefect's default: read the cache, write on a miss.
        # A task option, not temporary_settings: copying Prefect's settings costs ~0.15 s a run.
        return step.task.with_options(
            result_storage=self.storage, refresh_cache=self.refresh_cache or None
        )

    def __call__(self, step: Step, **parameters):
        return self._task(step)(**parameters, settings=self.settings)

    def submit(self, step: Step, **parameters):
        """Start `step` on the flow's task runner and return its future."""
        return self._task(step).submit(**parameters, settings=self.settings)
