"""`reelflow worker` polls when it has reason to: a ring (a new run, a run due later) or the end
of one of its runs, so its regular poll can be long. Here that poll is 60 s: every start below
within a few seconds came from a ring or a freed slot, not from the poll."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prefect.client.orchestration import PrefectClient

from reelflow.deployments.doorbell import due_time, ring_message, ring_sync
from reelflow.deployments.stack import stop_group
from reelflow.settings import Settings

pytestmark = pytest.mark.slow
SPEC = {"script": "Ring the bell.", "voice": "espeak:en-us", "quality": "low",
        "music": {"preset": "none"}, "effects": {"preset": "none"}}  # fmt: skip
POLL_S = 60


def _env(api_url: str, tmp_path: Path, prefix: str) -> dict[str, str]:
    return dict(
        os.environ,
        PREFECT_API_URL=api_url,
        PREFECT_SERVER_ALLOW_EPHEMERAL_MODE="false",
        PREFECT_WORKER_QUERY_SECONDS=str(POLL_S),
        PREFECT_WORKER_PREFETCH_SECONDS="1",
        REELFLOW_DATA_DIR=str(tmp_path / "data"),
        REELFLOW_REDIS_KEY_PREFIX=prefix,
        REELFLOW_ENABLE_GPU_ACCELERATION="false",
        MAX_PARALLEL_VIDEOS="1",
    )


def _runs(api_url: str, run_ids: list) -> dict:
    async def read() -> dict:
        async with PrefectClient(api=api_url) as client:
            return {r: await client.read_flow_run(r) for r in run_ids}

    return asyncio.run(read())


def _taken_at(api_url: str, run_id) -> datetime:
    """When a worker took the run (its `Pending` state; the process starts after that)."""

    async def read() -> datetime:
        async with PrefectClient(api=api_url) as client:
            states = await client.read_flow_run_states(run_id)
            return min(s.timestamp for s in states if s.type.value == "PENDING")

    return asyncio.run(read())


def _wait(api_url: str, run_ids: list, done, timeout_s: float) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        runs = _runs(api_url, run_ids)
        if done(runs) or time.monotonic() > deadline:
            return runs
        time.sleep(0.2)


def test_ring_message_round_trip():
    at = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    assert due_time(ring_message(at)) == at.timestamp()
    assert due_time(ring_message()) is None
    assert due_time(b"not json") is None


def test_a_ring_a_freed_slot_and_a_due_time_start_runs_without_waiting_for_the_poll(
    deployed, tmp_path, rclient, prefix
):
    prefect_server = deployed
    env = _env(prefect_server, tmp_path, prefix)
    settings = Settings(redis_key_prefix=prefix)
    log = tmp_path / "worker.log"
    with open(log, "ab") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "reelflow.cli", "worker", "--pool", "cpu"],
            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        from prefect.deployments import run_deployment

        def create(**kwargs):
            return run_deployment(
                "generate-reel/cpu", parameters={"spec": SPEC}, timeout=0, **kwargs
            ).id

        time.sleep(8)  # the worker's start-up poll has passed: from here only rings help
        assert worker.poll() is None, log.read_text()[-2000:]
        # 1. Two runs created, one ring: the first starts at once; the slot is 1, so the
        # second starts when the first ends, with no ring and no poll.
        first, second = create(), create()
        rung = time.monotonic()
        ring_sync(settings, "cpu")
        runs = _wait(prefect_server, [first], lambda r: r[first].state.type.value != "SCHEDULED",
                     timeout_s=20)  # fmt: skip
        assert runs[first].state.type.value != "SCHEDULED", log.read_text()[-2000:]
        assert time.monotonic() - rung < 10

        def all_final(r: dict) -> bool:
            return all(x.state.is_final() for x in r.values())

        runs = _wait(prefect_server, [first, second], all_final, timeout_s=50)
        assert all(r.state.is_completed() for r in runs.values()), runs
        gap = (_taken_at(prefect_server, second) - runs[first].end_time).total_seconds()
        assert gap < 5, gap  # taken when the slot freed, not at the next poll

        # 2. A run due in 6 s, announced with its time: it starts when due, not before.
        at = datetime.now(UTC) + timedelta(seconds=6)
        later = create(scheduled_time=at)
        ring_sync(settings, "cpu", at=at)
        runs = _wait(prefect_server, [later], lambda r: r[later].state.type.value != "SCHEDULED",
                     timeout_s=25)  # fmt: skip
        assert runs[later].state.type.value != "SCHEDULED"
        taken = _taken_at(prefect_server, later)
        assert at - timedelta(seconds=1.5) <= taken <= at + timedelta(seconds=5), (at, taken)
        # leave no run holding a pool slot for the next test
        runs = _wait(prefect_server, [later], all_final, timeout_s=60)
        assert runs[later].state.is_completed(), runs
    finally:
        stop_group(worker)
