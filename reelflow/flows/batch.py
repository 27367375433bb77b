"""The `generate-batch` flow: many reels as child flow runs.

Deployed children are all created at once and wait in their reel pool's queue like any other
reel (the pool's limit decides how many render at once); the batch then follows them with one
request every few seconds, whatever their number. Children run in this process (no deployment)
take at most `max_parallel` threads at once.
"""

from __future__ import annotations

import asyncio
import contextvars

from prefect import flow
from prefect.context import FlowRunContext, get_run_context
from prefect.deployments import arun_deployment
from pydantic import BaseModel, Field

from reelflow.flows import hooks
from reelflow.flows.reel import generate_reel
from reelflow.flows.runtime import RunContext, run_progress
from reelflow.models import ReelSpec
from reelflow.settings import Settings, get_settings
from reelflow.tasks.storage import result_storage


class BatchItem(BaseModel):
    """One reel of a batch: its spec and who it is for."""

    spec: ReelSpec
    context: RunContext = Field(default_factory=RunContext)


CHILD_POLL_S = 3.0
RESUBMIT_WAIT_S = 120.0  # how long a crashed child may take to be resubmitted


class ChildResult(BaseModel):
    task_id: str | None
    status: str
    video: str | None = None
    error: str | None = None


class BatchOutput(BaseModel):
    task_id: str
    children: list[ChildResult]

    @property
    def completed(self) -> int:
        return sum(child.status == "completed" for child in self.children)


@flow(
    name="generate-batch",
    on_running=[hooks.on_running],
    on_completion=[hooks.on_completion],
    on_failure=[hooks.on_failure],
    on_crashed=[hooks.on_crashed],
    on_cancellation=[hooks.on_cancellation],
)
async def generate_batch(
    items: list[BatchItem],
    context: RunContext | None = None,
    max_parallel: int | None = None,
    child_deployment: str | None = None,
    child_work_queue: str | None = None,
) -> BatchOutput:
    """Run every item as a child `generate-reel` run, at most `max_parallel` at once.

    With `child_deployment` (e.g. ``generate-reel/cpu``) children are submitted to that
    deployment, so workers anywhere take them; otherwise they run here, in threads.
    A failed child does not stop the others; the batch fails if any child failed.
    """
    context = context or RunContext()
    settings = get_settings()
    flow_run = get_run_context().flow_run
    task_id = context.task_id or str(flow_run.id)
    progress = run_progress(task_id, context, settings, attempt=flow_run.run_count or 1)
    limit = asyncio.Semaphore(max(1, max_parallel or settings.max_parallel_videos))
    finished = failed = 0

    def done(result: ChildResult) -> ChildResult:
        nonlocal finished, failed
        finished += 1
        failed += result.status != "completed"
        progress.reporter.milestone(
            "batch",
            100.0 * finished / len(items),
            f"{finished}/{len(items)} reels finished" + (f", {failed} failed" if failed else ""),
        )
        return result

    def child_context(item: BatchItem) -> RunContext:
        # a child reports as its own flow run, never as the batch's task
        user_id = item.context.user_id or context.user_id
        return item.context.model_copy(update={"user_id": user_id, "task_id": None})

    async def inline(item: BatchItem) -> ChildResult:
        async with limit:
            return done(await _inline(item.spec, child_context(item)))

    if child_deployment:
        env = {"env": await _persisted_result_env(settings)}
        created = [
            await arun_deployment(
                child_deployment,
                work_queue_name=child_work_queue,
                parameters={
                    "spec": item.spec.model_dump(mode="json"),
                    "context": child_context(item).model_dump(mode="json"),
                },
                job_variables=env,
                timeout=0,
            )
            for item in items
        ]
        await _ring_workers(settings, {run.work_pool_name for run in created})
        children = await _follow([run.id for run in created], done)
    else:
        children = await asyncio.gather(*(inline(item) for item in items))
    output = BatchOutput(task_id=task_id, children=list(children))
    failed = [c for c in children if c.status != "completed"]
    if failed:
        raise RuntimeError(f"{len(failed)} of {len(items)} reels failed: {failed[0].error}")
    return output


async def _ring_workers(settings: Settings, pools: set[str | None]) -> None:
    """The children wait in their reel pool: its workers look now, not at their next poll."""
    import redis.asyncio as aioredis

    from reelflow.deployments.doorbell import ring

    client = aioredis.Redis.from_url(settings.redis_url, socket_connect_timeout=1.0)
    async with client:
        for pool in pools:
            await ring(client, settings, pool)


async def _inline(spec: ReelSpec, context: RunContext) -> ChildResult:
    # The child runs in a thread with a copy of this context, so Prefect links it as a subflow.
    ctx = contextvars.copy_context()
    state = await asyncio.to_thread(ctx.run, generate_reel, spec, context, return_state=True)
    return await _child(state)


async def _follow(run_ids: list, done, poll_s: float = CHILD_POLL_S) -> list[ChildResult]:
    """Wait for every child run to finish, reading all their states in one request per poll."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    results: dict = {}
    async with get_client() as client:
        while len(results) < len(run_ids):
            waiting = [r for r in run_ids if r not in results]
            runs = await client.read_flow_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=waiting)),
                limit=len(waiting),
            )
            for run in runs:
                if run.state is not None and run.state.is_final() and not _may_resume(run):
                    results[run.id] = done(await _child(run.state, str(run.id)))
            if len(results) < len(run_ids):
                await asyncio.sleep(poll_s)
    return [results[r] for r in run_ids]


def _may_resume(run) -> bool:
    """A crashed child that the crash recovery will resubmit (deployments/recovery.py) is not
    finished yet; give recovery a bounded time to act."""
    from datetime import UTC, datetime

    from reelflow.deployments.recovery import MAX_ATTEMPTS

    if not run.state.is_crashed() or (run.run_count or 0) >= MAX_ATTEMPTS:
        return False
    crashed_at = run.state.timestamp
    return (datetime.now(UTC) - crashed_at).total_seconds() < RESUBMIT_WAIT_S


async def _persisted_result_env(settings: Settings) -> dict[str, str]:
    """Environment that makes a deployed child keep its flow result where this batch reads it.

    A flow's result is not persisted by default, so a state read back from the API has none;
    the child writes it to the shared result storage (the one every worker host must share).
    A process worker merges this into the deployment's own ``env``.
    """
    # result_storage() saves a block through Prefect's sync-or-async API, which inside this
    # async flow would return an un-awaited coroutine: call it from a thread, outside the run.
    outside = contextvars.copy_context()
    outside.run(FlowRunContext.__var__.set, None)
    storage = await asyncio.to_thread(outside.run, result_storage, settings)
    # _saved() names the block; Prefect takes a default storage block by slug only
    slug = f"{storage.get_block_type_slug()}/{storage._block_document_name}"
    return {
        "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "true",
        "PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK": slug,
    }


async def _child(state, task_id: str | None = None) -> ChildResult:
    if task_id is None and state is not None and state.state_details.flow_run_id:
        task_id = str(state.state_details.flow_run_id)
    if state is not None and state.is_completed():
        try:
            result = await state.aresult()
        except Exception as exc:  # e.g. kept on another host, deleted, or never persisted
            return ChildResult(
                task_id=task_id,
                status="failed",
                error=f"the run completed but its result could not be read: {exc!r}",
            )
        return ChildResult(task_id=result.task_id, status="completed", video=str(result.video))
    error = None
    if state is not None:
        exc = await state.aresult(raise_on_failure=False)
        error = str(exc) if isinstance(exc, BaseException) else state.message
    status = state.type.value.lower() if state is not None else "failed"
    return ChildResult(task_id=task_id, status=status, error=error)
