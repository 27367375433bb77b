"""Stopping asyncio tasks reliably, even around libraries that lose a cancellation.

A cancellation that arrives while a library's own timeout or connection handling runs can come
out as an ordinary error (a ``TimeoutError``, a Redis ``ConnectionError``). A reconnecting loop
that catches those errors would then go on for ever, and whoever cancelled it (the app's
shutdown, asyncio's final clean-up) waits for ever. CI hung this way twice in the API's shutdown.
"""

from __future__ import annotations

import asyncio
import logging

log = logging.getLogger(__name__)

_RECANCEL_S = 0.5


def cancel_requested() -> bool:
    """Whether the current task has been asked to stop, even if the CancelledError was lost.

    Call it in a loop's ``except`` branch before retrying: the task keeps counting the request
    (``Task.cancelling()``) whatever exception the library raised instead.
    """
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


async def stop_tasks(tasks: list[asyncio.Task], grace_s: float) -> None:
    """Cancel `tasks` and wait up to `grace_s` for them to end, cancelling again every 0.5 s.

    Repeating the cancellation stops a loop that lost one; a task still running after the grace
    period is logged and left behind.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace_s
    pending = {task for task in tasks if not task.done()}
    while pending and loop.time() < deadline:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=min(_RECANCEL_S, grace_s))
    for task in pending:
        log.error("background task %s did not stop within %.0f s", task.get_name(), grace_s)
