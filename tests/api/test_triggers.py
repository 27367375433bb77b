"""Starting runs without a worker: queues, idempotency, schedules, cancel, limits, relay."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from prefect.client.orchestration import PrefectClient
from prefect.states import Crashed

from reelflow.api.app import create_app
from reelflow.deployments.doorbell import doorbell_channel, due_time
from tests.api.helpers import follow, make_project
from tests.flows.helpers import run_id_of

API = "/api/v1"
LATER = (datetime.now(UTC) + timedelta(days=1)).isoformat()


def flow_run(api_url: str, task_id: str):
    """The flow run of an API task (created just after the API answered)."""
    run_id = uuid.UUID(run_id_of(task_id, api_url=api_url))

    async def read():
        async with PrefectClient(api=api_url) as prefect:
            return await prefect.read_flow_run(run_id)

    return asyncio.run(read())


def wait_for_status(client, user, task_id: str, status: str, timeout_s: float = 30) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        body = client.get(f"{API}/video/task-status/{task_id}", headers=user.headers).json()
        if body.get("status") == status or time.monotonic() > deadline:
            return body
        time.sleep(0.2)


def test_scheduled_run_waits_then_cancels(client, alice, deployed, rclient, api_settings):
    project_id = make_project(client, alice)
    url = f"{API}/video/generate-advanced/{project_id}"
    doorbell = rclient.pubsub()
    doorbell.subscribe(doorbell_channel(api_settings, "cpu"))
    with client.websocket_connect(f"/ws/{alice.id}?token={alice.token}") as socket:
        response = client.post(
            url, headers=alice.headers, json={"quality": "low", "scheduled_time": LATER}
        )
        assert response.status_code == 202, response.text
        # the workers are told when it becomes due (deployments/doorbell.py)
        rings = [doorbell.get_message(timeout=2.0) for _ in range(2)]
        doorbell.close()
        data = next(m["data"] for m in rings if m and m["type"] == "message")
        assert due_time(data) == datetime.fromisoformat(LATER).timestamp()
        started = response.json()
        task_id = started["task_id"]
        assert started["status"] == "queued" and started["work_queue"] == "standard"
        assert started["websocket_url"].endswith(f"/ws/{alice.id}")
        queued = follow(socket, task_id, until={"queued"})[-1]
        assert queued["seq"] == 1 and "scheduled for" in queued["details"]
        run = flow_run(deployed, task_id)
        assert run.state.is_scheduled() and run.work_queue_name == "standard"
        assert run.parameters["context"]["user_id"] == alice.id

        status = client.get(f"{API}/video/task-status/{task_id}", headers=alice.headers).json()
        assert status["status"] == "queued" and status["scheduled_time"].startswith(LATER[:16])

        cancel = client.post(f"{API}/video/task/{task_id}/cancel", headers=alice.headers)
        assert cancel.status_code == 202 and cancel.json()["status"] == "cancelled"
        assert follow(socket, task_id, until={"cancelled"})[-1]["status"] == "cancelled"
    assert flow_run(deployed, task_id).state.is_cancelled()
    assert wait_for_status(client, alice, task_id, "cancelled")["status"] == "cancelled"
    again = client.post(f"{API}/video/task/{task_id}/cancel", headers=alice.headers)
    assert again.status_code == 409 and again.json()["field"] == "task_id"


def test_a_cancel_right_after_the_answer_waits_for_the_run(client, alice, deployed):
    """The answer comes before the run exists (api/intake.py): a cancel sent at once waits
    for the run and cancels it; nothing is left to start later."""
    project_id = make_project(client, alice)
    url = f"{API}/video/generate-advanced/{project_id}"
    for _ in range(3):  # the cancel lands before, during or after the creation
        body = {"scheduled_time": LATER, "quality": "low"}
        task_id = client.post(url, headers=alice.headers, json=body).json()["task_id"]
        cancel = client.post(f"{API}/video/task/{task_id}/cancel", headers=alice.headers)
        assert cancel.status_code == 202, cancel.text
        assert cancel.json()["status"] == "cancelled"
        assert flow_run(deployed, task_id).state.is_cancelled()
        status = client.get(f"{API}/video/task-status/{task_id}", headers=alice.headers).json()
        assert status["status"] == "cancelled"
        # a new trigger of the same render is a fresh task (the cancelled one stays cancelled)
        project_id = make_project(client, alice)
        url = f"{API}/video/generate-advanced/{project_id}"


def test_premium_users_go_to_the_premium_queue(client, premium, deployed):
    project_id = make_project(client, premium)
    response = client.post(
        f"{API}/video/generate-advanced/{project_id}",
        headers=premium.headers,
        json={"scheduled_time": LATER},
    )
    assert response.status_code == 202 and response.json()["work_queue"] == "premium"
    task_id = response.json()["task_id"]
    assert flow_run(deployed, task_id).work_queue_name == "premium"
    client.post(f"{API}/video/task/{task_id}/cancel", headers=premium.headers)


def test_same_request_or_key_returns_the_same_run(client, alice):
    project_id = make_project(client, alice)
    url = f"{API}/video/generate-advanced/{project_id}"
    body = {"quality": "low", "scheduled_time": LATER}
    first = client.post(url, headers=alice.headers, json=body).json()["task_id"]
    assert client.post(url, headers=alice.headers, json=body).json()["task_id"] == first
    other = client.post(url, headers=alice.headers, json={**body, "quality": "medium"})
    assert other.json()["task_id"] != first
    keyed = {**alice.headers, "Idempotency-Key": "order-17"}
    k1 = client.post(url, headers=keyed, json=body).json()["task_id"]
    assert client.post(url, headers=keyed, json=body).json()["task_id"] == k1 != first
    # the same key for a different request is refused, not answered with the old run
    reused = client.post(url, headers=keyed, json={**body, "platform": "tiktok"})
    assert reused.status_code == 422, reused.text
    # a cancelled run is not handed back for a derived key: asking again starts a new one
    client.post(f"{API}/video/task/{first}/cancel", headers=alice.headers)
    fresh = client.post(url, headers=alice.headers, json=body).json()["task_id"]
    assert fresh != first
    for task_id in (fresh, other.json()["task_id"], k1):
        client.post(f"{API}/video/task/{task_id}/cancel", headers=alice.headers)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"quality": "8k"}, "quality"),
        ({"subtitle_animation": "spin"}, "subtitle_animation"),
        ({"music_volume": 3}, "music_volume"),
        ({"music_preset": "custom"}, "music_preset"),  # the project has no uploaded track
        ({"wave_settings": {"speed": 1}}, "wave_settings"),
        ({"colour": "red"}, "colour"),
        ({"scheduled_time": "2999-01-01T00:00:00Z"}, "scheduled_time"),
        ({"scheduled_time": "tomorrow"}, "scheduled_time"),
    ],
)
def test_bad_render_settings_are_named(client, alice, body, field):
    project_id = make_project(client, alice)
    response = client.post(
        f"{API}/video/generate-advanced/{project_id}", headers=alice.headers, json=body
    )
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field


def test_rate_limit_answers_429_with_retry_after(deployed, api_settings, api_config, alice):
    config = replace(api_config, rate_limit_reels=2, rate_limit_window_s=3600)
    with TestClient(create_app(api_settings, config=config)) as limited:
        project_id = make_project(limited, alice)
        url = f"{API}/video/generate-advanced/{project_id}"
        started = []
        for quality in ("low", "medium"):
            response = limited.post(
                url, headers=alice.headers, json={"quality": quality, "scheduled_time": LATER}
            )
            assert response.status_code == 202
            started.append(response.json()["task_id"])
        response = limited.post(url, headers=alice.headers, json={"quality": "high"})
        assert response.status_code == 429 and response.json()["field"] == "rate_limit"
        assert 0 < int(response.headers["Retry-After"]) <= 3600
        for task_id in started:
            limited.post(f"{API}/video/task/{task_id}/cancel", headers=alice.headers)


def test_cors_and_trusted_hosts_come_from_settings(deployed, api_settings, api_config):
    config = replace(
        api_config, cors_origins=["http://viewer.test"], trusted_hosts=["testserver", "127.0.0.1"]
    )
    with TestClient(create_app(api_settings, config=config)) as strict:
        preflight = strict.options(
            f"{API}/me",
            headers={
                "Origin": "http://viewer.test",
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "Authorization",
            },
        )
        assert preflight.headers["access-control-allow-origin"] == "http://viewer.test"
        other = strict.get(f"{API}/video/platforms", headers={"Origin": "http://evil.test"})
        assert "access-control-allow-origin" not in other.headers
        assert (
            strict.get(f"{API}/video/platforms", headers={"Host": "evil.test"}).status_code == 400
        )


def test_crash_reported_only_by_prefect_reaches_viewers(client, alice, deployed):
    """A run that crashes where no hook can run (here: set Crashed by hand) still ends."""
    project_id = make_project(client, alice)
    response = client.post(
        f"{API}/video/generate-advanced/{project_id}",
        headers=alice.headers,
        json={"scheduled_time": LATER, "platform": "tiktok"},
    )
    task_id = response.json()["task_id"]
    run_id = uuid.UUID(run_id_of(task_id, api_url=deployed))

    async def crash() -> None:
        async with PrefectClient(api=deployed) as prefect:
            await prefect.set_flow_run_state(run_id, Crashed(message="host lost"), force=True)

    with client.websocket_connect(f"/ws/{alice.id}?token={alice.token}") as socket:
        asyncio.run(crash())
        crashed = follow(socket, task_id, until={"crashed"}, timeout_s=60)[-1]
    assert crashed["error"] == "host lost" and crashed["seq"] == 2
    status = wait_for_status(client, alice, task_id, "crashed")
    assert status["status"] == "crashed" and status["error"] == "host lost"


def test_other_users_runs_look_missing(client, alice, bob):
    project_id = make_project(client, alice)
    task_id = client.post(
        f"{API}/video/generate-advanced/{project_id}",
        headers=alice.headers,
        json={"scheduled_time": LATER, "quality": "ultra"},
    ).json()["task_id"]
    for method, url in (
        ("GET", f"{API}/video/task-status/{task_id}"),
        ("POST", f"{API}/video/task/{task_id}/cancel"),
        ("GET", f"{API}/video/{task_id}/download"),
        ("GET", f"{API}/video/task-status/not-a-run-id"),
    ):
        response = client.request(method, url, headers=bob.headers)
        assert response.status_code == 404 and response.json()["field"] == "task_id", url
    with client.websocket_connect(f"/ws/{alice.id}?token={bob.token}") as socket:
        message = socket.receive()
        assert message["type"] == "websocket.close" and message["code"] == 4404
    client.post(f"{API}/video/task/{task_id}/cancel", headers=alice.headers)


def test_a_remembered_deployment_id_survives_a_redeploy(deployed):
    """The intake remembers each deployment's id (one request to Prefect per group of runs);
    a task accepted before the deployment was deleted and deployed again under a new id is
    created from the new one."""
    from reelflow.api.creation import RunCreator
    from reelflow.api.intake import Intake, creation_request

    later = datetime.now(UTC) + timedelta(days=1)  # nothing picks these runs up

    async def scenario() -> None:
        async with PrefectClient(api=deployed) as prefect:
            flow_id = await prefect.create_flow_from_name(f"probe-{uuid.uuid4().hex[:8]}")
            flow = await prefect.read_flow(flow_id)
            first_id = await prefect.create_deployment(
                flow_id=flow_id, name="probe", work_pool_name="cpu", work_queue_name="standard"
            )
            name = f"{flow.name}/probe"
            intake = Intake(prefect, RunCreator(prefect), store=None, redis=None, settings=None)

            async def accepted():  # what the store keeps for a task, until its run exists
                task_id = str(uuid.uuid4())
                found = await intake.deployment(name)
                return creation_request(name, found, task_id, {}, queue="standard",
                                        scheduled_time=later)  # fmt: skip

            one = await intake._create_once(await accepted())
            assert (await prefect.read_flow_run(one.id)).deployment_id == first_id
            assert intake.deployments[name].id == first_id
            pending = await accepted()  # accepted with the first id ...
            await prefect.delete_deployment(first_id)
            second_id = await prefect.create_deployment(
                flow_id=flow_id, name="probe", work_pool_name="cpu", work_queue_name="standard"
            )
            assert second_id != first_id
            two = await intake._create_once(pending)  # ... created from the second
            assert (await prefect.read_flow_run(two.id)).deployment_id == second_id
            assert intake.deployments[name].id == second_id
            await prefect.delete_deployment(second_id)  # and its scheduled runs

    asyncio.run(scenario())
