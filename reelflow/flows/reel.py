"""The `generate-reel` flow: the reel's DAG (`flows.dag`) with every step a Prefect task."""

from __future__ import annotations

import time

from prefect import flow
from prefect.context import get_run_context

from reelflow.deployments.recovery import MAX_ATTEMPTS
from reelflow.flows import confine, hooks
from reelflow.flows.dag import ReelOutput, reel_dag
from reelflow.flows.runtime import RunContext, freeze_imported_objects, run_progress
from reelflow.models import ReelSpec
from reelflow.settings import Settings, get_settings
from reelflow.tasks.caching import LOCAL, CacheScope
from reelflow.tasks.step import Step
from reelflow.tasks.storage import result_storage

__all__ = ["ReelOutput", "generate_reel"]

FENCE_TIMEOUT_S = 300.0  # a worker cut off longer than this gives its render up
FENCE_RETRY_S = 2.0


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
    if not confine.trusted_local.get():  # parameters come from whoever could create the run
        spec = confine.confine_spec(spec, settings, user_id=context.user_id)
        context = context.model_copy(
            update={"output": confine.confine_output(context.output, settings)}
        )
    flow_run = get_run_context().flow_run
    if flow_run.deployment_id is not None:
        freeze_imported_objects()  # a worker's flow-run process: it runs this reel and exits
    if (flow_run.run_count or 1) > MAX_ATTEMPTS:
        # Resubmitted after every crash so far: stop the loop (see deployments/recovery.py).
        raise RuntimeError(f"gave up after {MAX_ATTEMPTS} attempts that crashed")
    task_id = context.task_id or str(flow_run.id)
    progress = run_progress(
        task_id, context, settings, attempt=flow_run.run_count or 1, ui_artifact=True
    )
    # Each user's steps read and write only that user's cache entries.
    scope = CacheScope(context.user_id, context.project_id)
    runner = PrefectRunner(settings, refresh_cache=context.refresh_cache, scope=scope)
    return reel_dag(spec, context, task_id=task_id, run=runner, progress=progress,
                    settings=settings)  # fmt: skip


class PrefectRunner:
    """Runs each step as its Prefect task, with this run's settings, result storage and cache
    scope (the run's user)."""

    def __init__(
        self, settings: Settings, *, refresh_cache: bool = False, scope: CacheScope = LOCAL
    ) -> None:
        self.settings = settings
        self.storage = result_storage(settings)
        self.refresh_cache = refresh_cache
        self.scope = scope

    def _task(self, step: Step):
        # refresh_cache=None keeps Prefect's default: read the cache, write on a miss.
        # A task option, not temporary_settings: copying Prefect's settings costs ~0.15 s a run.
        return step.task.with_options(
            result_storage=self.storage, refresh_cache=self.refresh_cache or None
        )

    def __call__(self, step: Step, **parameters):
        return self._task(step)(**parameters, settings=self.settings, cache_scope=self.scope)

    def submit(self, step: Step, **parameters):
        """Start `step` on the flow's task runner and return its future."""
        return self._task(step).submit(**parameters, settings=self.settings, cache_scope=self.scope)

    def fence(self) -> None:
        """Abort without a final state unless the server still runs this attempt.

        A worker cut off from the server keeps rendering; meanwhile its run is crashed (missed
        heartbeats) and resubmitted, and another worker takes it. When the cut-off one gets
        here it must neither publish nor report: Prefect's `Abort` ends the process with no
        state proposed and no hook run. A server that cannot be reached is not a yes: after
        `FENCE_TIMEOUT_S` the attempt aborts, and heartbeat recovery resubmits the run.
        Only deployment runs are fenced (nothing resubmits a run started by the CLI).
        """
        from prefect.client.orchestration import get_client
        from prefect.client.schemas.objects import StateType
        from prefect.context import FlowRunContext
        from prefect.exceptions import Abort

        ctx = FlowRunContext.get()
        if ctx is None or ctx.flow_run is None or ctx.flow_run.deployment_id is None:
            return
        mine = ctx.flow_run.run_count
        deadline = time.monotonic() + FENCE_TIMEOUT_S
        while True:
            try:
                with get_client(sync_client=True) as client:
                    current = client.read_flow_run(ctx.flow_run.id)
                break
            except Exception as exc:  # the server or the network is away
                if time.monotonic() > deadline:
                    raise Abort(f"could not confirm this attempt with the server: {exc}") from None
                time.sleep(FENCE_RETRY_S)
        state = current.state
        if state is None or state.type != StateType.RUNNING or current.run_count != mine:
            raise Abort(
                f"attempt {mine} was superseded (the run is now "
                f"{state.name if state else 'unknown'}, attempt {current.run_count})"
            )
