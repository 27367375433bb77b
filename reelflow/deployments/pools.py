"""Work pools and queues: `gpu` and `cpu` process pools, each with the reel queues of `queues`.

MAX_PARALLEL_VIDEOS is each pool's concurrency limit: renders at once per pool, whatever the
number of worker hosts serving it (each worker also runs at most that many, `--limit`). A pool
limit (not a deployment limit) is what keeps waiting free: the server hands a polling worker only
as many scheduled runs as the pool has free slots, so surplus runs stay `Scheduled` in their
queue. A deployment limit instead moves every waiting run through `AwaitingConcurrencySlot`
every few seconds (shared/PREFECT-NOTES.md: 73 % of a core for 80 waiting runs).

Each queue also gets the same limit: the server's query takes at most a queue's limit of runs
from each queue before applying the pool's, so a long queue costs no more to poll than a short one.

The pools' job template declares only the job variable reelflow uses (`env`). The server checks
every new flow run's job variables against the pool's schema, and checks that schema itself
first: with the process worker's full template that was ~45 % of the server's CPU per created
run (py-spy, a 40-reel burst); with `env` alone it is a sixth of that. The template's other
fields (command, working folder, labels, output streaming) keep the worker's defaults.
"""

from __future__ import annotations

import contextlib

from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.actions import DeploymentUpdate, WorkPoolCreate, WorkPoolUpdate
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

from reelflow.deployments.queues import DEFAULT_TIERS, PREFECT_DEFAULT_QUEUE, queue_priorities
from reelflow.deployments.stack import BATCH_POOL, POOLS, REEL_POOLS

REEL_DEPLOYMENTS = ("generate-reel/gpu", "generate-reel/cpu")


def job_template() -> dict:
    """Prefect's process-worker job template, with only the `env` job variable declared."""
    from prefect.workers.process import ProcessWorker

    default = ProcessWorker.get_default_base_job_template()
    env = default["variables"]["properties"]["env"]
    # the server refuses a template naming undeclared variables; the rest keep their defaults
    return {
        "job_configuration": {"env": default["job_configuration"]["env"]},
        "variables": {"type": "object", "properties": {"env": env}},
    }


async def ensure_pools(
    client: PrefectClient,
    *,
    max_parallel: int = 2,
    max_batches: int = 8,
    tiers: int = DEFAULT_TIERS,
) -> None:
    """Create or update the pools, their concurrency limits and their prioritised queues.

    The reel pools take `max_parallel` reels at once; the batch pool `max_batches` batch runs
    (they only wait for their children, which queue in a reel pool like any reel).
    """
    priorities = queue_priorities(tiers)
    template = job_template()
    for pool in POOLS:
        limit = max_batches if pool == BATCH_POOL else max_parallel
        try:
            await client.read_work_pool(pool)
        except ObjectNotFound:
            with contextlib.suppress(ObjectAlreadyExists):  # another process got there first
                create = WorkPoolCreate(
                    name=pool, type="process", concurrency_limit=limit, base_job_template=template
                )
                await client.create_work_pool(create)
        await client.update_work_pool(
            pool, WorkPoolUpdate(concurrency_limit=limit, base_job_template=template)
        )
        existing = {q.name: q for q in await client.read_work_queues(work_pool_name=pool)}
        # Prefect keeps priorities unique by shifting others: park its default queue last first.
        default = existing.get(PREFECT_DEFAULT_QUEUE)
        if default is not None and default.priority <= len(priorities):
            await client.update_work_queue(default.id, priority=len(priorities) + 1)
        for name, priority in sorted(priorities.items(), key=lambda item: item[1]):
            queue = existing.get(name)
            if queue is None:
                with contextlib.suppress(ObjectAlreadyExists):
                    await client.create_work_queue(
                        name=name,
                        priority=priority,
                        concurrency_limit=limit,
                        work_pool_name=pool,
                    )
            elif queue.priority != priority or queue.concurrency_limit != limit:
                await client.update_work_queue(queue.id, priority=priority, concurrency_limit=limit)


async def set_reel_concurrency(client: PrefectClient, limit: int) -> None:
    """At most `limit` reels at once per reel pool (MAX_PARALLEL_VIDEOS), queues included.

    Also clears a deployment-level limit left by an older reelflow, which would put waiting
    runs back on the `AwaitingConcurrencySlot` treadmill.
    """
    for pool in REEL_POOLS:
        with contextlib.suppress(ObjectNotFound):
            await client.update_work_pool(pool, WorkPoolUpdate(concurrency_limit=limit))
            for queue in await client.read_work_queues(work_pool_name=pool):
                if queue.name != PREFECT_DEFAULT_QUEUE and queue.concurrency_limit != limit:
                    await client.update_work_queue(queue.id, concurrency_limit=limit)
    for name in REEL_DEPLOYMENTS:
        with contextlib.suppress(ObjectNotFound):
            deployment = await client.read_deployment_by_name(name)
            if deployment.global_concurrency_limit is not None:
                await client.update_deployment(
                    deployment.id, DeploymentUpdate(concurrency_limit=None)
                )
