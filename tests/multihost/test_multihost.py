"""reelflow across hosts: A (PostgreSQL, Redis, Prefect server), B and C (cpu workers), D (API),
each a network namespace; B, C and D share the data folder through a mount.

The tests run in order on one cluster, as an operator's day would: a load, a partition, a server
restart under a backlog, a Redis restart under load.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg
import pytest
from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.actions import WorkPoolUpdate

from reelflow.deployments.worker import flow_run_processes
from reelflow.engine.ffmpeg import probe
from tests.flows.helpers import run_ids_of
from tests.multihost.cluster import Cluster
from tests.multihost.netns import unavailable
from tests.reliability.conftest import (
    TERMINAL,
    Viewer,
    contiguous,
    new_project,
    new_user,
    outputs_of,
    render_started,
    trigger,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    why = unavailable()
    if why is not None:
        pytest.skip(f"MULTI-HOST TESTS SKIPPED: cannot create network namespaces here ({why})")
    cluster = Cluster(tmp_path_factory.mktemp("cluster"))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.close()


class HostWatch:
    """Which host runs which flow run: the flow-run processes below each worker, sampled."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.seen: dict[str, set[str]] = {"b": set(), "c": set()}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> HostWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(0.3):
            for label in self.seen:
                self.seen[label] |= runs_on(self.cluster, label)


def runs_on(cluster: Cluster, label: str) -> set[str]:
    """The flow runs whose processes run on a worker host now."""
    name = f"worker-{label}"
    if name not in cluster.processes:
        return set()
    pids = [cluster.processes[name].pid, *cluster.flow_run_pids(name)]
    return {run.flow_run_id for pid in pids for run in flow_run_processes(pid)}


def run_ids(cluster: Cluster, task_ids: list[str]) -> dict[str, str]:
    """Task id -> flow run id (the API creates a task's run just after it answers)."""
    return run_ids_of(task_ids, api_url=cluster.prefect_url, timeout_s=60)


def flow_runs(cluster: Cluster, task_ids: list[str]) -> dict[str, dict]:
    """Task id -> its flow run, as Prefect's API returns it."""
    ids = run_ids(cluster, task_ids)
    response = httpx.post(
        f"{cluster.prefect_url}/flow_runs/filter",
        json={"flow_runs": {"id": {"any_": list(ids.values())}}, "limit": 200},
        timeout=30,
    )
    response.raise_for_status()
    by_run = {run["id"]: run for run in response.json()}
    return {task: by_run[run] for task, run in ids.items() if run in by_run}


def set_pool_limit(cluster: Cluster, limit: int) -> None:
    async def update() -> None:
        async with PrefectClient(api=cluster.prefect_url) as client:
            await client.update_work_pool("cpu", WorkPoolUpdate(concurrency_limit=limit))

    asyncio.run(update())


@pytest.mark.timeout(600)
def test_thirty_reels_on_two_worker_hosts_every_viewer_sees_every_event(cluster):
    users = [new_user(cluster, f"mh-{n}") for n in range(3)]
    viewers = [Viewer(cluster, user).start() for user in users for _ in range(2)]
    time.sleep(2)
    projects = [
        (user, new_project(cluster, user, f"Host reel {n}. Short."))
        for user in users
        for n in range(10)
    ]
    with HostWatch(cluster) as watch, ThreadPoolExecutor(max_workers=10) as pool:
        started = time.monotonic()
        runs = list(pool.map(lambda up: (up[0], trigger(cluster, *up)), projects))
        by_user: dict[str, set[str]] = {}
        for user, task_id in runs:
            by_user.setdefault(user.id, set()).add(task_id)
        try:
            for viewer in viewers:
                viewer.wait_for(by_user[viewer.user.id], timeout_s=500)
        finally:
            for viewer in viewers:
                viewer.stop()
        elapsed = time.monotonic() - started
    print(f"30 reels on hosts B and C in {elapsed:.0f} s")
    ids = [task_id for _, task_id in runs]
    states = flow_runs(cluster, ids)
    assert {run["state_type"] for run in states.values()} == {"COMPLETED"}
    # both worker hosts rendered, and no run ran on both
    flow_run_ids = set(run_ids(cluster, ids).values())
    assert watch.seen["b"] & flow_run_ids and watch.seen["c"] & flow_run_ids, watch.seen
    assert not (watch.seen["b"] & watch.seen["c"] & flow_run_ids)
    for viewer in viewers:
        for task_id in by_user[viewer.user.id]:
            assert contiguous(viewer.sequence(task_id)), (task_id, viewer.sequence(task_id))
            final = [e for e in viewer.events if e["task_id"] == task_id][-1]
            assert final["status"] == "completed"
    # the outputs are on the shared folder, where the API on D serves them from
    for user, task_id in runs[:3]:
        assert outputs_of(cluster.root, task_id) == ["reel.jpg", "reel.mp4"]
        with cluster.client(user.token) as client:
            assert client.get(f"/api/v1/video/{task_id}/download").status_code == 200


@pytest.mark.timeout(600)
def test_partitioned_worker_host_its_reel_finishes_on_the_other_once(cluster):
    cluster.stop("worker-c")  # the reel must start on B
    user = new_user(cluster, "partition")
    viewer = Viewer(cluster, user).start()
    script = "This reel is rendering on host B when its network cable is pulled out. " * 3
    task_id = trigger(cluster, user, new_project(cluster, user, script), quality="medium")
    run_id = run_ids(cluster, [task_id])[task_id]
    try:
        render_started(cluster, user.token, task_id)
        assert run_id in runs_on(cluster, "b")
        cluster.net.cut("b")
        cut_at = time.monotonic()
        cluster.start_worker("c")
        # three missed heartbeats crash the run, the API resubmits it, C renders it
        status = cluster.wait_for_status(user.token, task_id, {"completed"}, timeout_s=420)
        print(f"finished on C {time.monotonic() - cut_at:.0f} s after B was cut off")
        assert status["status"] == "completed"
        before = (cluster.root / "data" / "outputs" / task_id / "reel.mp4").stat()
        cluster.net.restore("b")
        # B's attempt comes back: it must find itself fenced off, publish nothing, say nothing
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and run_id in runs_on(cluster, "b"):
            time.sleep(1)
        time.sleep(3)
    finally:
        viewer.stop()
    run = flow_runs(cluster, [task_id])[task_id]
    assert run["state_type"] == "COMPLETED" and run["run_count"] >= 2
    states = cluster.task_states(run_id)
    assert states["prepare-voice"][-1] == "Cached", states  # C took B's finished steps
    assert outputs_of(cluster.root, task_id) == ["reel.jpg", "reel.mp4"]  # nothing partial
    after = (cluster.root / "data" / "outputs" / task_id / "reel.mp4").stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert probe(cluster.root / "data" / "outputs" / task_id / "reel.mp4").duration_s > 5
    finals = [e for e in viewer.events if e["task_id"] == task_id and e["status"] == "completed"]
    assert len({e["event_id"] for e in finals}) == 1, finals
    assert contiguous(viewer.sequence(task_id)), viewer.sequence(task_id)


@pytest.mark.timeout(900)
def test_prefect_server_restart_with_fifty_queued_loses_nothing_runs_nothing_twice(cluster):
    cluster.ensure_workers()
    users = [new_user(cluster, f"backlog-{n}") for n in range(5)]
    set_pool_limit(cluster, 0)  # a backlog: every reel waits in its queue
    try:
        projects = [(u, new_project(cluster, u, f"Queued {n}.")) for u in users for n in range(10)]
        with ThreadPoolExecutor(max_workers=10) as pool:
            runs = list(pool.map(lambda up: (up[0], trigger(cluster, *up)), projects))
        ids = [task_id for _, task_id in runs]
        assert {r["state_type"] for r in flow_runs(cluster, ids).values()} == {"SCHEDULED"}
        cluster.stop("prefect")
        time.sleep(2)
        cluster.start_prefect()
        assert len(flow_runs(cluster, ids)) == 50
    finally:
        set_pool_limit(cluster, cluster.max_parallel)
    for user, task_id in runs:
        cluster.wait_for_status(user.token, task_id, TERMINAL, timeout_s=600)
    states = flow_runs(cluster, ids)
    assert {r["state_type"] for r in states.values()} == {"COMPLETED"}
    assert {r["run_count"] for r in states.values()} == {1}, "a run ran twice"
    for task_id in ids:
        assert outputs_of(cluster.root, task_id) == ["reel.jpg", "reel.mp4"]
    with psycopg.connect(
        f"postgresql://root@{cluster.a.address}:5432/prefect", connect_timeout=5
    ) as conn:
        renders = conn.execute(
            "SELECT count(*) FROM task_run WHERE flow_run_id = ANY(%s)"
            " AND name LIKE 'render-reel%%' AND state_type = 'COMPLETED'",
            ([uuid.UUID(i) for i in run_ids(cluster, ids).values()],),
        ).fetchone()[0]
    assert renders == 50  # each reel rendered once


@pytest.mark.timeout(600)
def test_redis_restart_with_reels_running_on_both_hosts_viewers_catch_up(cluster):
    cluster.ensure_workers()
    user = new_user(cluster, "redis-mh")
    viewer = Viewer(cluster, user).start()
    time.sleep(1)
    script = "Redis on host A restarts while both worker hosts are rendering this reel."
    ids = [
        trigger(cluster, user, new_project(cluster, user, f"{script} {n}"), quality="medium")
        for n in range(2)
    ]
    try:
        with HostWatch(cluster) as watch:
            for task_id in ids:
                render_started(cluster, user.token, task_id)
            assert watch.seen["b"] and watch.seen["c"], watch.seen  # both hosts busy
            cluster.redis.stop()
            time.sleep(3)
            cluster.redis.start()
        viewer.wait_for(set(ids), timeout_s=300)
    finally:
        viewer.stop()
    for task_id in ids:
        assert contiguous(viewer.sequence(task_id)), viewer.sequence(task_id)
        assert [e for e in viewer.events if e["task_id"] == task_id][-1]["status"] == "completed"
        status = cluster.wait_for_status(user.token, task_id, TERMINAL, timeout_s=30)
        assert status["status"] == "completed" and status["progress"] == 100
