"""Load benchmark: reels per minute with 1, 2 and 3 parallel renders, latency under load, memory.

    .venv/bin/python bench/load.py [--reels 6] [--qualities low,high]
    .venv/bin/python bench/load.py --backlog 100 [--databases sqlite,postgres] [--breakdown]
        [--burst-clients 10]

Runs the real stack of tests/reliability/stack.py (Prefect on PostgreSQL, the API on a
PostgreSQL store, one process worker, a throwaway Redis), sets the reel deployments'
concurrency limit to 1, 2 and 3 in turn, and triggers `--reels` short reels through the API
for each. While the 2-parallel run renders, one client polls the API (task status, project
list) and a WebSocket viewer timestamps every event it receives, for p50/p99 latencies.
Peak RSS is sampled per process role.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from prefect.client.orchestration import PrefectClient  # noqa: E402
from websockets.sync.client import connect  # noqa: E402

from bench.common import percentile, tree_cpu_s, tree_rss_kb  # noqa: E402
from reelflow.deployments.pools import set_reel_concurrency  # noqa: E402
from tests.reliability.conftest import new_project, new_user, trigger  # noqa: E402
from tests.reliability.stack import Stack  # noqa: E402

SCRIPT = "Reel {n}. Short reels are rendered side by side. This one is number {n}."


class MemorySampler(threading.Thread):
    """Peak RSS per role (api, prefect, worker): its whole process tree, and its largest single
    process of each kind (a worker's tree holds its flow-run processes and their ffmpeg)."""

    def __init__(self, stack: Stack) -> None:
        super().__init__(daemon=True)
        self.stack, self.peaks, self.stopped = stack, {}, threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            for name, proc in list(self.stack.processes.items()):
                role = "worker" if name.startswith("worker") else name
                largest: dict[str, int] = {}
                total = tree_rss_kb(proc.pid, largest)
                self._keep(f"{role} tree", total)
                for kind, kb in largest.items():
                    self._keep(f"{role}/{kind}", kb)
            time.sleep(0.2)

    def _keep(self, key: str, kb: int) -> None:
        self.peaks[key] = max(self.peaks.get(key, 0), kb)


def machine_cpu_s() -> float:
    """CPU seconds all processes of the machine have used (busy time in /proc/stat)."""
    with open("/proc/stat") as fh:
        fields = [int(x) for x in fh.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def role_cpu_s(stack: Stack) -> dict[str, float]:
    """CPU seconds used so far by each process tree of the stack (api, prefect, worker, ...)."""
    return {name: tree_cpu_s(proc.pid) for name, proc in list(stack.processes.items())}


def run_batch(stack: Stack, user, quality: str, parallel: int, reels: int, tag: str) -> float:
    """Seconds from triggering `reels` reels to the last one finishing."""

    async def limit() -> None:
        async with PrefectClient(api=stack.prefect_url) as client:
            await set_reel_concurrency(client, parallel)

    asyncio.run(limit())
    projects = [new_project(stack, user, SCRIPT.format(n=f"{tag}-{i}")) for i in range(reels)]
    start = time.perf_counter()
    tasks = [trigger(stack, user, p, quality=quality) for p in projects]
    for task_id in tasks:
        status = stack.wait_for_status(user.token, task_id, {"completed", "failed"}, timeout_s=900)
        assert status["status"] == "completed", status
    return time.perf_counter() - start


def poll_api(stack: Stack, user, stop: threading.Event, samples: list[float]) -> None:
    with stack.client(user.token) as client:
        while not stop.is_set():
            for path in ("/api/v1/projects", "/api/v1/me", "/api/v1/video/music-library"):
                start = time.perf_counter()
                assert client.get(path).status_code == 200
                samples.append((time.perf_counter() - start) * 1000)
            time.sleep(0.2)  # a few users' worth of polling, not a flood


def watch(stack: Stack, user, stop: threading.Event, samples: list[float]) -> None:
    url = f"ws://127.0.0.1:{stack.api_port}/ws/{user.id}?token={user.token}"
    with connect(url) as socket:
        while not stop.is_set():
            try:
                raw = socket.recv(timeout=0.5)
            except TimeoutError:
                continue
            if raw in ("ping", "pong"):
                continue
            event = json.loads(raw)
            if "seq" in event and not event.get("snapshot") and event.get("timestamp"):
                sent = datetime.fromisoformat(event["timestamp"])
                samples.append((datetime.now(UTC) - sent).total_seconds() * 1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reels", type=int, default=6)
    parser.add_argument("--qualities", default="low,high")
    parser.add_argument("--parallel", default="1,2,3", help="concurrency limits to measure")
    parser.add_argument(
        "--backlog", type=int, default=0, help="instead: a burst of N reels (bench/backlog.py)"
    )
    parser.add_argument("--databases", default="sqlite,postgres", help="with --backlog")
    parser.add_argument(
        "--burst-only", action="store_true", help="with --backlog: only the trigger burst"
    )
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="with --backlog: also the empty stack's CPU and the backlog's without viewers",
    )
    parser.add_argument(
        "--worker-query-s", type=float, default=None, help="with --backlog: workers' poll interval"
    )
    parser.add_argument(
        "--burst-clients",
        type=int,
        default=10,
        help="with --backlog: clients triggering at once (1: each trigger as soon as the last "
        "one answered)",
    )
    args = parser.parse_args()
    if args.backlog:
        from bench.backlog import run_backlog

        for database in args.databases.split(","):
            run_backlog(database, args.backlog, burst_only=args.burst_only,
                        breakdown=args.breakdown, worker_query_s=args.worker_query_s,
                        burst_clients=args.burst_clients)  # fmt: skip
        return
    with tempfile.TemporaryDirectory(prefix="reelflow-load-") as tmp:
        stack = Stack(Path(tmp), max_parallel=3)
        sampler = MemorySampler(stack)
        try:
            stack.start(workers=1)
            sampler.start()
            user = new_user(stack, "load")
            # warm the music library and page cache so every configuration measures the same
            run_batch(stack, user, "low", 1, 1, "warm")
            results: dict[tuple[str, int], float] = {}
            cpu: dict[tuple[str, int], float] = {}
            roles: dict[tuple[str, int], dict[str, float]] = {}
            for quality in args.qualities.split(","):
                for parallel in (int(p) for p in args.parallel.split(",")):
                    tag = f"{quality}{parallel}"
                    cpu_before, roles_before = machine_cpu_s(), role_cpu_s(stack)
                    seconds = run_batch(stack, user, quality, parallel, args.reels, tag)
                    cpu[(quality, parallel)] = machine_cpu_s() - cpu_before
                    roles[(quality, parallel)] = {
                        role: used - roles_before.get(role, 0.0)
                        for role, used in role_cpu_s(stack).items()
                    }
                    results[(quality, parallel)] = seconds
                    line = f"{quality} x{parallel}: {args.reels} reels in {seconds:.1f} s"
                    print(line, flush=True)
            # Latency under load, measured apart so the probes do not slow the runs above.
            api_ms: list[float] = []
            ws_ms: list[float] = []
            stop = threading.Event()
            probes = [
                threading.Thread(target=poll_api, args=(stack, user, stop, api_ms)),
                threading.Thread(target=watch, args=(stack, user, stop, ws_ms)),
            ]
            for probe in probes:
                probe.start()
            run_batch(stack, user, "low", 2, args.reels, "latency")
            stop.set()
            for probe in probes:
                probe.join(timeout=10)
        finally:
            sampler.stopped.set()
            stack.close()
    print(f"\n{args.reels} short reels (~5 s of speech) per configuration, one worker, 2 cores")
    # CPU: the whole machine's busy time during the batch (every process of the stack, and
    # anything else running), per reel, and as a share of both cores over the batch.
    print(f"{'quality':8} {'parallel':>8} {'seconds':>8} {'reels/min':>10} {'speed-up':>9} "
          f"{'CPU s/reel':>11} {'cores busy':>11}")  # fmt: skip
    cores = os.cpu_count() or 1
    for (quality, parallel), seconds in results.items():
        base = results[(quality, 1)]
        used = cpu[(quality, parallel)]
        print(f"{quality:8} {parallel:8d} {seconds:8.1f} {args.reels / seconds * 60:10.1f} "
              f"{base / seconds:8.2f}x {used / args.reels:11.1f} "
              f"{used / (seconds * cores):10.0%}")  # fmt: skip
    print("CPU s per reel by process tree (worker: its flow-run processes and their ffmpeg):")
    for (quality, parallel), used in roles.items():
        parts = ", ".join(f"{role} {s / args.reels:.2f}" for role, s in sorted(used.items()))
        print(f"  {quality} x{parallel}: {parts}")
    print(f"API latency under load (2 parallel, low): p50 {statistics.median(api_ms):.1f} ms, "
          f"p99 {percentile(api_ms, 0.99):.1f} ms over {len(api_ms)} requests")  # fmt: skip
    print(f"WebSocket event latency under load: p50 {statistics.median(ws_ms):.1f} ms, "
          f"p99 {percentile(ws_ms, 0.99):.1f} ms over {len(ws_ms)} events "
          "(event timestamp to receipt)")  # fmt: skip
    print("peak RSS: " + ", ".join(f"{k} {v / 1024:.0f} MB" for k, v in sampler.peaks.items()))


if __name__ == "__main__":
    main()
