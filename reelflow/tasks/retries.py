"""Which failures are worth another attempt, and how long to wait before it."""

from __future__ import annotations

from reelflow.engine.errors import InputError, MediaError

RETRIES = 2
RETRY_DELAYS_S = [2.0, 4.0]  # exponential backoff, factor 2
RETRY_JITTER = 0.5  # +-50 %: workers that fail together do not retry in lockstep


def is_transient_error(error: BaseException) -> bool:
    """Retry I/O trouble and killed or crashed media tools; never bad input."""
    if isinstance(error, InputError):
        return False
    if isinstance(error, MediaError):
        return error.transient
    return isinstance(error, OSError | TimeoutError | ConnectionError)


def is_transient(task, task_run, state) -> bool:
    """Prefect's retry condition: `is_transient_error` of the failed state's exception.

    A plain function on purpose: Prefect silently ignores a partial or a bound method here.
    """
    try:
        state.result(raise_on_failure=True)
    except Exception as exc:
        return is_transient_error(exc)
    return False
