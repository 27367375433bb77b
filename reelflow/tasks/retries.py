"""Which failures are worth another attempt, and how long to wait before it."""

from __future__ import annotations

from prefect.tasks import exponential_backoff

from reelflow.engine.errors import InputError, MediaError

RETRIES = 2
RETRY_DELAYS = exponential_backoff(backoff_factor=2)  # 2 s, 4 s
RETRY_JITTER = 0.5  # +-50 %: workers that fail together do not retry in lockstep


def is_transient(task, task_run, state) -> bool:
    """Retry I/O trouble and killed or crashed media tools; never bad input.

    A plain function on purpose: Prefect silently ignores a partial or a bound method here.
    """
    try:
        state.result(raise_on_failure=True)
    except InputError:
        return False
    except MediaError as exc:
        return exc.transient
    except (OSError, TimeoutError, ConnectionError):
        return True
    except Exception:
        return False
    return False
