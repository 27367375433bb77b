"""A reel run's context and progress, shared by the Prefect flow and the in-process runner.

Prefect's hooks only receive ``(flow, flow_run, state)``, so the run's progress reporter is kept
in a small per-process registry keyed by flow-run id; hooks in the same process reuse its
sequence numbers, and a crash hook in another process continues from Redis' last sequence.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from reelflow.progress.artifact import PrefectArtifactSink
from reelflow.progress.milestones import MILESTONES
from reelflow.progress.redis_sink import RedisProgressSink
from reelflow.progress.reporter import CallbackSink, ProgressReporter
from reelflow.settings import Settings

# A listener the CLI sets before running a flow in-process: it draws the terminal bar.
local_listener: ContextVar[Callable[[Any], None] | None] = ContextVar(
    "reelflow_local_listener", default=None
)


def freeze_imported_objects() -> None:
    """Keep what the imports made (Prefect's and pydantic's schemas, about a million objects)
    out of every later garbage collection, the full one at interpreter exit included (0.5 s of
    CPU per process here). Only for a process that runs one reel and exits: objects frozen
    here are never collected."""
    import gc

    gc.freeze()


class RunContext(BaseModel):
    """Who a run is for and where its video goes (the flow's second parameter)."""

    user_id: str | None = Field(default=None, max_length=64)
    project_id: str | None = Field(default=None, max_length=64)
    output: Path | None = Field(default=None, description="Default: <data>/outputs/<run id>/")
    refresh_cache: bool = Field(default=False, description="Recompute every step.")
    task_id: str | None = Field(
        default=None,
        max_length=64,
        pattern=r"^[A-Za-z0-9-]+$",
        description="The API's task id for this run (progress, outputs); default: the run's id.",
    )


def task_id_of(flow_run) -> str:
    """The task a flow run reports as: its context's `task_id`, else the flow run's own id."""
    raw = (getattr(flow_run, "parameters", None) or {}).get("context")
    task_id = raw.task_id if isinstance(raw, RunContext) else None
    if isinstance(raw, dict):
        task_id = raw.get("task_id")
    if isinstance(task_id, str) and task_id:
        return task_id
    return str(flow_run.id)


class RunProgress:
    """A flow run's progress: milestones, the render's own progress, lifecycle events."""

    def __init__(self, reporter: ProgressReporter) -> None:
        self.reporter = reporter

    def milestone(self, stage: str, details: str = "") -> None:
        self.reporter.milestone(stage, MILESTONES[stage], details)

    def render_fraction(self, fraction: float) -> None:
        span = MILESTONES["render"] - MILESTONES["effects"]
        self.reporter.progress("render", MILESTONES["effects"] + span * fraction, "encoding")

    def close(self) -> None:
        self.reporter.close()


_runs: dict[str, RunProgress] = {}
_runs_lock = threading.Lock()


def run_progress(
    task_id: str,
    context: RunContext,
    settings: Settings,
    *,
    attempt: int = 1,
    ui_artifact: bool = True,
) -> RunProgress:
    """The progress of flow run `task_id` in this process (created on first use).

    `attempt` is the flow run's run count: a resubmitted run reopens its finished status.
    `ui_artifact` adds the Prefect UI's progress bar (runs without Prefect have none).
    """
    with _runs_lock:
        existing = _runs.get(task_id)
        if existing is not None:
            return existing
        sinks: list = []
        start_seq = 0
        if context.user_id is not None:
            redis_sink = RedisProgressSink(settings)
            start_seq = redis_sink.last_seq(task_id)
            sinks.append(redis_sink)
        if ui_artifact:
            sinks.append(PrefectArtifactSink())  # a no-op outside a run context
        listener = local_listener.get()
        if listener is not None:
            sinks.append(CallbackSink(listener))
        reporter = ProgressReporter(
            task_id,
            context.user_id,
            sinks,
            min_interval_s=settings.progress_update_interval,
            start_seq=start_seq,
            attempt=max(1, attempt),
        )
        _runs[task_id] = RunProgress(reporter)
        return _runs[task_id]


def finish_run(task_id: str) -> None:
    """Flush and forget a run's progress (after its final status was reported)."""
    with _runs_lock:
        progress = _runs.pop(task_id, None)
    if progress is not None:
        progress.close()


@contextlib.contextmanager
def in_process_runs() -> Iterator[None]:
    """Flow runs started in this process (the CLI, the benchmarks) send no heartbeats.

    Heartbeats let the recovery automation find runs whose worker died and resubmit them
    (deployment runs beat every `flow_heartbeat_s`, see prefect.yaml). An in-process run has no
    worker to lose: its process is the caller's, and Ctrl-C already marks it crashed. Prefect's
    sync engine also joins the heartbeat thread at the end of every run, which waits for the
    thread's next one-second tick: 0-1 s added to every run for nothing.
    """
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield
