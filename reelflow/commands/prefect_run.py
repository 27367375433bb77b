"""`reelflow render` / `demo` on a Prefect server: the `generate-reel` flow run in this process.

Used when PREFECT_API_URL (or REELFLOW_PREFECT_API_URL) names a server, such as the one
`reelflow up` starts: the run, its tasks and its progress bar appear in that server's UI.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path


def run_on_prefect(spec, out: Path, *, settings, verbose: bool, refresh: bool):
    """Run `generate-reel` against the configured server; raise what the failed step raised."""
    from reelflow.cli import fail, progress_bar
    from reelflow.engine.errors import InputError
    from reelflow.tasks.voice import check_inputs

    check_inputs.fn(spec=spec)  # bad files fail here, before Prefect starts
    _prefect_environment(settings, verbose)
    from reelflow.flows.confine import trusted_local
    from reelflow.flows.reel import generate_reel
    from reelflow.flows.runtime import (
        RunContext,
        freeze_imported_objects,
        in_process_runs,
        local_listener,
    )

    freeze_imported_objects()
    with progress_bar() as on_event:
        token = local_listener.set(on_event)
        trusted = trusted_local.set(True)  # the files this user named on the command line
        try:
            with _quiet_prefect(verbose), in_process_runs():
                state = generate_reel(
                    spec, RunContext(output=out.resolve(), refresh_cache=refresh),
                    return_state=True,
                )  # fmt: skip
        except Exception as exc:  # Prefect itself failed (e.g. server gone): one line, no dump
            if verbose:
                raise
            fail(f"could not run the flow: {type(exc).__name__}: {exc}", 1)
        finally:
            trusted_local.reset(trusted)
            local_listener.reset(token)
    if not state.is_completed():
        error = state.result(raise_on_failure=False)
        if isinstance(error, InputError):
            raise error
        fail(str(error) if isinstance(error, BaseException) else state.message or "failed", 1)
    return state.result()


def _prefect_environment(settings, verbose: bool) -> None:
    """Prefect reads its settings at import: set our defaults before the flows are imported."""
    os.environ.setdefault("PREFECT_API_URL", settings.prefect_api_url)
    # Never fall back to a temporary server inside this process: fail fast instead.
    os.environ.setdefault("PREFECT_SERVER_ALLOW_EPHEMERAL_MODE", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO" if verbose else "WARNING")


@contextlib.contextmanager
def _quiet_prefect(verbose: bool):
    """Prefect logs task failures with tracebacks; the CLI reports a failure in one line."""
    logger = logging.getLogger("prefect")
    level = logger.level
    if not verbose:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)
