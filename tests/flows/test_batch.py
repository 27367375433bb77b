"""generate-batch on a real temporary Prefect server: what it reports about each child.

Children submitted to a deployment are run here by a stand-in for the worker: a real flow run
with the environment the batch asks the worker for, read back from the API as
`arun_deployment` returns it (no result in memory, only where it was stored).
"""

from __future__ import annotations

import asyncio
import contextvars
from pathlib import Path

import prefect.settings
import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.context import FlowRunContext, get_run_context
from prefect.settings import temporary_settings

from reelflow.flows import batch
from reelflow.flows.batch import BatchItem, generate_batch
from reelflow.flows.reel import ReelOutput
from reelflow.flows.runtime import RunContext
from reelflow.models import parse_spec
from tests.flows.helpers import flow_events

DEPLOYMENT = "generate-reel/stand-in"


@pytest.fixture
def env(monkeypatch, tmp_path, prefix, prefect_server):
    monkeypatch.setenv("REELFLOW_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("REELFLOW_REDIS_KEY_PREFIX", prefix)
    monkeypatch.setenv("REELFLOW_REDIS_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("REELFLOW_PROGRESS_FLUSH_TIMEOUT_S", "20")
    return tmp_path


@flow(name="reel-stand-in")
def reel_stand_in(spec: dict, context: dict) -> ReelOutput:
    """What generate-reel returns, without the minute of work."""
    task_id = str(get_run_context().flow_run.id)
    video = Path("/reels") / task_id / "reel.mp4"
    return ReelOutput(
        task_id=task_id, video=video, poster=video.with_suffix(".jpg"), duration_s=1.0,
        size_bytes=1, encoder="libx264", words=2, timing_method="given", music_preset=None,
    )  # fmt: skip


def worker_stand_in(monkeypatch, *, after_child=None) -> list[str]:
    """Replace `arun_deployment` in the batch; returns the names of the deployments asked for."""
    asked: list[str] = []

    async def run_like_a_worker(name, *, parameters, job_variables=None, **_):
        asked.append(name)
        env = (job_variables or {}).get("env", {})
        updates = {getattr(prefect.settings, key): value for key, value in env.items()}

        def child() -> str:
            with temporary_settings(updates):  # a worker starts the run with this environment
                state = reel_stand_in(**parameters, return_state=True)
            return str(state.state_details.flow_run_id)

        elsewhere = contextvars.copy_context()  # a deployment run is no subflow of the batch
        elsewhere.run(FlowRunContext.__var__.set, None)
        run_id = await asyncio.to_thread(elsewhere.run, child)
        async with get_client() as client:
            flow_run = await client.read_flow_run(run_id)
        if after_child is not None:
            after_child(flow_run)
        return flow_run

    monkeypatch.setattr(batch, "arun_deployment", run_like_a_worker)
    return asked


def run_batch(scripts: list[str]):
    items = [BatchItem(spec=parse_spec({"script": s}), context=RunContext()) for s in scripts]
    state = asyncio.run(
        generate_batch(
            items, RunContext(user_id="u1"), child_deployment=DEPLOYMENT, return_state=True
        )
    )
    return state, str(state.state_details.flow_run_id)


def test_deployed_children_are_reported_with_their_videos(env, monkeypatch, rclient, prefix):
    asked = worker_stand_in(monkeypatch)
    state, task_id = run_batch(["One.", "Two."])
    assert state.is_completed(), state
    output = state.result()
    assert asked == [DEPLOYMENT, DEPLOYMENT]
    assert [c.status for c in output.children] == ["completed", "completed"]
    for child in output.children:
        assert child.video == f"/reels/{child.task_id}/reel.mp4"
    events = flow_events(rclient, prefix, task_id)
    assert [e["details"] for e in events if e["stage"] == "batch"][-1] == "2/2 reels finished"
    assert events[-1]["status"] == "completed"
    # The completion hook read the async batch's result (it used to get a coroutine).
    done = ",".join(c.task_id for c in output.children)
    assert events[-1]["output"] == {"completed": "2", "children": done}


def test_a_child_whose_result_cannot_be_read_is_reported_failed(env, monkeypatch, rclient, prefix):
    def lose_result(flow_run) -> None:
        # the child completed, then its stored result went away (another host, a cleanup)
        if flow_run.state.data is None:
            return  # never stored at all: just as unreadable
        stored = Path(flow_run.state.data.storage_key).name
        files = [f for f in (env / "data" / "results").rglob(stored) if f.is_file()]
        assert files, "the child's result was not in the shared result storage"
        for file in files:
            file.unlink()

    worker_stand_in(monkeypatch, after_child=lose_result)
    state, task_id = run_batch(["Lost."])
    assert state.is_failed(), state
    assert "1 of 1 reels failed" in state.message and "could not be read" in state.message
    events = flow_events(rclient, prefix, task_id)
    assert [e["details"] for e in events if e["stage"] == "batch"][-1] == (
        "1/1 reels finished, 1 failed"
    )
    assert events[-1]["status"] == "failed"
    assert "could not be read" in events[-1]["error"]
