"""Work pools and queues: `gpu` and `cpu` process pools, each with `premium` and `standard`.

Queue priority decides which run starts first when a concurrency limit is the bottleneck:
premium (1) beats standard (10).
"""

from __future__ import annotations

import contextlib

from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.actions import DeploymentUpdate, WorkPoolCreate
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

from reelflow.deployments.stack import POOLS

QUEUES = {"premium": 1, "standard": 10}
REEL_DEPLOYMENTS = ("generate-reel/gpu", "generate-reel/cpu")


async def ensure_pools(client: PrefectClient) -> None:
    """Create the process pools and their prioritised queues if they are missing."""
    for pool in POOLS:
        try:
            await client.read_work_pool(pool)
        except ObjectNotFound:
            with contextlib.suppress(ObjectAlreadyExists):  # another process got there first
                await client.create_work_pool(WorkPoolCreate(name=pool, type="process"))
        existing = {q.name for q in await client.read_work_queues(work_pool_name=pool)}
        for queue, priority in QUEUES.items():
            if queue not in existing:
                with contextlib.suppress(ObjectAlreadyExists):
                    await client.create_work_queue(
                        name=queue, priority=priority, work_pool_name=pool
                    )


async def set_reel_concurrency(client: PrefectClient, limit: int) -> None:
    """At most `limit` runs of each reel deployment at once (MAX_PARALLEL_VIDEOS)."""
    for name in REEL_DEPLOYMENTS:
        deployment = await client.read_deployment_by_name(name)
        await client.update_deployment(deployment.id, DeploymentUpdate(concurrency_limit=limit))
