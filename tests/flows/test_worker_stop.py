"""`reelflow worker` stops in bounded time and hands back the reel it was rendering: same run
id, back in its queue; another worker finishes it, and viewers see one `completed`."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from prefect.client.orchestration import PrefectClient

from reelflow.deployments.stack import stop_group
from reelflow.deployments.worker import HANDED_BACK
from reelflow.engine.ffmpeg import probe
from tests.flows.helpers import flow_events

pytestmark = pytest.mark.slow
SCRIPT = (
    "A worker that is told to stop must not lose the reel it is rendering. It freezes, "
    "gives the reel back to the queue, and another worker finishes it from the cache."
)


def _env(api_url: str, tmp_path: Path, prefix: str) -> dict[str, str]:
    return dict(
        os.environ,
        PREFECT_API_URL=api_url,
        PREFECT_SERVER_ALLOW_EPHEMERAL_MODE="false",
        PREFECT_WORKER_QUERY_SECONDS="1",
        PREFECT_WORKER_PREFETCH_SECONDS="1",
        REELFLOW_DATA_DIR=str(tmp_path / "data"),
        REELFLOW_REDIS_KEY_PREFIX=prefix,
        REELFLOW_ENABLE_GPU_ACCELERATION="false",
    )


def _worker(env: dict[str, str], log: Path, grace: float) -> subprocess.Popen:
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "reelflow.cli", "worker", "--pool", "cpu", "--grace",
             str(grace)], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip


def _state(api_url: str, run_id):
    async def read():
        async with PrefectClient(api=api_url) as client:
            return (await client.read_flow_run(run_id)).state

    return asyncio.run(read())


def test_a_stopped_worker_hands_back_its_reel(deployed, tmp_path, rclient, prefix):
    prefect_server = deployed
    env = _env(prefect_server, tmp_path, prefix)
    first = _worker(env, tmp_path / "worker-1.log", grace=0)
    second = None
    try:
        from prefect.deployments import run_deployment

        run = run_deployment(
            "generate-reel/cpu",
            parameters={
                "spec": {"script": SCRIPT, "quality": "medium", "music": {"preset": "none"},
                         "effects": {"preset": "dynamic"}},
                "context": {"user_id": "u-stop"},
            },
            timeout=0,
        )  # fmt: skip
        task_id = str(run.id)
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:  # wait until it renders
            stage = rclient.hget(f"{prefix}:task:{task_id}", "stage")
            if stage == "render":
                break
            assert first.poll() is None, (tmp_path / "worker-1.log").read_text()[-2000:]
            time.sleep(0.2)
        assert stage == "render"
        # the run and its ffmpeg yield the CPU to the API and the server (worker_niceness 10)
        rendering = _processes_of(task_id)
        assert rendering and all(_niceness(pid) == 10 for pid in rendering), rendering
        stopping = time.monotonic()
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=20) == 0
        assert time.monotonic() - stopping < 10
        state = _state(prefect_server, run.id)
        assert state.type.value == "SCHEDULED" and state.name == "Handed back", state
        status = rclient.hgetall(f"{prefix}:task:{task_id}")
        assert status["status"] == "queued" and status["details"] == HANDED_BACK
        video = tmp_path / "data" / "outputs" / task_id / "reel.mp4"
        assert not video.exists()
        # no flow-run process or ffmpeg of the stopped worker is left
        assert not any(
            task_id.encode() in (p / "environ").read_bytes()
            for p in Path("/proc").iterdir()
            if p.name.isdigit() and os.access(p / "environ", os.R_OK) and _safe_read(p / "environ")
        )

        second = _worker(env, tmp_path / "worker-2.log", grace=10)
        deadline = time.monotonic() + 240
        while not _state(prefect_server, run.id).is_final() and time.monotonic() < deadline:
            time.sleep(0.5)
        final = _state(prefect_server, run.id)
        assert final.is_completed(), final
        assert probe(video).video.height == 1280
        events = flow_events(rclient, prefix, task_id)
        assert [e["status"] for e in events].count("completed") == 1
        assert events[-1]["status"] == "completed" and events[-1]["attempt"] == 2
    finally:
        for worker in (first, second):
            if worker is not None and worker.poll() is None:
                stop_group(worker)


def _processes_of(task_id: str) -> list[int]:
    """Pids of the processes whose environment names the flow run (the run and its ffmpeg)."""
    return [
        int(p.name)
        for p in Path("/proc").iterdir()
        if p.name.isdigit() and _safe_read(p / "environ")
        and task_id.encode() in (p / "environ").read_bytes()
    ]  # fmt: skip


def _niceness(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])


def _safe_read(path: Path) -> bool:
    try:
        path.read_bytes()
    except OSError:
        return False
    return True


def test_the_worker_refuses_an_unknown_pool(tmp_path):
    env = dict(os.environ, PREFECT_API_URL="http://127.0.0.1:9/api")
    done = subprocess.run([sys.executable, "-m", "reelflow.cli", "worker", "--pool", "gold"],
                          env=env, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 2 and "--pool: 'gold' is not one of" in done.stderr
