"""Waiting reels, through the API and a real Prefect server and worker: premium first, then
round robin between users, positions and expected starts while they wait."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.actions import WorkPoolUpdate

from tests.api.helpers import make_project
from tests.flows.helpers import run_ids_of

API = "/api/v1"

pytestmark = pytest.mark.slow


def _pool_limit(api_url: str, limit: int) -> None:
    async def update() -> None:
        async with PrefectClient(api=api_url) as client:
            await client.update_work_pool("cpu", WorkPoolUpdate(concurrency_limit=limit))

    asyncio.run(update())


def _states(api_url: str, task_ids: list[str]) -> dict[str, str]:
    return {t: run.state.type.value for t, run in _runs(api_url, task_ids).items()}


def _runs(api_url: str, task_ids: list[str]) -> dict:
    """Task id -> its flow run."""
    run_ids = run_ids_of(task_ids, api_url=api_url)

    async def read() -> dict:
        async with PrefectClient(api=api_url) as client:
            return {t: await client.read_flow_run(uuid.UUID(run_ids[t])) for t in task_ids}

    return asyncio.run(read())


def _trigger(client, user, project: str) -> str:
    response = client.post(
        f"{API}/video/generate-advanced/{project}",
        headers=user.headers,
        json={"quality": "low", "music_preset": "none", "effects_preset": "none"},
    )
    assert response.status_code == 202, response.text
    return response.json()["task_id"]


def test_premium_first_then_every_users_first_reel_then_the_rest(
    client, alice, bob, premium, worker, deployed
):
    _pool_limit(deployed, 0)  # hold everything in the queues
    runs: dict[str, str] = {}
    try:
        for name in ("a1", "a2", "a3"):
            runs[name] = _trigger(client, alice, make_project(client, alice, script=f"{name}."))
        runs["b1"] = _trigger(client, bob, make_project(client, bob, script="b1."))
        runs["p1"] = _trigger(client, premium, make_project(client, premium, script="p1."))
        expected = ["p1", "a1", "b1", "a2", "a3"]

        # while they wait: positions in the order the server will hand them out
        owner = {"a1": alice, "a2": alice, "a3": alice, "b1": bob, "p1": premium}
        deadline = time.monotonic() + 30
        while True:
            statuses = {
                n: client.get(f"{API}/video/task-status/{r}", headers=owner[n].headers).json()
                for n, r in runs.items()
            }
            queues = {n: s["queue"] for n, s in statuses.items()}
            # The runs are created just after the answers (api/intake.py): a reel asked about
            # before its run existed has no position yet, and the others' positions are from
            # a read without it until the next read (queue_status_refresh_s).
            known = all(q is not None for q in queues.values())
            if known and sorted(q["position"] for q in queues.values()) == [1, 2, 3, 4, 5]:
                break
            if time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert {s["status"] for s in statuses.values()} == {"queued"}
        assert sorted(expected, key=lambda n: queues[n]["position"]) == expected
        assert [queues[n]["position"] for n in expected] == [1, 2, 3, 4, 5]
        assert all(queues[n]["waiting"] == 5 for n in expected)
        starts = [queues[n]["expected_start"] for n in expected]
        assert starts == sorted(starts)
        assert (
            queues["a2"]["work_queue"] == "standard-2" and queues["p1"]["work_queue"] == "premium"
        )

        # the worker takes them one slot at a time, in that order
        _pool_limit(deployed, 1)
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            runs_now = _runs(deployed, [runs[n] for n in expected])
            if sum(r.state.type.value == "COMPLETED" for r in runs_now.values()) >= 2:
                break
            time.sleep(0.5)
        by_task = {runs[n]: n for n in expected}
        order = sorted(
            (t for t, r in runs_now.items() if r.start_time is not None),
            key=lambda t: runs_now[t].start_time,
        )
        started = [runs_now[t] for t in order]
        assert [by_task[t] for t in order] == expected[: len(started)]
        assert len(started) >= 2
        for first, second in itertools.pairwise(started):
            assert first.end_time is not None and second.start_time >= first.end_time  # one slot
    finally:
        _pool_limit(deployed, 2)
        for name, run in runs.items():
            client.post(f"{API}/video/task/{run}/cancel", headers=owner[name].headers)


def test_a_waiting_reel_gets_its_position_on_the_websocket(client, alice, worker, deployed):
    _pool_limit(deployed, 0)
    try:
        with client.websocket_connect(f"/ws/{alice.id}?token={alice.token}") as socket:
            run = _trigger(client, alice, make_project(client, alice, script="Waiting."))
            deadline = time.monotonic() + 30
            message = None
            while time.monotonic() < deadline:
                text = socket.receive_text()
                if text.startswith("{") and '"type": "queue"' in text:
                    import json

                    message = json.loads(text)
                    if message["task_id"] == run:
                        break
            assert message is not None and message["task_id"] == run
            assert message["position"] == 1 and message["waiting"] >= 1
            assert message["expected_start"]
    finally:
        _pool_limit(deployed, 2)
        client.post(f"{API}/video/task/{run}/cancel", headers=alice.headers)


def test_a_scheduled_reel_joins_the_queue_at_its_time_in_its_place(
    client, alice, premium, worker, deployed
):
    _pool_limit(deployed, 0)  # a backlog that does not move
    runs: dict[str, str] = {}
    owner = {"a1": alice, "a2": alice, "p1": premium}
    try:
        for name in ("a1", "a2"):
            runs[name] = _trigger(client, alice, make_project(client, alice, script=f"{name}."))
        at = datetime.now(UTC) + timedelta(seconds=15)  # far enough ahead on a busy machine
        response = client.post(
            f"{API}/video/generate-advanced/{make_project(client, premium, script='Later.')}",
            headers=premium.headers,
            json={"quality": "low", "music_preset": "none", "scheduled_time": at.isoformat()},
        )
        assert response.status_code == 202, response.text
        runs["p1"] = response.json()["task_id"]

        def queue_of(name: str) -> dict | None:
            url = f"{API}/video/task-status/{runs[name]}"
            return client.get(url, headers=owner[name].headers).json()["queue"]

        before, deadline = None, time.monotonic() + 3  # the snapshot is refreshed every second
        while before is None and time.monotonic() < deadline:
            before = queue_of("p1")
            time.sleep(0.2)
        assert before is not None and before["position"] is None  # not due yet: no place
        assert datetime.fromisoformat(before["expected_start"]) >= at - timedelta(seconds=1)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            spot = queue_of("p1")
            if spot is not None and spot["position"] is not None:
                break
            time.sleep(0.5)
        # a worker takes runs due within its poll interval: a place that early is right
        assert datetime.now(UTC) >= at - timedelta(seconds=4)
        assert spot["position"] == 1  # due: ahead of the standard backlog, as premium
        assert queue_of("a1")["position"] == 2

        # the board places a run due within a worker poll; the worker takes it once it is due
        time.sleep(max(0.0, (at - datetime.now(UTC)).total_seconds()) + 0.5)
        _pool_limit(deployed, 1)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            states = _states(deployed, list(runs.values()))
            if any(s != "SCHEDULED" for s in states.values()):
                break
            time.sleep(0.2)
        assert states[runs["p1"]] != "SCHEDULED", states
        assert states[runs["a1"]] == "SCHEDULED" and states[runs["a2"]] == "SCHEDULED"
    finally:
        _pool_limit(deployed, 2)
        for name, run in runs.items():
            client.post(f"{API}/video/task/{run}/cancel", headers=owner[name].headers)
