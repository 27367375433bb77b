"""Waiting reels, through the API and a real Prefect server and worker: premium first, then
round robin between users, positions and expected starts while they wait."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.actions import WorkPoolUpdate

from tests.api.helpers import make_project

API = "/api/v1"

pytestmark = pytest.mark.slow


def _pool_limit(api_url: str, limit: int) -> None:
    async def update() -> None:
        async with PrefectClient(api=api_url) as client:
            await client.update_work_pool("cpu", WorkPoolUpdate(concurrency_limit=limit))

    asyncio.run(update())


def _states(api_url: str, run_ids: list[str]) -> dict[str, str]:
    async def read() -> dict[str, str]:
        async with PrefectClient(api=api_url) as client:
            return {r: (await client.read_flow_run(uuid.UUID(r))).state.type.value for r in run_ids}

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
            if all(q is not None for q in queues.values()) or time.monotonic() > deadline:
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
        taken: list[str] = []
        deadline = time.monotonic() + 120
        while len(taken) < 3 and time.monotonic() < deadline:
            states = _states(deployed, [runs[n] for n in expected if n not in taken])
            started = [n for n in expected if n not in taken and states[runs[n]] != "SCHEDULED"]
            assert len(started) <= 1, started  # one slot: never two at once
            if started:
                taken.append(started[0])
                cancel = client.post(
                    f"{API}/video/task/{runs[started[0]]}/cancel", headers=owner[started[0]].headers
                )
                assert cancel.status_code in (202, 409), cancel.text
                while _states(deployed, [runs[started[0]]])[runs[started[0]]] in (
                    "PENDING", "RUNNING", "CANCELLING"
                ):  # fmt: skip
                    time.sleep(0.2)
            time.sleep(0.2)
        assert taken == expected[:3]
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
