"""The reel's DAG run in this process, for CLI runs that have no Prefect server.

Same DAG (`flows.dag.reel_dag`), same steps, same cache keys and work folders, same retry
policy and failure rules as the `generate-reel` flow; what it leaves out is what only a server
gives: run records, the UI, schedules and remote workers. Prefect is never imported on this
path, so a CLI run costs its own work plus Python's start-up, and cannot time out waiting for
a server (Prefect's ephemeral server cost 15-25 s per run here and timed out one run in five).
"""

from __future__ import annotations

import logging
import random
import threading
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from reelflow.flows.dag import ReelOutput, reel_dag
from reelflow.flows.runtime import RunContext, finish_run, run_progress
from reelflow.models import ReelSpec
from reelflow.settings import Settings
from reelflow.tasks.caching import LOCAL, CacheScope
from reelflow.tasks.step import Step, load_result

log = logging.getLogger(__name__)

# Enough threads that every step the DAG submits ahead runs (or waits) at once. A step waiting on
# an upstream future holds its thread; the DAG submits upstream steps first and the pool starts
# work in submission order, so a waiting step never holds the thread its upstream needs.
MAX_WORKERS = 12


class LocalRunner:
    """Runs steps in this process: cache lookups by key, retries of transient failures."""

    def __init__(
        self, settings: Settings, *, refresh_cache: bool = False, scope: CacheScope = LOCAL
    ) -> None:
        self.settings = settings
        self.refresh_cache = refresh_cache
        self.scope = scope  # whose cache: the run's user, else the local namespace
        self._pool = ThreadPoolExecutor(MAX_WORKERS, thread_name_prefix="reelflow-step")
        self._stopping = threading.Event()

    def __call__(self, step: Step, **parameters: Any) -> Any:
        return self._run(step, parameters)

    def submit(self, step: Step, **parameters: Any) -> Future:
        """Start `step` on a worker thread; futures among `parameters` are waited for there."""
        return self._pool.submit(self._run, step, parameters)

    def fence(self) -> None:
        """Nothing to check: an in-process run has no other attempt."""

    def close(self) -> None:
        """Stop taking work and wait for the steps that are running (retry waits end early)."""
        self._stopping.set()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> LocalRunner:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _run(self, step: Step, parameters: dict[str, Any]) -> Any:
        parameters = {k: v.result() if isinstance(v, Future) else v for k, v in parameters.items()}
        if step.cached:
            folder = step.folder(self.settings, parameters, self.scope)
            self.scope.note_use(folder)
            hit, value = load_result(folder) if not self.refresh_cache else (False, None)
            if hit:
                return value
        attempt = 1
        while True:
            try:
                return step.call(self.settings, parameters, attempt=attempt, scope=self.scope)
            except Exception as exc:
                if attempt > step.retries or not step.should_retry(exc) or self._stopping.is_set():
                    raise
                delay = step.retry_delays_s[min(attempt, len(step.retry_delays_s)) - 1]
                delay *= 1 + random.uniform(-step.retry_jitter, step.retry_jitter)
                log.warning("%s failed (%s); attempt %d in %.1f s", step.name, exc, attempt + 1,
                            delay)  # fmt: skip
                if self._stopping.wait(delay):
                    raise
                attempt += 1


def run_reel(
    spec: ReelSpec, context: RunContext | None = None, *, settings: Settings
) -> ReelOutput:
    """Render `spec` in this process; report `running`, then `completed` or `failed`.

    Raises what the failing step raised (`InputError` for bad input). Ctrl-C is reported as
    `cancelled` and re-raised.
    """
    context = context or RunContext()
    task_id = str(uuid.uuid4())
    progress = run_progress(task_id, context, settings, ui_artifact=False)
    reporter = progress.reporter
    reporter.status("running", stage="", progress=0.0, details="in process")
    try:
        scope = CacheScope(context.user_id, context.project_id)
        with LocalRunner(settings, refresh_cache=context.refresh_cache, scope=scope) as runner:
            output = reel_dag(spec, context, task_id=task_id, run=runner, progress=progress,
                              settings=settings)  # fmt: skip
    except KeyboardInterrupt:
        reporter.status("cancelled", error="interrupted")
        raise
    except Exception as exc:
        reporter.status("failed", error=str(exc) or type(exc).__name__)
        raise
    else:
        reporter.status("completed", stage="stored", progress=100.0, output=output.files())
        return output
    finally:
        finish_run(task_id)
