"""State hooks: the one place a run's lifecycle (running, completed, failed, ...) is reported.

Tasks raise; Prefect records the state; these hooks turn the state into exactly one progress
event. ``on_crashed`` and ``on_cancellation`` run in a separate process started by the worker,
so they rebuild the run's context from its parameters and continue its sequence from Redis.
"""

from __future__ import annotations

import logging

from reelflow.flows.runtime import RunContext, finish_run, run_progress, task_id_of
from reelflow.settings import get_settings

log = logging.getLogger(__name__)


def _context(flow_run) -> RunContext:
    raw = (flow_run.parameters or {}).get("context")
    if isinstance(raw, RunContext):
        return raw
    try:
        return RunContext.model_validate(raw or {})
    except ValueError:
        return RunContext()


def _progress(flow_run, attempt: int | None = None):
    return run_progress(
        task_id_of(flow_run),
        _context(flow_run),
        get_settings(),
        attempt=attempt or flow_run.run_count or 1,
    )


def on_running(flow, flow_run, state) -> None:
    """The run started (or restarted after a crash/retry, or after a worker handed it back)."""
    # Prefect hands this hook the flow run as loaded before it entered Running, whose
    # run_count is the previous attempt's (measured with prefect 3.8.8: 0, then 1 on the
    # second attempt; the flow body and later hooks see 1, then 2). This attempt is one more.
    attempt = (flow_run.run_count or 0) + 1
    _progress(flow_run, attempt).reporter.status(
        "running", stage="", progress=0.0, details=flow_run.name
    )


def on_completion(flow, flow_run, state) -> None:
    """The reel is stored: report where."""
    output = None
    try:
        output = _output(state.result(raise_on_failure=False, _sync=True))
    except Exception:  # the result may not be readable here (e.g. not persisted)
        log.warning("completed run %s: could not read its result", flow_run.id)
    progress = _progress(flow_run)
    progress.reporter.status("completed", stage="stored", progress=100.0, output=output)
    finish_run(task_id_of(flow_run))


def _output(result) -> dict[str, str] | None:
    if hasattr(result, "files"):  # one reel
        return result.files()
    if hasattr(result, "children"):  # a batch
        done = [c.task_id or "" for c in result.children if c.status == "completed"]
        return {"completed": str(len(done)), "children": ",".join(done)}
    return None


def on_failure(flow, flow_run, state) -> None:
    """The run failed for good: report the error message once."""
    _final(flow_run, "failed", _error_message(state))


def on_crashed(flow, flow_run, state) -> None:
    """The run's process died (killed worker, out of memory)."""
    _final(flow_run, "crashed", state.message or "the run crashed")


def on_cancellation(flow, flow_run, state) -> None:
    _final(flow_run, "cancelled", state.message or "cancelled")


def _final(flow_run, status: str, error: str) -> None:
    # progress is left at the last reported value, so a failure shows where the run stopped
    _progress(flow_run).reporter.status(status, error=error)
    finish_run(task_id_of(flow_run))


def _error_message(state) -> str:
    try:
        exc = state.result(raise_on_failure=False, _sync=True)
    except Exception as err:  # reading the result can itself fail
        return str(err) or state.message or "failed"
    if isinstance(exc, BaseException):
        return str(exc) or type(exc).__name__
    return state.message or "failed"
