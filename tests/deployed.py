"""prefect.yaml deployed on the session's Prefect server, and queues an earlier test left clean.

Every test that starts a worker shares the session's server and its `cpu` pool, whose
concurrency limit is MAX_PARALLEL_VIDEOS (2). A run an earlier test left `Running` (its worker
stopped mid-run) holds a slot for good, and two of them stop the pool: later runs wait
`Scheduled` forever. Tests that start a worker therefore begin with `cancel_unfinished_runs`.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import StateType
from prefect.states import Cancelled

from reelflow.deployments.pools import ensure_pools
from reelflow.deployments.stack import REPO_ROOT

PREFECT = str(Path(sys.executable).parent / "prefect")
UNFINISHED = [
    StateType.SCHEDULED,
    StateType.PENDING,
    StateType.RUNNING,
    StateType.CANCELLING,
    StateType.PAUSED,
]


def deploy(api_url: str) -> None:
    """Pools, queues and every deployment of prefect.yaml on the server at `api_url`."""

    async def pools() -> None:
        async with PrefectClient(api=api_url) as client:
            await ensure_pools(client)

    asyncio.run(pools())
    subprocess.run(
        [PREFECT, "--no-prompt", "deploy", "--all"],
        cwd=REPO_ROOT,
        env=dict(os.environ, PREFECT_API_URL=api_url),
        check=True,
        capture_output=True,
        timeout=180,
    )


def cancel_unfinished_runs(api_url: str) -> int:
    """Cancel every run not yet final (left by an earlier test); how many there were."""

    async def cancel() -> int:
        async with PrefectClient(api=api_url) as client:
            runs = await client.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    state=FlowRunFilterState(type=FlowRunFilterStateType(any_=UNFINISHED))
                )
            )
            for run in runs:
                await client.set_flow_run_state(
                    run.id, Cancelled(message="left unfinished by an earlier test"), force=True
                )
            return len(runs)

    return asyncio.run(cancel())
