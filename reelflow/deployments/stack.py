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
POOLS = ("gpu", "cpu")

REPO_ROOT = Path(__file__).resolve().parents[2]
SLOT_WAIT_S = "2"


@dataclass
class StackConfig:
    """What `reelflow up` starts and where."""

    host: str = "127.0.0.1"
    prefect_port: int = 4200
    api_port: int | None = 8000
    database_url: str | None = None  # Prefect's own database; SQLite under data_dir if None
    worker_query_s: float = 2.0


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
            # A run waiting for a concurrency slot is retried after this many seconds (Prefect's
            # default, 30, leaves two cores idle between short reels).
            PREFECT_SERVER_DEPLOYMENTS_CONCURRENCY_SLOT_WAIT_SECONDS=SLOT_WAIT_S,
            PREFECT_WORKER_QUERY_SECONDS=str(self.config.worker_query_s),
            PREFECT_WORKER_PREFETCH_SECONDS=str(self.config.worker_query_s),
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
        bootstrap(self.api_url, self.settings, env, log=log)
        for pool in POOLS:
            self._spawn(f"worker-{pool}", [prefect, "worker", "start", "--pool", pool], env)
        log(f"workers: {', '.join(POOLS)}")
        if self.config.api_port is not None:
            api = [sys.executable, "-m", "uvicorn", "reelflow.api.app:create_app", "--factory",
                   "--host", self.config.host, "--port", str(self.config.api_port)]  # fmt: skip
            self._spawn("api", api, env)
            self._wait_for("api", f"http://{self.config.host}:{self.config.api_port}/api/v1/health",
                           timeout_s=60, accept_status=(200, 503))  # fmt: skip
            log(f"reelflow API and viewer: http://{self.config.host}:{self.config.api_port}")

    def _spawn(self, name: str, cmd: list[str], env: dict[str, str]) -> None:
        logs = self.settings.data_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        with open(logs / f"{name}.log", "ab") as out:
            self.processes[name] = subprocess.Popen(
                cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

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
        previous = signal.signal(signal.SIGTERM, _interrupt)
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
            interrupt = signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            try:
                self.stop()
            finally:
                signal.signal(signal.SIGINT, interrupt)
                signal.signal(signal.SIGTERM, previous)
        return failure

    def stop(self, grace_s: float = 10.0) -> None:
        """SIGINT every child's group, then SIGKILL whatever is still running after `grace_s`."""
        stop_groups(reversed(list(self.processes.values())), grace_s)


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt  # SIGTERM (docker stop, systemd, kill) stops the stack like Ctrl-C


def stop_group(proc: subprocess.Popen, grace_s: float = 10.0) -> None:
    """SIGINT `proc`'s process group, SIGKILL it if it is still running after `grace_s`.

    An idle Prefect worker may ignore one SIGINT (shared/PREFECT-NOTES.md), hence the escalation.
    """
    stop_groups([proc], grace_s)


def stop_groups(procs: Iterable[subprocess.Popen], grace_s: float = 10.0) -> None:
    """Stop the process groups led by `procs` (started with ``start_new_session=True``).

    The whole group is signalled even when its leader has exited: what the leader started (a
    server's own subprocess) may still be running.
    """
    procs = list(procs)
    for proc in procs:
        _signal_group(proc, signal.SIGINT)
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
    """Pools and queues, `prefect deploy --all`, and the reel deployments' concurrency limit."""
    from prefect.client.orchestration import PrefectClient

    from reelflow.deployments.pools import ensure_pools, set_reel_concurrency
    from reelflow.deployments.recovery import ensure_recovery

    async def pools() -> None:
        # An explicit API URL: this process may have imported Prefect before it was set.
        async with PrefectClient(api=api_url) as client:
            await ensure_pools(client)
            await ensure_recovery(client, heartbeat_s=settings.flow_heartbeat_s)

    async def limits() -> None:
        async with PrefectClient(api=api_url) as client:
            await set_reel_concurrency(client, settings.max_parallel_videos)

    asyncio.run(pools())
    log("pools gpu and cpu with queues premium (1) and standard (10); crash recovery")
    prefect = str(Path(sys.executable).parent / "prefect")
    subprocess.run(
        [prefect, "--no-prompt", "deploy", "--all"], cwd=REPO_ROOT, check=True,
        env=env | {"PREFECT_API_URL": api_url}, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    asyncio.run(limits())
    limit = settings.max_parallel_videos
    log(f"deployments from {REPO_ROOT / 'prefect.yaml'}, at most {limit} reels at once each")


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
