"""How long a worker takes to start a reel's flow-run process: Pending -> Running, per reel.

    .venv/bin/python bench/run_start.py [--runs 6] [--rounds 2]

Starts its own Prefect server (SQLite, loopback) and deploys prefect.yaml as `reelflow up` does.
Then, in each round, Prefect's stock worker (`prefect worker start`, which starts every run
through its workspace supervisor process) and `reelflow worker` in turn serve the cpu pool
(limit 1) and run `--runs` tiny reels (a four-word espeak script, low quality, no music, no
effects) one after the other.
For each reel it reads the run's states from the server: Pending (the worker took it) ->
Running (the flow-run process has started and imported the flow) is the process start; Pending
-> Completed the whole reel. Prints every run and each round's medians.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import BIN, free_port, start_prefect_server, stop  # noqa: E402

SPEC = {"voice": "espeak:en-us", "quality": "low", "music": {"preset": "none"},
        "effects": {"preset": "none"}}  # fmt: skip


def _durations(api: str, run_id) -> tuple[float, float]:
    from prefect.client.orchestration import PrefectClient

    async def read():
        async with PrefectClient(api=api) as client:
            return await client.read_flow_run_states(run_id)

    at = {s.type.value: s.timestamp for s in asyncio.run(read())}
    return (
        (at["RUNNING"] - at["PENDING"]).total_seconds(),
        (at["COMPLETED"] - at["PENDING"]).total_seconds(),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="rf-run-start-"))
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    server = start_prefect_server(root / "home", port)
    env = dict(
        os.environ,
        PREFECT_API_URL=api,
        PREFECT_HOME=str(root / "home"),
        PREFECT_WORKER_QUERY_SECONDS="1",
        PREFECT_WORKER_PREFETCH_SECONDS="1",
        REELFLOW_DATA_DIR=str(root / "data"),
        REELFLOW_REDIS_KEY_PREFIX=f"bench-run-start-{port}",
        REELFLOW_ENABLE_GPU_ACCELERATION="false",
        MAX_PARALLEL_VIDEOS="1",
    )
    os.environ.update(env)
    worker = None
    failed = False
    try:
        from prefect.deployments import run_deployment

        from reelflow.deployments.stack import bootstrap
        from reelflow.settings import Settings

        bootstrap(api, Settings(), env, log=lambda line: None)  # as `reelflow up` deploys
        workers = {
            "prefect worker start": [str(BIN / "prefect"), "worker", "start", "--pool", "cpu",
                                     "--limit", "1"],
            "reelflow worker": [sys.executable, "-m", "reelflow.cli", "worker", "--pool", "cpu",
                                "--limit", "1"],
        }  # fmt: skip
        for round_ in range(1, args.rounds + 1):
            for name, command in workers.items():
                with open(root / "worker.log", "ab") as log:
                    worker = subprocess.Popen(
                        command, env=env, stdout=log, stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )  # fmt: skip
                time.sleep(6)  # the worker is up and has polled once
                starts, totals = [], []
                for n in range(args.runs):
                    spec = dict(SPEC, script=f"Start number {round_} {n}.")
                    run = run_deployment("generate-reel/cpu", parameters={"spec": spec},
                                         timeout=300)  # fmt: skip
                    if not run.state.is_completed():
                        failed = True
                        raise SystemExit(f"{run.id} ended {run.state.name}: see {root}/worker.log")
                    start, total = _durations(api, run.id)
                    starts.append(start)
                    totals.append(total)
                    print(f"  {name}, run {n + 1}: pending->running {start:.2f} s, "
                          f"pending->completed {total:.2f} s")  # fmt: skip
                stop(worker)
                worker = None
                print(
                    f"round {round_}, {name}: median pending->running "
                    f"{statistics.median(starts):.2f} s, pending->completed "
                    f"{statistics.median(totals):.2f} s ({args.runs} runs)",
                    flush=True,
                )
    finally:
        if worker is not None:
            stop(worker)
        stop(server)
        if not failed:  # a failed run's worker log stays for reading
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
