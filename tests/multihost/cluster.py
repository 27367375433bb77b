"""reelflow on four hosts: A (PostgreSQL, Redis, Prefect server), B and C (`reelflow worker`
on the cpu pool), D (the API). B, C and D mount one shared data folder at the same path.

Every process is started through its host's namespace and stopped (its process group, SIGTERM
then SIGKILL) when the cluster closes; the namespaces and the bridge go with it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from reelflow.deployments.stack import bootstrap, stop_group, wait_for_health
from reelflow.settings import Settings
from tests.multihost.netns import Host, Topology
from tests.redis_server import ThrowawayRedis
from tests.reliability.stack import Stack, descendants

BIN = Path(sys.executable).parent
PG_PORT, REDIS_PORT, PREFECT_PORT, API_PORT = 5432, 6379, 4200, 8000


@dataclass
class Cluster:
    """The four hosts and the processes on them."""

    root: Path  # root / "data" is the shared folder, as seen from the operator's side
    max_parallel: int = 2  # renders at once in the cpu pool (one per worker host here)
    net: Topology = field(default_factory=Topology)
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    # The reliability stack's API helpers work on any stack with these URLs.
    client = Stack.client
    task_states = Stack.task_states
    wait_for_status = Stack.wait_for_status

    def __post_init__(self) -> None:
        # PostgreSQL refuses to run as root and must reach its folder: one outside pytest's
        # private tmp tree, owned by the postgres user.
        self.pg_dir = Path(tempfile.mkdtemp(prefix="rf-multihost-pg-"))
        # the path every host mounts the shared folder at (an NFS mount point)
        self.mount_point = Path(tempfile.mkdtemp(prefix="rf-multihost-data-"))
        (self.root / "data").mkdir(parents=True, exist_ok=True)

    # -- addresses ----------------------------------------------------------------------

    @property
    def a(self) -> Host:
        return self.net.hosts["a"]

    @property
    def prefect_url(self) -> str:
        return f"http://{self.a.address}:{PREFECT_PORT}/api"

    @property
    def api_url(self) -> str:
        return f"http://{self.net.hosts['d'].address}:{API_PORT}"

    @property
    def ws_base(self) -> str:
        return f"ws://{self.net.hosts['d'].address}:{API_PORT}"

    def database_url(self, name: str, driver: str = "psycopg") -> str:
        return f"postgresql+{driver}://root@{self.a.address}:{PG_PORT}/{name}"

    def settings(self) -> Settings:
        """Settings as the operator's tools see them (the shared folder at its real path)."""
        return Settings(
            data_dir=self.root / "data",
            database_url=self.database_url("store"),
            redis_url=self.redis.url,
            max_parallel_videos=self.max_parallel,
            enable_gpu_acceleration=False,
            api_rate_limit_reels=0,
        )

    def env(self, host: str) -> dict[str, str]:
        """The environment of a process on `host`: everything it needs is on A."""
        return dict(
            os.environ,
            PREFECT_API_URL=self.prefect_url,
            PREFECT_HOME=str(self.root / f"prefect-home-{host}"),
            PREFECT_SERVER_ALLOW_EPHEMERAL_MODE="false",
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            PREFECT_SERVER_SERVICES_LATE_RUNS_ENABLED="false",
            PREFECT_WORKER_QUERY_SECONDS="1",
            PREFECT_WORKER_PREFETCH_SECONDS="1",
            PREFECT_LOGGING_LEVEL="INFO",
            REELFLOW_DATA_DIR=str(self.mount_point),
            REELFLOW_DATABASE_URL=self.database_url("store"),
            REELFLOW_REDIS_URL=self.redis.url,
            REELFLOW_ENABLE_GPU_ACCELERATION="false",
            REELFLOW_API_RATE_LIMIT_REELS="0",
            REELFLOW_MAX_QUEUED_PER_USER="100",
            REELFLOW_WS_QUERY_TOKEN="true",  # the viewers authenticate with ?token=
            # callers reach the API on host D's address, not a loopback name
            REELFLOW_API_TRUSTED_HOSTS=json.dumps([self.net.hosts["d"].address]),
            MAX_PARALLEL_VIDEOS=str(self.max_parallel),
        )

    # -- hosts and processes ------------------------------------------------------------

    def start(self) -> None:
        self.net.open()
        for label in "abcd":
            self.net.add_host(label)
        self.start_postgres()
        launcher = tuple(self.a.launcher())
        self.redis = ThrowawayRedis(
            self.root / "redis", REDIS_PORT, durable=True, host=self.a.address, launcher=launcher
        )
        self.redis.start()
        self.start_prefect()
        bootstrap(self.prefect_url, self.settings(), self.env("operator"), log=lambda line: None)
        self.start_api()
        for label in "bc":
            self.start_worker(label)

    def start_postgres(self) -> None:
        shutil.chown(self.pg_dir, "postgres", "postgres")
        as_postgres = ["setpriv", "--reuid=postgres", "--regid=postgres", "--clear-groups"]
        subprocess.run(
            [*as_postgres, "initdb", "-D", str(self.pg_dir / "db"), "-U", "root", "-A", "trust",
             "--no-sync", "-E", "UTF8"], check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        # trust the private subnet only (initdb's default trusts local sockets and loopback)
        with open(self.pg_dir / "db" / "pg_hba.conf", "a") as hba:
            hba.write(f"host all all {self.net.subnet}.0/24 trust\n")
        self._spawn("postgres", [*self.a.launcher(), *as_postgres, "postgres", "-D",
                                 str(self.pg_dir / "db"), "-p", str(PG_PORT),
                                 "-c", f"listen_addresses={self.a.address}",
                                 "-c", f"unix_socket_directories={self.pg_dir}",
                                 "-c", "fsync=off", "-c", "max_connections=200"])  # fmt: skip
        deadline = time.monotonic() + 60
        while True:
            try:
                conninfo = f"postgresql://root@{self.a.address}:{PG_PORT}/postgres"
                with psycopg.connect(conninfo, autocommit=True, connect_timeout=2) as conn:
                    conn.execute("CREATE DATABASE prefect")
                    conn.execute("CREATE DATABASE store")
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)

    def start_prefect(self) -> None:
        env = self.env("a") | {
            "PREFECT_SERVER_DATABASE_CONNECTION_URL": self.database_url("prefect", "asyncpg")
        }
        server = [str(BIN / "prefect"), "server", "start", "--host", self.a.address, "--port",
                  str(PREFECT_PORT)]  # fmt: skip
        self._spawn("prefect", [*self.a.launcher(), *server], env)
        wait_for_health(f"{self.prefect_url}/health", timeout_s=120)

    def _mounted(self, label: str) -> list[str]:
        return self.net.hosts[label].launcher({self.root / "data": self.mount_point})

    def start_api(self) -> None:
        self._spawn("api", [*self._mounted("d"), sys.executable, "-m", "uvicorn",
                            "reelflow.api.app:create_app", "--factory", "--host",
                            self.net.hosts["d"].address, "--port", str(API_PORT)],
                    self.env("d"))  # fmt: skip
        wait_for_health(f"{self.api_url}/api/v1/health", timeout_s=60)

    def start_worker(self, label: str) -> subprocess.Popen:
        cmd = [sys.executable, "-m", "reelflow.cli", "worker", "--pool", "cpu", "--limit", "1"]
        return self._spawn(f"worker-{label}", [*self._mounted(label), *cmd], self.env(label))

    def ensure_workers(self) -> None:
        """A worker on B and on C (one that exited, on a partition say, is started again)."""
        for label in "bc":
            proc = self.processes.get(f"worker-{label}")
            if proc is None or proc.poll() is not None:
                self.processes.pop(f"worker-{label}", None)
                self.start_worker(label)

    def _spawn(self, name: str, cmd: list[str], env: dict[str, str] | None = None):
        logs = self.root / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        with open(logs / f"{name}.log", "ab") as out:
            proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)  # fmt: skip
        self.processes[name] = proc
        return proc

    def stop(self, name: str, grace_s: float = 15) -> None:
        proc = self.processes.pop(name, None)
        if proc is not None:
            stop_group(proc, grace_s=grace_s)

    def flow_run_pids(self, name: str) -> list[int]:
        """Processes below a worker: its flow runs (each in a session of its own) and ffmpeg."""
        return descendants(self.processes[name].pid)

    def log(self, name: str) -> str:
        path = self.root / "logs" / f"{name}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def close(self) -> None:
        for name in [n for n in self.processes if n.startswith("worker-")]:
            for pid in self.flow_run_pids(name):  # a partitioned host's runs, still going
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, 9)
        for name in list(self.processes)[::-1]:
            self.stop(name, grace_s=5)
        if hasattr(self, "redis"):
            self.redis.stop()
        self.net.close()
        shutil.rmtree(self.pg_dir, ignore_errors=True)
        shutil.rmtree(self.mount_point, ignore_errors=True)
