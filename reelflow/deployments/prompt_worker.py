"""Prefect's process worker, polling at once when a slot frees or the doorbell rings.

    python -m reelflow.deployments.prompt_worker --pool cpu --limit 2

`reelflow worker` and `reelflow up` start this instead of `prefect worker start`. It is
Prefect's `ProcessWorker` unchanged (same pool type, job template, heartbeats, cancellation,
flow-run processes), with one more loop: it calls the worker's own `get_and_submit_flow_runs`
when a run it started ends, when the doorbell rings (deployments/doorbell.py), and when a
run announced for later becomes due. The regular poll (`PREFECT_WORKER_QUERY_SECONDS`) stays as
the safety net and can be long, so a waiting backlog costs the server almost nothing while a
freed slot is taken within a poll's round trip.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import time

import anyio
from prefect.workers.process import ProcessWorker

from reelflow.deployments.doorbell import doorbell_channel, due_time
from reelflow.settings import Settings, get_settings

log = logging.getLogger(__name__)

# Rings closer than this share one poll: during a burst of triggers a worker polls no more often
# than Prefect's default interval would (on SQLite every poll competes with the triggers' writes).
MIN_GAP_S = 2.0
LATEST_WAKE_S = 24 * 3600  # a ring for a run due later than this is left to the regular poll
REDIS_RETRY_S = (1.0, 2.0, 5.0, 10.0, 30.0)


class PromptWorker(ProcessWorker):
    """A process worker that also polls when one of its runs ends or the doorbell rings."""

    def __init__(self, *args, settings: Settings | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._settings = settings
        self._wake: anyio.Event | None = None
        self._wake_at: list[float] = []

    async def setup(self) -> None:
        await super().setup()
        self._wake = anyio.Event()
        scope = anyio.CancelScope()
        self._scheduled_task_scopes.add(scope)  # cancelled by Prefect's teardown
        self._runs_task_group.start_soon(self._prompt_loops, scope)

    def ring(self) -> None:
        """Poll as soon as the last poll's short gap has passed."""
        if self._wake is not None:
            self._wake.set()

    async def run(self, flow_run, configuration, task_status=None):
        """Start the flow-run process as `python -m prefect.engine`, with no supervisor.

        With no command in the job template, Prefect 3.8 starts a workspace supervisor process
        that prepares per-deployment dependencies and then starts the engine: a second Python
        start and Prefect import on the render cores for every reel. reelflow's deployments
        run the installed package (no pull steps, no dependencies to resolve), so the worker
        starts the engine command itself; crashed and cancellation hooks then run in the worker,
        from the flow loaded by its entrypoint.
        """
        configuration._command_configured = True  # the engine command prepare_for_flow_run set
        return await super().run(flow_run, configuration, task_status)

    async def _submit_run_and_capture_errors(self, flow_run, task_status=None):
        try:
            return await super()._submit_run_and_capture_errors(flow_run, task_status)
        finally:
            self.ring()  # the run has ended and its slot is free: take the next one now

    async def _prompt_loops(self, scope: anyio.CancelScope) -> None:
        with scope:
            async with anyio.create_task_group() as loops:
                loops.start_soon(self._poll_when_woken)
                if self._settings is not None and self._settings.redis_url:
                    loops.start_soon(self._listen, self._settings)

    async def _poll_when_woken(self) -> None:
        while True:
            now = time.time()
            self._wake_at = [t for t in self._wake_at if t > now]
            timeout = min(self._wake_at) - now if self._wake_at else None
            with anyio.move_on_after(timeout):
                await self._wake.wait()
            self._wake = anyio.Event()
            try:
                await self.get_and_submit_flow_runs()
            except Exception as exc:  # the regular poll keeps trying on its own schedule
                log.warning("prompt poll failed: %s", exc)
            await anyio.sleep(MIN_GAP_S)

    async def _listen(self, settings: Settings) -> None:
        """Follow the doorbell channel, reconnecting with a bounded backoff."""
        import redis.asyncio as aioredis

        failures = 0
        while True:
            try:
                client = aioredis.Redis.from_url(settings.redis_url, socket_connect_timeout=2.0)
                async with client, client.pubsub() as pubsub:
                    await pubsub.subscribe(doorbell_channel(settings, self._work_pool_name))
                    failures = 0
                    self.ring()  # rings may have been missed while away: look once
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            self._heard(due_time(message.get("data") or b""))
            except Exception as exc:
                delay = REDIS_RETRY_S[min(failures, len(REDIS_RETRY_S) - 1)]
                failures += 1
                log.info("doorbell unavailable (%s); retrying in %.0f s", exc, delay)
                await anyio.sleep(delay)

    def _heard(self, at: float | None) -> None:
        now = time.time()
        if at is not None and now < at < now + LATEST_WAKE_S:
            self._wake_at.append(at + 0.1)  # a hair after: the server sees it due
        self.ring()


def main(argv: list[str] | None = None) -> None:
    """Run a prompt worker for one pool until stopped (as `prefect worker start` does)."""
    from prefect.settings import PREFECT_WORKER_HEARTBEAT_SECONDS, PREFECT_WORKER_PREFETCH_SECONDS
    from prefect.utilities.processutils import setup_signal_handlers_worker

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pool", required=True)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--name", default=None)
    args = parser.parse_args(argv)
    setup_signal_handlers_worker(os.getpid(), "the process worker", print)
    worker = PromptWorker(
        name=args.name,
        work_pool_name=args.pool,
        limit=args.limit,
        prefetch_seconds=PREFECT_WORKER_PREFETCH_SECONDS.value(),
        heartbeat_interval_seconds=int(PREFECT_WORKER_HEARTBEAT_SECONDS.value()),
        settings=get_settings(),
    )
    with contextlib.suppress(KeyboardInterrupt):
        anyio.run(worker.start)


if __name__ == "__main__":
    main()
