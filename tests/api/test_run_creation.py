"""Runs asked for together are created in one request to Prefect, each as its own; one run the
server refuses fails alone: against the real server. (The intake that asks for them:
tests/api/test_intake.py.)"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.actions import DeploymentFlowRunCreate
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.client.schemas.objects import StateType
from prefect.states import Scheduled, to_state_create

from reelflow.api.creation import Deployment, RunCreator, RunRefused

LATER = datetime.now(UTC) + timedelta(days=1)  # nothing picks these runs up


async def _read(prefect: PrefectClient, ids: list) -> dict:
    """The runs as the server keeps them, by id."""
    found = await prefect.read_flow_runs(
        flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=ids)), limit=len(ids)
    )
    return {r.id: r for r in found}


def _scenario(api_url: str, body, groups: list[int] | None = None, hold_groups_s: float = 0):
    """Run `body(prefect, deployment_name, deployment, requests)` on a probe deployment;
    `groups` receives the number of runs of each bulk creation request, and a request for more
    than one run is held `hold_groups_s` before it leaves (a group still in flight)."""
    requests: Counter[str] = Counter()

    async def count(request) -> None:
        path = request.url.path.split("/api", 1)[1]
        requests[f"{request.method} {path}"] += 1
        if groups is not None and path.endswith("/create_flow_run/bulk"):
            size = len(json.loads(request.content))
            groups.append(size)
            if size > 1:
                await asyncio.sleep(hold_groups_s)

    async def scenario():
        hooks = {"event_hooks": {"request": [count]}}
        async with PrefectClient(api=api_url, httpx_settings=hooks) as prefect:
            flow_id = await prefect.create_flow_from_name(f"probe-{uuid.uuid4().hex[:8]}")
            flow = await prefect.read_flow(flow_id)
            deployment_id = await prefect.create_deployment(
                flow_id=flow_id, name="probe", work_pool_name="cpu", work_queue_name="standard"
            )
            try:
                requests.clear()
                deployment = Deployment(deployment_id, "cpu")
                return await body(prefect, f"{flow.name}/probe", deployment, requests)
            finally:
                await prefect.delete_deployment(deployment_id)  # and its scheduled runs

    return asyncio.run(scenario())


def test_a_run_the_server_refuses_fails_alone(deployed):
    def run(key: str, **extra) -> DeploymentFlowRunCreate:
        return DeploymentFlowRunCreate(
            state=to_state_create(Scheduled(scheduled_time=LATER)), idempotency_key=key, **extra
        )

    async def body(prefect, name, deployment, requests):
        creator = RunCreator(prefect, slots=1)
        good = [run(f"good{n}") for n in range(3)]
        bad = run("bad", job_variables={"env": "not an object"})  # the pool's schema says no
        return await asyncio.gather(
            *(creator.create(deployment, r) for r in [good[0], bad, *good[1:]]),
            return_exceptions=True,
        )

    results = _scenario(deployed, body)
    assert isinstance(results[1], RunRefused) and "env" in str(results[1])
    good = [r for i, r in enumerate(results) if i != 1]
    assert len({r.id for r in good}) == 3


def test_a_lone_trigger_is_a_group_of_one(deployed):
    async def body(prefect, name, deployment, requests):
        creator = RunCreator(prefect, slots=1)
        solo = DeploymentFlowRunCreate(
            state=to_state_create(Scheduled(scheduled_time=LATER)), idempotency_key="solo"
        )
        first = await creator.create(deployment, solo)
        return first, Counter(requests)

    groups: list[int] = []
    first, requests = _scenario(deployed, body, groups)
    assert first.state_type == StateType.SCHEDULED
    bulk = [k for k in requests if k.endswith("/create_flow_run/bulk")]
    # one request (again if SQLite refused it under load), nothing read back
    assert len(bulk) == 1 and sum(requests.values()) == requests[bulk[0]]
    assert groups and set(groups) == {1}, groups


@pytest.mark.parametrize("slots", [1, 3])
def test_every_trigger_of_a_burst_gets_its_own_run(deployed, slots):
    async def body(prefect, name, deployment, requests):
        creator = RunCreator(prefect, slots=slots)
        bodies = [
            DeploymentFlowRunCreate(
                parameters={"n": n},
                state=to_state_create(Scheduled(scheduled_time=LATER)),
                idempotency_key=f"burst-{n}",
            )
            for n in range(40)
        ]
        runs = await asyncio.gather(*(creator.create(deployment, b) for b in bodies))
        stored = await _read(prefect, [r.id for r in runs])
        return [stored[r.id] for r in runs]

    groups: list[int] = []
    # The big group is held in flight while the lone leaders' slots come free: its members that
    # get one must wait for its answer, not send a group of their own.
    runs = _scenario(deployed, body, groups, hold_groups_s=0.5)
    assert [r.parameters["n"] for r in runs] == list(range(40))
    assert len({r.id for r in runs}) == 40
    # Grouped, not one request per run. The count of requests is not the measure: on SQLite a
    # busy machine refuses runs of concurrent groups ("database is locked") and they are sent
    # again, in smaller groups.
    assert max(groups) >= 40 - slots - 1, groups
    assert 0 not in groups, groups  # a group still in flight is not sent again, empty
