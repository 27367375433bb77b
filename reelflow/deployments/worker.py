"""`reelflow worker --pool cpu`: Prefect's process worker, with a bounded, loss-free stop.

The worker itself is Prefect's (`prefect worker start --pool P --limit N`), run as a child. What
this adds is how it stops. Left to itself, a process worker told to stop kills the flow runs it
started and leaves them `Running` on the server, to be crashed ~90 s later by missed heartbeats
(measured: 0.4 s after SIGTERM the worker and its run's process were gone, the run still
`Running`). Here, on SIGTERM, SIGINT or SIGHUP:

1. the worker is frozen (SIGSTOP), so it takes no new run and touches none of its runs;
2. its reels get `grace_s` to finish (each flow-run process reports its own final state);
3. a reel still rendering is handed back: its process session (the run and its ffmpeg) is
   killed, then the run goes back to `Scheduled` under the same id, so another worker takes it
   and every finished step comes from the shared cache; viewers see it `queued` again;
4. the frozen worker is killed.

So a stop takes at most about `grace_s` plus a second, and no reel is lost or left hanging.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from reelflow.settings import Settings

log = logging.getLogger(__name__)

FLOW_RUN_ENV = b"PREFECT__FLOW_RUN_ID="
HANDED_BACK = "handed back by a stopping worker; finished steps are cached"


@dataclass(frozen=True)
class FlowRunProcess:
    """A flow run a worker started: its process (a session leader) and its run id."""

    pid: int
    flow_run_id: str


def flow_run_processes(worker_pid: int) -> list[FlowRunProcess]:
    """The flow-run processes a worker started (its children naming a flow run id)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[1]) != worker_pid:
                continue
            environ = (entry / "environ").read_bytes().split(b"\0")
        except (OSError, ValueError, IndexError):  # gone, or not readable
            continue
        for item in environ:
            if item.startswith(FLOW_RUN_ENV):
                run_id = item[len(FLOW_RUN_ENV) :].decode(errors="replace")
                found.append(FlowRunProcess(int(entry.name), run_id))
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):  # a zombie has exited: it only waits to be reaped
        if (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
            return False
    return True


def _kill_session(pid: int) -> None:
    """SIGKILL a flow run's process group (its process and the ffmpeg it started)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(os.getpgid(pid), signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGKILL)


def hand_back(
    api_url: str,
    runs: list[FlowRunProcess],
    settings: Settings | None = None,
    pool: str | None = None,
) -> None:
    """Kill each run's processes, then put the run back in its queue (same id, `Scheduled`)."""
    import asyncio

    for run in runs:
        _kill_session(run.pid)
    deadline = time.monotonic() + 5
    while any(_alive(r.pid) for r in runs) and time.monotonic() < deadline:
        time.sleep(0.05)

    handed_back: list[str] = []  # their task ids (what progress is reported under)

    async def reschedule() -> None:
        from prefect.client.orchestration import PrefectClient
        from prefect.states import Scheduled

        from reelflow.flows.runtime import task_id_of

        async with PrefectClient(api=api_url) as client:
            for run in runs:
                try:
                    current = await client.read_flow_run(uuid.UUID(run.flow_run_id))
                    if current.state is not None and current.state.is_final():
                        continue  # it finished after all (or was cancelled): leave it be
                    await client.set_flow_run_state(
                        current.id, Scheduled(name="Handed back", message=HANDED_BACK), force=True
                    )
                    handed_back.append(task_id_of(current))
                    log.info("handed back run %s", run.flow_run_id)
                except Exception as exc:  # the server is away: missed heartbeats recover it
                    log.warning("could not hand back run %s: %s", run.flow_run_id, exc)

    asyncio.run(reschedule())
    if settings is not None:
        from reelflow.deployments.doorbell import ring_sync

        if pool:
            ring_sync(settings, pool)  # another worker may take them at once
        for task_id in handed_back:
            _report_queued(settings, task_id)


def _report_queued(settings: Settings, task_id: str) -> None:
    """Tell viewers the reel waits again (best effort: the next attempt reports anyway)."""
    from reelflow.progress import ProgressEvent, RedisProgressSink

    sink = RedisProgressSink(settings)
    try:
        current = sink.status(task_id)
        if current is None or current.get("status") not in ("running", "queued"):
            return
        sink.emit(
            ProgressEvent(
                task_id=task_id,
                user_id=current.get("user_id"),
                status="queued",
                progress=float(current.get("progress") or 0.0),
                details=HANDED_BACK,
                seq=sink.last_seq(task_id) + 1,
                attempt=int(current.get("attempt") or 1),
            )
        )
    except Exception as exc:
        log.warning("could not report run %s queued again: %s", task_id, exc)
    finally:
        sink.close()


@dataclass
class WorkerProcess:
    """One `prefect worker start` child and how to stop it cleanly."""

    pool: str
    limit: int
    env: dict[str, str]
    log_file: Path | None = None
    niceness: int = 0
    proc: subprocess.Popen | None = None

    def start(self) -> None:
        # Prefect's process worker, also polling when a run ends or the doorbell rings
        command = [sys.executable, "-m", "reelflow.deployments.prompt_worker",
                   "--pool", self.pool, "--limit", str(self.limit)]  # fmt: skip
        out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL  # noqa: SIM115
        try:
            self.proc = subprocess.Popen(
                command,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=functools.partial(_child_setup, self.niceness),
            )
        finally:
            if self.log_file:
                out.close()

    def stop(self, *, grace_s: float, settings: Settings | None = None) -> list[str]:
        """Freeze the worker, let its reels finish for `grace_s`, hand back the rest, kill it.

        Returns the ids of the runs handed back.
        """
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return []
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGSTOP)
        deadline = time.monotonic() + grace_s
        runs = flow_run_processes(proc.pid)
        while runs and time.monotonic() < deadline:
            time.sleep(0.2)
            runs = [r for r in runs if _alive(r.pid)]
        api_url = self.env.get("PREFECT_API_URL")
        if runs and api_url:
            hand_back(api_url, runs, settings, self.pool)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        return [r.flow_run_id for r in runs]


def _child_setup(niceness: int) -> None:
    # A shell starts background jobs with SIGINT ignored, and children inherit that; the
    # worker must still be stoppable the usual way.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # Flow runs and their ffmpeg inherit this: renders take the CPU the API and the Prefect
    # server leave, so a burst of triggers is not queued behind two encodes.
    if niceness:
        os.nice(niceness)


def serve_worker(
    pool: str,
    *,
    settings: Settings,
    limit: int,
    grace_s: float,
    env: dict[str, str] | None = None,
    log_line: Callable[[str], None] = print,
) -> int:
    """Run a worker for `pool` until SIGTERM/SIGINT/SIGHUP or until it exits; 0 on a requested
    stop, the worker's exit code (or 1) otherwise."""
    env = dict(env or os.environ)
    if not env.get("PREFECT_API_URL") and settings.prefect_api_url:
        env["PREFECT_API_URL"] = settings.prefect_api_url
    if not env.get("PREFECT_API_URL"):
        raise ValueError("PREFECT_API_URL: set it to the Prefect server's API")
    worker = WorkerProcess(pool, limit, env, niceness=settings.worker_niceness)
    stop_requested = False

    def request_stop(signum, frame) -> None:
        nonlocal stop_requested
        stop_requested = True

    previous = {s: signal.signal(s, request_stop) for s in _STOP_SIGNALS}
    try:
        worker.start()
        log_line(f"worker for pool {pool} (at most {limit} reels at once), pid {worker.proc.pid}")
        while not stop_requested and worker.proc.poll() is None:
            time.sleep(0.2)
        if not stop_requested:
            return worker.proc.returncode or 1
        handed = worker.stop(grace_s=grace_s, settings=settings)
        log_line(f"stopped; handed back {len(handed)} reel(s)" if handed else "stopped")
        return 0
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if worker.proc is not None and worker.proc.poll() is None:
            worker.stop(grace_s=0, settings=settings)


_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
