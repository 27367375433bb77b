"""A whole reelflow stack of real processes on loopback, for reliability tests.

Prefect server on a fresh PostgreSQL database, the API (uvicorn) on a PostgreSQL store, process
workers, and a durable throwaway Redis that tests may stop and restart. Every process is in its
own process group and is stopped (SIGINT, then SIGKILL) when the stack closes.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg

from reelflow.deployments.stack import bootstrap, stop_group, wait_for_health
from reelflow.settings import Settings
from tests.redis_server import ThrowawayRedis, free_port

PG = "127.0.0.1:5432"
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
BIN = Path(sys.executable).parent


def descendants(pid: int) -> list[int]:
    """Every process below `pid`, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat") as fh:
                    ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def create_database(prefix: str) -> str:
    """A new, empty PostgreSQL database (its name)."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(f"postgresql://root@{PG}/test", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name


def drop_database(name: str) -> None:
    with psycopg.connect(f"postgresql://root@{PG}/test", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Stack:
    """The processes of one reliability test module and where they listen."""

    root: Path
    max_parallel: int = 2
    redis: ThrowawayRedis = field(init=False)
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    prefect_port: int = field(default_factory=free_port)
    api_port: int = field(default_factory=free_port)
    databases: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.redis = ThrowawayRedis(self.root / "redis", durable=True)
        self.prefect_db = create_database("rf_prefect")
        self.store_db = create_database("rf_store")
        self.databases += [self.prefect_db, self.store_db]

    @property
    def prefect_url(self) -> str:
        return f"http://127.0.0.1:{self.prefect_port}/api"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def ws_base(self) -> str:
        return f"ws://127.0.0.1:{self.api_port}"

    @property
    def store_url(self) -> str:
        return f"postgresql+psycopg://root@{PG}/{self.store_db}"

    def settings(self) -> Settings:
        return Settings(
            data_dir=self.root / "data",
            database_url=self.store_url,
            redis_url=self.redis.url,
            max_parallel_videos=self.max_parallel,
            enable_gpu_acceleration=False,
            api_rate_limit_reels=0,
        )

    def env(self) -> dict[str, str]:
        """Environment shared by the API, the workers and their flow runs."""
        return dict(
            os.environ,
            PREFECT_API_URL=self.prefect_url,
            PREFECT_HOME=str(self.root / "prefect-home"),
            PREFECT_SERVER_ALLOW_EPHEMERAL_MODE="false",
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            PREFECT_SERVER_DEPLOYMENTS_CONCURRENCY_SLOT_WAIT_SECONDS="2",
            PREFECT_WORKER_QUERY_SECONDS="1",
            PREFECT_WORKER_PREFETCH_SECONDS="1",
            PREFECT_LOGGING_LEVEL="WARNING",
            REELFLOW_DATA_DIR=str(self.root / "data"),
            REELFLOW_DATABASE_URL=self.store_url,
            REELFLOW_REDIS_URL=self.redis.url,
            REELFLOW_ENABLE_GPU_ACCELERATION="false",
            REELFLOW_WS_QUERY_TOKEN="true",  # its sockets authenticate with ?token=
            # the load test watches each user's reels from 10 sockets (the default allows 5)
            REELFLOW_WS_MAX_PER_USER="20",
            REELFLOW_API_RATE_LIMIT_REELS="0",
            # small caps, so "too big" can be tested without moving gigabytes
            REELFLOW_MAX_UPLOAD_MB="4",
            REELFLOW_API_MAX_REQUEST_MB="10",
            MAX_PARALLEL_VIDEOS=str(self.max_parallel),
        )

    # -- processes ---------------------------------------------------------------------

    def start(self, workers: int = 1) -> None:
        self.redis.start()
        self.start_prefect()
        bootstrap(self.prefect_url, self.settings(), self.env(), log=lambda line: None)
        self.start_api()
        for n in range(workers):
            self.start_worker(f"worker-{n}")

    def start_prefect(self) -> None:
        env = self.env() | {
            "PREFECT_SERVER_DATABASE_CONNECTION_URL": f"postgresql+asyncpg://root@{PG}/"
            f"{self.prefect_db}",
        }
        self._spawn("prefect", [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1",
                                "--port", str(self.prefect_port)], env)  # fmt: skip
        wait_for_health(f"{self.prefect_url}/health", timeout_s=120)

    def start_api(self) -> None:
        self._spawn("api", [sys.executable, "-m", "uvicorn", "reelflow.api.app:create_app",
                            "--factory", "--host", "127.0.0.1", "--port", str(self.api_port)],
                    self.env())  # fmt: skip
        wait_for_health(f"{self.api_url}/api/v1/health", timeout_s=60)

    def start_worker(self, name: str, pool: str = "cpu") -> subprocess.Popen:
        return self._spawn(
            name, [sys.executable, "-m", "reelflow.cli", "worker", "--pool", pool], self.env()
        )

    def _spawn(self, name: str, cmd: list[str], env: dict[str, str]) -> subprocess.Popen:
        logs = self.root / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        with open(logs / f"{name}.log", "ab") as out:
            proc = subprocess.Popen(
                cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.processes[name] = proc
        return proc

    def stop(self, name: str, *, kill: bool = False, grace_s: float = 15) -> None:
        """Stop one process group; `kill` sends SIGKILL at once (a host that dies)."""
        proc = self.processes.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        if kill:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
            return
        stop_group(proc, grace_s=grace_s)

    def kill_tree(self, name: str) -> int:
        """SIGKILL a process and every descendant at once, as when its host dies.

        Prefect's process worker starts each flow run in a session of its own, so killing the
        worker's process group alone would leave the run going.
        """
        proc = self.processes.pop(name)
        doomed = [proc.pid, *descendants(proc.pid)]
        for pid in doomed:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        proc.wait(timeout=10)
        return len(doomed)

    def log(self, name: str) -> str:
        path = self.root / "logs" / f"{name}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def close(self) -> None:
        for name in list(self.processes):
            self.stop(name, grace_s=5)
        self.redis.stop()
        for name in self.databases:
            drop_database(name)

    # -- API helpers ---------------------------------------------------------------------

    def client(self, token: str | None = None, timeout_s: float = 30) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.api_url, headers=headers, timeout=timeout_s)

    def task_states(self, flow_run_id: str) -> dict[str, list[str]]:
        """Task name -> the states of its runs (one per attempt), from this stack's Prefect."""
        deadline, previous = time.monotonic() + 20, None
        while time.monotonic() < deadline:
            runs = httpx.post(
                f"{self.prefect_url}/task_runs/filter",
                json={"flow_runs": {"id": {"any_": [flow_run_id]}}},
            ).json()
            settled = all(r.get("state_type") in FINAL for r in runs)
            if settled and runs and len(runs) == previous:
                break
            previous = len(runs)
            time.sleep(0.5)
        states: dict[str, list[str]] = {}
        for run in sorted(runs, key=lambda r: r.get("start_time") or ""):
            states.setdefault(run["name"].rsplit("-", 1)[0], []).append(run["state_name"])
        return states

    def wait_for_status(
        self, token: str, task_id: str, statuses: set[str], *, timeout_s: float = 240
    ) -> dict:
        """Poll the persisted status until it is one of `statuses`."""
        deadline = time.monotonic() + timeout_s
        last: dict = {}
        with self.client(token) as client:
            while time.monotonic() < deadline:
                response = client.get(f"/api/v1/video/task-status/{task_id}")
                if response.status_code == 200:
                    last = response.json()
                    if last.get("status") in statuses:
                        return last
                time.sleep(0.5)
        raise AssertionError(f"{task_id} never reached {statuses}; last {last}")
