"""The intake answers a trigger before its flow run exists, creates the runs of triggers that
arrive together in one request, keeps one task per idempotency key, creates what a stopped
process left pending exactly once, and ends a run Prefect refuses as a failed task: against the
real Prefect server, store and Redis."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import redis.asyncio as aioredis
from prefect.client.orchestration import PrefectClient

from reelflow.api.creation import Deployment, RunCreator
from reelflow.api.intake import Intake, creation_request, task_tag
from reelflow.api.relay import LifecycleWriter
from reelflow.progress.reader import get_status, record_queued

LATER = datetime.now(UTC) + timedelta(days=1)  # nothing picks these runs up
HOLD_S = 5.0


def _scenario(api_url: str, settings, store, body, groups: list[int], hold_s: float = 0):
    """Run `body(make_intake, prefect, name, deployment)` on a probe deployment; `groups`
    receives the size of each bulk creation, each held `hold_s` before it leaves."""

    async def watch(request) -> None:
        if request.url.path.endswith("/create_flow_run/bulk"):
            groups.append(len(json.loads(request.content)))
            await asyncio.sleep(hold_s)

    async def scenario():
        hooks = {"event_hooks": {"request": [watch]}}
        redis = aioredis.Redis.from_url(settings.redis_url)
        writer = LifecycleWriter(settings, redis)
        async with PrefectClient(api=api_url, httpx_settings=hooks) as prefect:
            flow_id = await prefect.create_flow_from_name(f"probe-{uuid.uuid4().hex[:8]}")
            flow = await prefect.read_flow(flow_id)
            deployment_id = await prefect.create_deployment(
                flow_id=flow_id, name="probe", work_pool_name="cpu", work_queue_name="standard"
            )

            async def get_store():
                return store

            def make_intake() -> Intake:  # one API process's
                return Intake(
                    prefect, RunCreator(prefect), get_store, redis, settings, lifecycle=writer
                )

            try:
                return await body(make_intake, prefect, f"{flow.name}/probe", Deployment(
                    deployment_id, "cpu"))  # fmt: skip
            finally:
                await prefect.delete_deployment(deployment_id)  # and its scheduled runs
                writer.close()
                await redis.aclose()

    return asyncio.run(scenario())


def _tagged(api_url: str, task_ids: list[str]) -> dict[str, dict]:
    """Task id -> the flow run tagged with it, for the runs that exist now."""
    response = httpx.post(
        f"{api_url}/flow_runs/filter",
        json={"flow_runs": {"tags": {"any_": [task_tag(t) for t in task_ids]}}, "limit": 200},
    )
    response.raise_for_status()
    return {t: run for run in response.json() for t in task_ids if task_tag(t) in run["tags"]}


def _accept(intake: Intake, user_id: str, name: str, key: str, *, n: int = 0, **options):
    options = {"client_key": False, "queue": "standard", **options}
    return intake.accept(
        user_id,
        key=key,
        deployment=name,
        parameters={"n": n, "context": {"user_id": user_id}},
        scheduled_time=LATER,
        kind="reel",
        project_id=None,
        recorded={},
        details="waiting for a worker",
        **options,
    )


def test_triggers_are_answered_before_their_runs_exist_then_created_together(
    deployed, store, api_settings, alice
):
    groups: list[int] = []
    run = uuid.uuid4().hex[:8]

    async def body(make_intake, prefect, name, deployment):
        intake = make_intake()
        queues = sorted(q.name for q in await prefect.read_work_queues(work_pool_name="cpu"))
        accepted = await asyncio.gather(
            *(
                _accept(intake, alice.id, name, f"{run}-{n}", n=n, queue=queues[n % len(queues)])
                for n in range(8)
            )
        )
        ids = [a.task_id for a in accepted]
        # answered, while the first creation is still held on its way to the server
        at_answer = {
            "pending": [store.find_task(t).pending for t in ids],
            "runs": await asyncio.to_thread(_tagged, deployed, ids),
            "statuses": [
                (await get_status(intake.redis, intake.settings, t))["status"] for t in ids
            ],
        }
        for task_id in ids:
            assert await intake.created(task_id, 60)
        return accepted, queues, at_answer, await asyncio.to_thread(_tagged, deployed, ids)

    accepted, queues, at_answer, runs = _scenario(
        deployed, api_settings, store, body, groups, hold_s=HOLD_S
    )
    ids = [a.task_id for a in accepted]
    assert all(a.new and a.status == "queued" for a in accepted)
    assert at_answer["pending"] == [True] * 8 and at_answer["runs"] == {}
    assert at_answer["statuses"] == ["queued"] * 8  # viewers see it queued at once
    # the first trigger's run alone, then the seven that arrived meanwhile in one request
    assert sum(groups) == 8 and max(groups) >= 4 and 0 not in groups, groups
    for n, task_id in enumerate(ids):
        run = runs[task_id]
        assert run["parameters"] == {"n": n, "context": {"user_id": alice.id, "task_id": task_id}}
        assert (
            run["idempotency_key"] == task_id and run["work_queue_name"] == queues[n % len(queues)]
        )
        assert accepted[n].work_queue == queues[n % len(queues)]
        task = store.find_task(task_id)
        assert task.run_id == run["id"] and not task.pending and task.creation is None


def test_one_task_per_key_and_a_fresh_one_after_a_failure(deployed, store, api_settings, alice):
    key = uuid.uuid4().hex[:8]

    async def body(make_intake, prefect, name, deployment):
        intake = make_intake()
        first = await _accept(intake, alice.id, name, f"{key}-derived")
        again = await _accept(intake, alice.id, name, f"{key}-derived")
        racers = [make_intake() for _ in range(3)]  # three API processes
        racing = await asyncio.gather(*(_accept(r, alice.id, name, f"{key}-race") for r in racers))
        for racer in racers:
            await racer.created(racing[0].task_id, 60)
        own = await _accept(intake, alice.id, name, f"{key}-own", client_key=True)
        for task in (first, own):  # both fail
            await intake.created(task.task_id, 60)
            await intake.lifecycle.write(task.task_id, "failed", event_id=uuid.uuid4().hex,
                                         message="boom")  # fmt: skip
        fresh = await _accept(intake, alice.id, name, f"{key}-derived")
        kept = await _accept(intake, alice.id, name, f"{key}-own", client_key=True)
        await intake.created(fresh.task_id, 60)
        ids = [first.task_id, racing[0].task_id, fresh.task_id]
        return (
            first,
            again,
            racing,
            own,
            fresh,
            kept,
            await asyncio.to_thread(_tagged, deployed, ids),
        )

    first, again, racing, own, fresh, kept, runs = _scenario(
        deployed, api_settings, store, body, groups=[]
    )
    assert first.new and not again.new and again.task_id == first.task_id
    assert len({r.task_id for r in racing}) == 1 and sum(r.new for r in racing) == 1
    # a derived key whose task failed starts a fresh task; a client's own key keeps its task
    assert fresh.new and fresh.task_id != first.task_id
    assert not kept.new and kept.task_id == own.task_id and kept.status == "failed"
    assert len(runs) == 3  # one run each


def test_a_task_left_pending_is_created_once_by_any_process(deployed, store, api_settings, alice):
    task_id = str(uuid.uuid4())

    async def body(make_intake, prefect, name, deployment):
        # accepted by a process that died before it created the run
        creation = creation_request(name, deployment, task_id, {"n": 1}, queue="standard",
                                    scheduled_time=LATER)  # fmt: skip
        store.intake_task(alice.id, task_id, run_key=task_id, creation=creation)
        one, two = make_intake(), make_intake()  # two API processes start
        counts = await asyncio.gather(one.sweep(older_than_s=0), two.sweep(older_than_s=0))
        for intake in (one, two):
            await intake.created(task_id, 60)
        later = await one.sweep(older_than_s=0)  # nothing is left pending
        return counts, later, await asyncio.to_thread(_tagged, deployed, [task_id])

    counts, later, runs = _scenario(deployed, api_settings, store, body, groups=[])
    assert counts == [1, 1] and later == 0 and len(runs) == 1
    run = runs[task_id]
    assert run["parameters"]["context"] == {"task_id": task_id}
    task = store.find_task(task_id)
    assert task.run_id == run["id"] and not task.pending


def test_a_run_prefect_refuses_ends_as_a_failed_task(deployed, store, api_settings, alice):
    task_id = str(uuid.uuid4())

    async def body(make_intake, prefect, name, deployment):
        intake = make_intake()
        creation = creation_request(name, deployment, task_id, {}, queue="standard",
                                    scheduled_time=None)  # fmt: skip
        creation["job_variables"] = {"env": "not an object"}  # the pool's schema says no
        store.intake_task(alice.id, task_id, run_key=task_id, creation=creation)
        await record_queued(intake.redis, api_settings, task_id, alice.id)
        intake.submit(task_id, creation)
        await intake.created(task_id, 60)
        return await get_status(intake.redis, api_settings, task_id)

    status = _scenario(deployed, api_settings, store, body, groups=[])
    assert status["status"] == "failed" and "could not be created" in status["error"], status
    assert "env" in status["error"]
    assert not store.find_task(task_id).pending and _tagged(deployed, [task_id]) == {}
