"""Helpers shared by the benchmarks: processes, timing, memory, a throwaway Prefect server."""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_prefect_server(home: Path, port: int, database_url: str | None = None):
    """A Prefect server on loopback (SQLite in `home` unless `database_url`); waits for health."""
    from reelflow.deployments.stack import wait_for_health

    env = dict(
        os.environ,
        PREFECT_HOME=str(home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_SERVER_DEPLOYMENTS_CONCURRENCY_SLOT_WAIT_SECONDS="2",
    )
    if database_url:
        env["PREFECT_SERVER_DATABASE_CONNECTION_URL"] = database_url
    proc = subprocess.Popen(
        [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    wait_for_health(f"http://127.0.0.1:{port}/api/health", timeout_s=120)
    return proc


def percentile(values: list[float], q: float) -> float:
    """The value at fraction `q` (0..1) of the sorted `values` (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def stop(proc: subprocess.Popen) -> None:
    """SIGINT the process group, SIGKILL it if it lingers."""
    from reelflow.deployments.stack import stop_group

    stop_group(proc, grace_s=15)


def _children() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    return children


def tree_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) used so far by `pid`, its live descendants, and every
    descendant that has exited and been waited for (the kernel adds those to their parent)."""
    children, total, todo = _children(), 0, [pid]
    while todo:
        p = todo.pop()
        todo.extend(children.get(p, []))
        try:
            with open(f"/proc/{p}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    return total / os.sysconf("SC_CLK_TCK")


def tree_rss_kb(pid: int, per_name: dict[str, int] | None = None) -> int:
    """Resident memory of `pid` and all its descendants, in kB.

    With `per_name`, also keeps each process name's largest single-process RSS there.
    """
    children = _children()
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        todo.extend(children.get(p, []))
        try:
            with open(f"/proc/{p}/status") as fh:
                fields = dict(line.split(":", 1) for line in fh if ":" in line)
            rss = int(fields.get("VmRSS", "0 kB").split()[0])
        except (OSError, ValueError):
            continue
        total += rss
        if per_name is not None:
            name = fields.get("Name", "?").strip()
            name = "ffmpeg" if name.startswith("ffmpeg") else name
            per_name[name] = max(per_name.get(name, 0), rss)
    return total


def timed(
    cmd: list[str], cwd: Path, env: dict | None = None, per_name: dict[str, int] | None = None
) -> tuple[float, float, float]:
    """Run `cmd`; return wall seconds, CPU seconds (user+sys, whole tree) and peak RSS (MB) of
    the whole process tree; `per_name` collects each process name's own peak (kB).

    CPU seconds move little when other work shares the machine; wall time is what users feel.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_rss_kb(proc.pid, per_name))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, err = proc.communicate()
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed:\n{err.decode(errors='replace')[-2000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, peak / 1024
