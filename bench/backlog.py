"""Backlog benchmark (`bench/load.py --backlog 100`): a burst of reels on the `reelflow up` stack.

For each Prefect database (`--databases sqlite,postgres`): start the stack exactly as
`reelflow up` does (deployments/stack.py: Prefect server, pools, deployments, workers, API; the
store on SQLite under the data folder), with MAX_PARALLEL_VIDEOS=2, then

1. 6 reels at concurrency 2: the reference throughput;
2. the pool closed (limit 0), the burst: N reels from 10 users (3 premium) triggered as fast as
   the API answers, from `burst_clients` threads (10; 1 sends each trigger when the last one
   answered): 50 % standard first, then the premium ones, then the rest; trigger latency
   p50/p99, errors, triggers per second and the CPU each stack process spent per trigger;
3. 30 s with N runs waiting and nothing rendering: CPU of the Prefect server and the workers
   (with `breakdown`: also the empty stack before the burst, and the N waiting with no viewer,
   so no queue-position reads; `worker_query_s` sets the workers' poll interval);
4. the pool opened (limit 2): time to finish all N (throughput vs step 1), WebSocket event
   latency (one viewer per user), premium median finish vs the standard reels triggered before.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg
from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.actions import WorkPoolUpdate
from websockets.sync.client import connect

from bench.common import free_port, percentile, tree_cpu_s
from reelflow.deployments.stack import Stack, StackConfig
from reelflow.settings import Settings
from reelflow.store import Store

SCRIPT = "Backlog reel {n}. Short and quick."
LOW = {"quality": "low", "music_preset": "none", "effects_preset": "none"}
PG = "127.0.0.1:5432"


@dataclass
class Viewer:
    """One user's WebSocket: event latencies and when each run's `completed` arrived."""

    url: str
    latencies_ms: list[float] = field(default_factory=list)
    finished: dict[str, float] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        try:
            self._follow()
        except Exception:
            if not self.stop.is_set():
                raise

    def _follow(self) -> None:
        with connect(self.url, open_timeout=20) as socket:
            while not self.stop.is_set():
                try:
                    raw = socket.recv(timeout=0.5)
                except TimeoutError:
                    continue
                if not raw.startswith("{"):
                    continue
                event = json.loads(raw)
                if "seq" not in event or event.get("snapshot"):
                    continue
                if event.get("timestamp"):
                    sent = datetime.fromisoformat(event["timestamp"])
                    self.latencies_ms.append((datetime.now(UTC) - sent).total_seconds() * 1000)
                if event.get("status") == "completed":
                    self.finished[event["task_id"]] = time.monotonic()


def _pool_limit(api_url: str, limit: int) -> None:
    async def update() -> None:
        async with PrefectClient(api=api_url) as client:
            await client.update_work_pool("cpu", WorkPoolUpdate(concurrency_limit=limit))

    asyncio.run(update())


def _wait_created(api_url: str, reels: int, timeout_s: float = 120) -> float:
    """Wait until the burst's runs exist in Prefect (the API creates them just after it
    answers, api/intake.py); the seconds that took after the last answer."""
    start = time.monotonic()
    body = {"flow_runs": {"state": {"type": {"any_": ["SCHEDULED"]}}},
            "work_pools": {"name": {"any_": ["cpu"]}}}  # fmt: skip
    while time.monotonic() - start < timeout_s:
        count = httpx.post(f"{api_url}/flow_runs/count", json=body, timeout=10).json()
        if count >= reels:
            break
        time.sleep(0.2)
    return time.monotonic() - start


def _wait_all(client_for, runs: list[tuple[str, str]], timeout_s: float) -> list[str]:
    """Poll until every run is terminal; returns the ids that did not complete."""
    deadline = time.monotonic() + timeout_s
    pending = dict(runs)
    failed = []
    while pending and time.monotonic() < deadline:
        for task_id, token in list(pending.items()):
            status = client_for(token).get(f"/api/v1/video/task-status/{task_id}").json()
            if status.get("status") in {"completed", "failed", "crashed", "cancelled"}:
                pending.pop(task_id)
                if status["status"] != "completed":
                    failed.append(task_id)
        time.sleep(1.0)
    return failed + list(pending)


def _reference(database, standard, trigger, project, client_for, figures, log) -> None:
    warm_token = standard[0][1]  # the first reel pays for cold caches
    warm_run = trigger(warm_token, project(warm_token, -1))[1]
    _wait_all(client_for, [(warm_run, warm_token)], 600)
    ref = [(t, project(t, 1000 + i)) for i, (_, t, _) in enumerate(standard[:6])]
    start = time.monotonic()
    ref_runs = [(trigger(t, p)[1], t) for t, p in ref]
    bad = _wait_all(client_for, ref_runs, 900)
    figures["reference_reels_per_min"] = 6 / (time.monotonic() - start) * 60
    rate = figures["reference_reels_per_min"]
    log(f"{database}: 6 reels at concurrency 2: {rate:.1f} reels/min ({len(bad)} lost)")


def _idle_cpu(stack: Stack, seconds: float = 30.0) -> dict[str, float]:
    """Percent of one core each stack process (its whole tree) used over `seconds`."""
    roles = dict(stack.processes)
    before = {name: tree_cpu_s(p.pid) for name, p in roles.items()}
    time.sleep(seconds)
    return {name: (tree_cpu_s(p.pid) - before[name]) / seconds * 100 for name, p in roles.items()}


def _server_and_workers(cpu: dict[str, float]) -> str:
    parts = ", ".join(f"{name} {pct:.1f}" for name, pct in cpu.items())
    total = sum(pct for name, pct in cpu.items() if name != "api")
    return f"Prefect server + workers {total:.1f} % of one core ({parts})"


def run_backlog(
    database: str,
    reels: int,
    log=print,
    *,
    burst_only: bool = False,
    breakdown: bool = False,
    worker_query_s: float | None = None,
    burst_clients: int = 10,
) -> dict[str, float]:
    """One stack on `database` (sqlite | postgres); the figures of steps 1-4 (with
    `burst_only`, step 2 alone: a quick look at trigger latency while tuning it)."""
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="reelflow-backlog-") as tmp:
        prefix = f"bench-backlog-{uuid.uuid4().hex[:8]}"
        os.environ.update(
            REELFLOW_REDIS_KEY_PREFIX=prefix,
            REELFLOW_API_RATE_LIMIT_REELS="0",
            REELFLOW_MAX_QUEUED_PER_USER=str(reels),
            REELFLOW_WS_QUERY_TOKEN="true",  # the viewers authenticate with ?token=
            MAX_PARALLEL_VIDEOS="2",
        )
        settings = Settings(data_dir=Path(tmp) / "data", enable_gpu_acceleration=False)
        db_name = None
        url = None
        if database == "postgres":
            db_name = f"rf_backlog_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(f"postgresql://root@{PG}/test", autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{db_name}"')
            url = f"postgresql+asyncpg://root@{PG}/{db_name}"
        config = StackConfig(
            prefect_port=free_port(), api_port=free_port(), database_url=url, gpu_worker=False
        )
        if worker_query_s is not None:
            config.worker_query_s = worker_query_s
        stack = Stack(settings, config)
        clients: dict[str, httpx.Client] = {}
        base = f"http://127.0.0.1:{config.api_port}"

        def client_for(token: str) -> httpx.Client:
            if token not in clients:
                clients[token] = httpx.Client(
                    base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60
                )
            return clients[token]

        viewers: list[Viewer] = []
        try:
            stack.start(log=lambda line: None)
            users = []
            with Store(settings) as store:
                for n in range(10):
                    plan = "premium" if n < 3 else "standard"
                    user, token = store.create_user(f"u{n}", plan=plan)
                    users.append((user.id, token, user.plan))
            for user_id, token, _ in users:
                viewer = Viewer(f"ws://127.0.0.1:{config.api_port}/ws/{user_id}?token={token}")
                threading.Thread(target=viewer.run, daemon=True).start()
                viewers.append(viewer)

            def project(token: str, n: int) -> str:
                response = client_for(token).post(
                    "/api/v1/projects", data={"title": f"r{n}", "script": SCRIPT.format(n=n)}
                )
                response.raise_for_status()
                return response.json()["id"]

            def trigger(token: str, project_id: str) -> tuple[float, str | None]:
                start = time.perf_counter()
                try:
                    response = client_for(token).post(
                        f"/api/v1/video/generate-advanced/{project_id}", json=LOW
                    )
                except httpx.HTTPError:
                    return time.perf_counter() - start, None
                ms = (time.perf_counter() - start) * 1000
                return ms, response.json()["task_id"] if response.status_code == 202 else None

            # 1. the reference: 6 reels at concurrency 2
            standard = [u for u in users if u[2] == "standard"]
            if not burst_only:
                _reference(database, standard, trigger, project, client_for, figures, log)

            if breakdown:  # the stack's own floor: no run anywhere, viewers connected
                time.sleep(10)
                idle = _idle_cpu(stack)
                figures["empty_cpu_pct"] = sum(v for k, v in idle.items() if k != "api")
                log(f"{database}: empty stack: {_server_and_workers(idle)}")

            # 2. the burst, into closed pools
            _pool_limit(stack.api_url, 0)
            order: list[tuple[str, str]] = []  # (token, plan) in trigger order
            half = reels // 2
            premium = [u for u in users if u[2] == "premium"]
            order += [(standard[i % 7][1], "standard") for i in range(half)]
            order += [(premium[i % 3][1], "premium") for i in range(reels * 3 // 10)]
            order += [(standard[i % 7][1], "standard") for i in range(reels - len(order))]
            projects = [(t, project(t, i), plan) for i, (t, plan) in enumerate(order)]
            roles = dict(stack.processes)
            cpu_before = {name: tree_cpu_s(p.pid) for name, p in roles.items()}
            burst_start = time.monotonic()
            with ThreadPoolExecutor(max_workers=burst_clients) as pool:
                results = list(pool.map(lambda tp: (trigger(tp[0], tp[1]), tp), projects))
            burst_s = time.monotonic() - burst_start
            per_trigger = {name: (tree_cpu_s(p.pid) - cpu_before[name]) / reels * 1000
                           for name, p in roles.items()}  # fmt: skip
            log(
                f"{database}: burst took {burst_s:.1f} s ({reels / burst_s:.1f} triggers/s); CPU "
                "ms per trigger: " + ", ".join(f"{k} {v:.1f}" for k, v in per_trigger.items())
            )
            latencies = [ms for (ms, _), _ in results]
            runs = [(task, tp[0], tp[2]) for (_, task), tp in results]
            errors = sum(1 for task, _, _ in runs if task is None)
            figures.update(
                trigger_p50_ms=statistics.median(latencies),
                trigger_p99_ms=percentile(latencies, 0.99),
                trigger_errors=errors,
            )
            log(f"{database}: burst of {reels} from {burst_clients} clients: trigger p50 "
                f"{figures['trigger_p50_ms']:.0f} ms, p99 {figures['trigger_p99_ms']:.0f} ms, "
                f"{errors} errors")  # fmt: skip
            if burst_only:
                return figures

            # 3. waiting costs nothing
            created_s = _wait_created(stack.api_url, reels - errors)
            log(f"{database}: every run existed {created_s:.1f} s after the last answer")
            time.sleep(5)  # let the burst's own work settle (the server's events of the runs)
            waiting = _idle_cpu(stack)
            figures["waiting_cpu_pct"] = sum(v for k, v in waiting.items() if k != "api")
            log(f"{database}: {reels} waiting, nothing rendering: {_server_and_workers(waiting)}")
            if breakdown:  # the same without viewers: the API reads no queue positions
                for viewer in viewers:
                    viewer.stop.set()
                time.sleep(5)
                alone = _idle_cpu(stack)
                figures["waiting_no_viewers_cpu_pct"] = sum(
                    v for k, v in alone.items() if k != "api"
                )
                log(f"{database}: {reels} waiting, no viewer: {_server_and_workers(alone)}")
                for user_id, token, _ in users:
                    viewer = Viewer(f"ws://127.0.0.1:{config.api_port}/ws/{user_id}?token={token}")
                    threading.Thread(target=viewer.run, daemon=True).start()
                    viewers.append(viewer)

            # 4. open the pool
            _pool_limit(stack.api_url, 2)
            start = time.monotonic()
            bad = _wait_all(client_for, [(t, tok) for t, tok, _ in runs if t], 3600)
            elapsed = time.monotonic() - start
            figures["backlog_reels_per_min"] = (reels - errors) / elapsed * 60
            figures["lost"] = len(bad) + errors
            figures["throughput_ratio"] = (
                figures["backlog_reels_per_min"] / figures["reference_reels_per_min"]
            )
            time.sleep(2)
            finished = {k: v for viewer in viewers for k, v in viewer.finished.items()}
            ws = [ms for viewer in viewers for ms in viewer.latencies_ms]
            figures["ws_p50_ms"] = statistics.median(ws)
            figures["ws_p99_ms"] = percentile(ws, 0.99)
            done = {t: at - start for t, at in finished.items()}
            early = [done[t] for t, _, _ in runs[:half] if t in done]
            prem = [done[t] for t, _, plan in runs if plan == "premium" and t in done]
            figures["standard_first_half_median_s"] = statistics.median(early)
            figures["premium_median_s"] = statistics.median(prem)
            log(f"{database}: {reels} done in {elapsed:.0f} s: "
                f"{figures['backlog_reels_per_min']:.1f} reels/min "
                f"({figures['throughput_ratio']:.2f} of the 6-reel rate), "
                f"{figures['lost']:.0f} lost; WebSocket p50 {figures['ws_p50_ms']:.0f} ms, p99 "
                f"{figures['ws_p99_ms']:.0f} ms; premium (triggered after {half} standard) "
                f"median finish {figures['premium_median_s']:.0f} s vs those standard "
                f"{figures['standard_first_half_median_s']:.0f} s")  # fmt: skip
        finally:
            for viewer in viewers:
                viewer.stop.set()
            for client in clients.values():
                client.close()
            stack.stop(grace_s=5)
            if db_name:
                with psycopg.connect(f"postgresql://root@{PG}/test", autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
    return figures
