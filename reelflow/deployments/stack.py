"""The local stack behind `reelflow up`: Prefect server, pools, deployments, workers, API.

Every process is a child of this one, in its own process group; stopping the stack (Ctrl-C,
SIGTERM, a child that died, a failed setup) stops every group. Idle Prefect workers may ignore
one SIGINT for minutes (shared/PREFECT-NOTES.md), so shutdown escalates to SIGKILL after a grace
period.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from reelflow.settings import Settings

# Prefect is imported inside the functions that talk to it: it reads PREFECT_API_URL when first
# imported, and callers (benchmarks, `reelflow up`) set it after importing this module.
REEL_POOLS = ("gpu", "cpu")
BATCH_POOL = "batch"  # batch runs only wait for their children: they must not take reel slots
POOLS = (*REEL_POOLS, BATCH_POOL)

REPO_ROOT = Path(__file__).resolve().parents[2]


# Measured with bench/load.py --backlog 100 (docs/scaling.md): what the embedded default costs.
SQLITE_NOTE = (
    "Prefect runs on SQLite under the data folder: a burst of 100 triggers from 10 clients "
    "was answered at p99 0.2 s here, as on PostgreSQL; its runs existed 4 s later. For several "
    "API processes or hosts give --database-url postgresql+asyncpg://..."
)


@dataclass
class StackConfig:
    """What `reelflow up` starts and where."""

    host: str = "127.0.0.1"
    prefect_port: int = 4200
    api_port: int | None = 8000
    database_url: str | None = None  # Prefect's own database; SQLite under data_dir if None
    # The workers' safety-net poll: rings (a trigger, a run's end) make them poll at once, so a
    # long interval costs the server little while runs wait (deployments/doorbell.py).
    worker_query_s: float = 15.0
    gpu_worker: bool | None = None  # None: only when this host has an NVIDIA device


@dataclass
class Stack:
    """The running children of `reelflow up`."""

    settings: Settings
    config: StackConfig
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def api_url(self) -> str:
        return f"http://{self.config.host}:{self.config.prefect_port}/api"

    def environment(self) -> dict[str, str]:
        """The environment every child shares: one data folder, one Prefect API."""
        env = dict(os.environ)
        home = (self.settings.data_dir / "prefect").resolve()
        home.mkdir(parents=True, exist_ok=True)
        env.update(
            PREFECT_API_URL=self.api_url,
            PREFECT_HOME=env.get("PREFECT_HOME", str(home)),
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            PREFECT_SERVER_ALLOW_EPHEMERAL_MODE="false",
            # Runs wait `Scheduled` for a pool slot; marking each one `Late` 15 s later is a
            # state change per waiting run (measured: 22 % of a core while 100 were marked) and
            # tells users nothing the queue position does not.
            PREFECT_SERVER_SERVICES_LATE_RUNS_ENABLED="false",
            PREFECT_WORKER_QUERY_SECONDS=str(self.config.worker_query_s),
            # Runs due this close are started now: a scheduled reel starts on time because the
            # doorbell wakes the workers when it is due, not because the poll reached ahead.
            PREFECT_WORKER_PREFETCH_SECONDS=str(min(2.0, self.config.worker_query_s)),
            REELFLOW_DATA_DIR=str(self.settings.data_dir.resolve()),
            MAX_PARALLEL_VIDEOS=str(self.settings.max_parallel_videos),
            PREFECT_FLOWS_HEARTBEAT_FREQUENCY=str(self.settings.flow_heartbeat_s),
        )
        if self.config.database_url:
            env["PREFECT_SERVER_DATABASE_CONNECTION_URL"] = self.config.database_url
        return env

    def start(self, log=print) -> None:
        """Start everything and return once the API answers and the workers are up."""
        env = self.environment()
        prefect = str(Path(sys.executable).parent / "prefect")
        self._spawn("prefect-server", [prefect, "server", "start", "--host", self.config.host,
                                       "--port", str(self.config.prefect_port)], env)  # fmt: skip
        self._wait_for("prefect-server", f"{self.api_url}/health", timeout_s=120)
        log(f"Prefect server and UI: http://{self.config.host}:{self.config.prefect_port}")
        if not self.config.database_url:
            log(SQLITE_NOTE)
        bootstrap(self.api_url, self.settings, env, log=log)
        pools = [p for p in self.worker_pools()]
        for pool in pools:
            self._spawn(f"worker-{pool}", [sys.executable, "-m", "reelflow.cli", "worker",
                                           "--pool", pool], env)  # fmt: skip
        log(f"workers: {', '.join(pools)}")
        if self.config.api_port is not None:
            api = [sys.executable, "-m", "uvicorn", "reelflow.api.app:create_app", "--factory",
                   "--host", self.config.host, "--port", str(self.config.api_port)]  # fmt: skip
            self._spawn("api", api, env)
            self._wait_for("api", f"http://{self.config.host}:{self.config.api_port}/api/v1/health",
                           timeout_s=60, accept_status=(200, 503))  # fmt: skip
            log(f"reelflow API and viewer: http://{self.config.host}:{self.config.api_port}")

    def worker_pools(self) -> list[str]:
        """The pools this stack runs a worker for: cpu and batch, gpu where there is one."""
        gpu = self.config.gpu_worker
        if gpu is None:
            from reelflow.api.config import gpu_present

            gpu = self.settings.enable_gpu_acceleration and gpu_present()
        return [p for p in POOLS if p != "gpu" or gpu]

    def _spawn(self, name: str, cmd: list[str], env: dict[str, str]) -> None:
        logs = self.settings.data_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        with open(logs / f"{name}.log", "ab") as out:
            self.processes[name] = subprocess.Popen(
                cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                preexec_fn=default_signals,
            )  # fmt: skip

    def _wait_for(self, name: str, url: str, **kw) -> None:
        # A child that exits (a port in use, a bad database URL) fails setup now, not at timeout.
        proc = self.processes[name]
        try:
            wait_for_health(url, alive=lambda: proc.poll() is None, **kw)
        except ChildProcessError:
            raise ChildProcessError(self.exit_message(name)) from None

    def log_path(self, name: str) -> Path:
        return self.settings.data_dir / "logs" / f"{name}.log"

    def exit_message(self, name: str) -> str:
        code = self.processes[name].returncode
        return f"{name} exited with code {code}; see {self.log_path(name)}"

    def failed(self) -> str | None:
        """The name of a child that exited on its own, if any."""
        for name, proc in self.processes.items():
            if proc.poll() is not None:
                return name
        return None

    def serve(self, log: Callable[[str], None] = print, poll_s: float = 1.0) -> str | None:
        """Start, run until Ctrl-C / SIGTERM or until a child exits, then stop everything.

        Returns why the stack stopped on its own (a child exited, setup failed), or None after
        a requested stop.
        """
        previous = {s: signal.signal(s, _interrupt) for s in STOP_SIGNALS}
        failure = None
        try:
            self.start(log=log)
            log("ready - Ctrl-C to stop")
            while (dead := self.failed()) is None:
                time.sleep(poll_s)
            failure = self.exit_message(dead)
        except KeyboardInterrupt:
            log("stopping...")
        except Exception as exc:
            failure = f"setup failed: {exc}"
        finally:
            # a second Ctrl-C or SIGTERM must not leave children behind: stopping is bounded
            ignored = {s: signal.signal(s, signal.SIG_IGN) for s in STOP_SIGNALS}
            try:
                self.stop()
            finally:
                for signum in STOP_SIGNALS:
                    signal.signal(signum, previous.get(signum, ignored[signum]))
        return failure

    def stop(self, grace_s: float = 10.0) -> None:
        """Stop the children: workers first (each hands back the reels it cannot finish within
        the worker grace), then the API, then the Prefect server; SIGTERM each group, SIGKILL
        what is still running after `grace_s`."""
        workers = [p for n, p in self.processes.items() if n.startswith("worker-")]
        others = [p for n, p in self.processes.items() if not n.startswith("worker-")]
        stop_groups(workers, grace_s + self.settings.worker_stop_grace_s)
        stop_groups(reversed(others), grace_s)


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _interrupt(signum, frame) -> None:
    # SIGTERM (docker stop, systemd, kill) and SIGHUP (a closed terminal) stop it like Ctrl-C
    raise KeyboardInterrupt


def default_signals() -> None:
    """In a child before exec: default stop signals, even where our parent ignored SIGINT (a
    shell starts background jobs so, and children inherit it)."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_DFL)


def stop_group(proc: subprocess.Popen, grace_s: float = 10.0) -> None:
    """SIGTERM `proc`'s process group, SIGKILL it if it is still running after `grace_s`.

    SIGTERM rather than SIGINT: a process started from a non-interactive shell ignores SIGINT
    (and so do its children); an idle Prefect worker may ignore one signal
    (shared/PREFECT-NOTES.md), hence the escalation.
    """
    stop_groups([proc], grace_s)


def stop_groups(procs: Iterable[subprocess.Popen], grace_s: float = 10.0) -> None:
    """Stop the process groups led by `procs` (started with ``start_new_session=True``).

    The whole group is signalled even when its leader has exited: what the leader started (a
    server's own subprocess) may still be running.
    """
    procs = list(procs)
    for proc in procs:
        _signal_group(proc, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    for proc in procs:
        while _group_alive(proc) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _group_alive(proc):
            _signal_group(proc, signal.SIGKILL)
            proc.wait(timeout=10)


def _signal_group(proc: subprocess.Popen, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # the group is gone
        os.killpg(proc.pid, signum)


def _group_alive(proc: subprocess.Popen) -> bool:
    proc.poll()  # reap the leader, so a finished group does not linger as a zombie
    try:
        os.killpg(proc.pid, 0)
    except (ProcessLookupError, PermissionError):  # gone (its id now someone else's)
        return False
    return True


def bootstrap(api_url: str, settings: Settings, env: dict[str, str], log=print) -> None:
    """Pools (with their concurrency limits) and queues, `prefect deploy --all`, recovery."""
    from prefect.client.orchestration import PrefectClient

    from reelflow.deployments.pools import ensure_pools, set_reel_concurrency
    from reelflow.deployments.recovery import ensure_recovery

    async def pools() -> None:
        # An explicit API URL: this process may have imported Prefect before it was set.
        async with PrefectClient(api=api_url) as client:
            await ensure_pools(
                client,
                max_parallel=settings.max_parallel_videos,
                max_batches=settings.max_parallel_batches,
                tiers=settings.fair_share_tiers,
            )
            await ensure_recovery(client, heartbeat_s=settings.flow_heartbeat_s)

    async def limits() -> None:
        async with PrefectClient(api=api_url) as client:
            await set_reel_concurrency(client, settings.max_parallel_videos)

    asyncio.run(pools())
    limit, tiers = settings.max_parallel_videos, settings.fair_share_tiers
    log(f"pools {', '.join(POOLS)}: at most {limit} reels at once per reel pool; queues premium "
        f"and standard in {tiers} fair-share tiers each; crash recovery")  # fmt: skip
    prefect = str(Path(sys.executable).parent / "prefect")
    subprocess.run(
        [prefect, "--no-prompt", "deploy", "--all"], cwd=REPO_ROOT, check=True,
        env=env | {"PREFECT_API_URL": api_url}, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    asyncio.run(limits())
    log(f"deployments from {REPO_ROOT / 'prefect.yaml'}")


def wait_for_health(
    url: str,
    *,
    timeout_s: float,
    accept_status=(200,),
    alive: Callable[[], bool] | None = None,
) -> None:
    """Poll `url` until it answers with an accepted status.

    Raises TimeoutError after `timeout_s`, ChildProcessError as soon as `alive()` is false.
    """
    deadline = time.monotonic() + timeout_s
    last = "no answer"
    while time.monotonic() < deadline:
        if alive is not None and not alive():
            raise ChildProcessError(f"the process behind {url} exited ({last})")
        try:
            response = httpx.get(url, timeout=2)
            if response.status_code in accept_status:
                return
            last = f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            last = str(exc)
        time.sleep(0.3)
    raise TimeoutError(f"{url} did not become healthy in {timeout_s:.0f} s ({last})")
