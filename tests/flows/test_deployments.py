"""Deployments from prefect.yaml run on real process workers; `reelflow up` starts and stops."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from prefect.client.orchestration import PrefectClient

from reelflow.deployments.pools import ensure_pools
from reelflow.deployments.queues import queue_priorities
from reelflow.deployments.stack import stop_group, wait_for_health
from reelflow.engine.ffmpeg import probe
from tests.flows.helpers import flow_events
from tests.redis_server import free_port

PREFECT = str(Path(sys.executable).parent / "prefect")


def child_env(api_url: str, tmp_path: Path, prefix: str) -> dict[str, str]:
    return dict(
        os.environ,
        PREFECT_API_URL=api_url,
        PREFECT_SERVER_ALLOW_EPHEMERAL_MODE="false",
        PREFECT_WORKER_QUERY_SECONDS="1",
        PREFECT_WORKER_PREFETCH_SECONDS="1",
        REELFLOW_DATA_DIR=str(tmp_path / "data"),
        REELFLOW_REDIS_KEY_PREFIX=prefix,
    )


def test_cpu_deployment_runs_through_a_process_worker(deployed, tmp_path, rclient, prefix):
    prefect_server = deployed
    env = child_env(prefect_server, tmp_path, prefix)

    async def bootstrap() -> None:
        async with PrefectClient(api=prefect_server) as client:
            await ensure_pools(client, max_parallel=2, tiers=3)
            await ensure_pools(client, max_parallel=2, tiers=3)  # idempotent
            wanted = queue_priorities(3)
            queues = {q.name: q for q in await client.read_work_queues("cpu")}
            assert {name: queues[name].priority for name in wanted} == wanted
            assert wanted["premium-3"] < wanted["standard"]  # every premium tier goes first
            assert all(queues[name].concurrency_limit == 2 for name in wanted)
            assert queues["default"].priority > max(wanted.values())
            pool = await client.read_work_pool("cpu")
            assert pool.concurrency_limit == 2
            # only `env` is declared: the server validates each new run against this schema
            assert set(pool.base_job_template["variables"]["properties"]) == {"env"}
            assert pool.base_job_template["job_configuration"] == {"env": "{{ env }}"}

    asyncio.run(bootstrap())
    worker = subprocess.Popen(
        [PREFECT, "worker", "start", "--pool", "cpu"], env=env, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        from prefect.deployments import run_deployment

        flow_run = run_deployment(
            "generate-reel/cpu",
            parameters={
                "spec": {"script": "Worker run.", "quality": "low", "music": {"preset": "none"}},
                "context": {"user_id": "u-worker"},
            },
            timeout=180,
        )
        assert flow_run.state.is_completed(), flow_run.state
        events = flow_events(rclient, prefix, str(flow_run.id))
        assert events[-1]["status"] == "completed"
        video = Path(events[-1]["output"]["video"])
        assert video.is_relative_to(tmp_path / "data") and probe(video).video.width == 540
    finally:
        stop_group(worker)


def test_reelflow_up_starts_the_stack_and_ctrl_c_stops_it(tmp_path):
    port = free_port()
    env = dict(os.environ, REELFLOW_DATA_DIR=str(tmp_path / "data"))
    env.pop("PREFECT_API_URL", None)
    up = subprocess.Popen(
        [sys.executable, "-m", "reelflow.cli", "up", "--no-api", "--prefect-port", str(port)],
        env=env, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    try:
        wait_for_health(f"http://127.0.0.1:{port}/api/health", timeout_s=120)
        deadline = time.monotonic() + 180
        deployments: list[str] = []
        while time.monotonic() < deadline and len(deployments) < 4:
            response = httpx.post(f"http://127.0.0.1:{port}/api/deployments/filter", json={})
            deployments = [d["name"] for d in response.json()] if response.is_success else []
            time.sleep(1)
        assert {"gpu", "cpu", "batch", "daily-demo"} <= set(deployments)
        workers = []
        while time.monotonic() < deadline and len(workers) < 2:
            workers = [
                w
                for pool in ("cpu", "batch")  # no GPU here: no gpu worker
                for w in httpx.post(
                    f"http://127.0.0.1:{port}/api/work_pools/{pool}/workers/filter", json={}
                ).json()
            ]
            time.sleep(1)
        assert len(workers) >= 2
    finally:
        up.send_signal(signal.SIGINT)
        output, _ = up.communicate(timeout=60)
    assert "stopping" in output
    assert "Prefect runs on SQLite" in output and "--database-url" in output  # says what it costs
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2)
