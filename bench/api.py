"""API benchmark: WebSocket latency and run-creation throughput.

    .venv/bin/python bench/api.py [--events 1000] [--runs 100] [--concurrency 1,4]

Needs the local Redis (127.0.0.1:6379). Starts, in a temporary folder, its own Prefect server
(SQLite, loopback), deploys prefect.yaml, and serves the API with uvicorn in a child process
(so the server does not share this process's interpreter lock), then measures:

  ws latency   1,000 progress events written through the real emit path (Lua script: stream +
               status hash + PUBLISH) to the user's channel, one every 2 ms; latency is the time
               from just before the write to the WebSocket client having the message (both
               clocks are CLOCK_MONOTONIC). Target p99 <= 20 ms.
  throughput   POST /video/generate-advanced through the API against the real Prefect server:
               runs created per second (scheduled a day ahead, so no worker is needed), one
               client at a time and with several in flight.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

REDIS_URL = "redis://127.0.0.1:6379/0"


@dataclass(frozen=True)
class BenchUser:
    id: str
    token: str


def serve(port: int) -> None:
    """Child process: the API under uvicorn with reel creation unlimited (for throughput)."""
    from dataclasses import replace

    import uvicorn

    from reelflow.api.app import create_app
    from reelflow.api.config import ApiConfig
    from reelflow.settings import get_settings

    settings = get_settings()
    config = replace(ApiConfig.from_settings(settings), rate_limit_reels=0)
    app = create_app(settings, config=config)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", ws_ping_interval=None)


async def ws_latency(base: str, user, settings, events: int) -> list[float]:
    """Milliseconds from each event's write to its arrival on the WebSocket."""
    import websockets

    from reelflow.progress import ProgressEvent
    from reelflow.progress.keys import ProgressKeys
    from reelflow.progress.redis_sink import redis_client
    from reelflow.progress.script import EMIT_LUA, emit_call

    sent: dict[int, int] = {}
    received: dict[int, int] = {}
    task_id = str(uuid.uuid4())
    keys = ProgressKeys.from_settings(settings)
    sync_client = redis_client(settings.redis_url)
    script = sync_client.register_script(EMIT_LUA)
    url = base.replace("http://", "ws://") + f"/ws/{user.id}"
    async with websockets.connect(url) as socket:
        await socket.send(json.dumps({"token": user.token}))
        await socket.send("ping")
        while await socket.recv() != "pong":  # authenticated and subscribed
            pass

        async def receive() -> None:
            while len(received) < events:
                text = await socket.recv()
                if text in ("ping", "pong"):
                    continue
                message = json.loads(text)
                if message.get("task_id") == task_id:
                    received[message["seq"]] = time.monotonic_ns()

        reader = asyncio.create_task(receive())
        for seq in range(1, events + 1):
            event = ProgressEvent(
                task_id=task_id,
                user_id=user.id,
                status="running",
                stage="render",
                progress=seq * 100 / events,
                seq=seq,
            )
            call_keys, args = emit_call(keys, event, ttl_s=600, maxlen=2 * events)
            sent[seq] = time.monotonic_ns()
            await asyncio.to_thread(script, keys=call_keys, args=args)
            await asyncio.sleep(0.002)
        await asyncio.wait_for(reader, timeout=30)
    sync_client.close()
    return [(received[s] - sent[s]) / 1e6 for s in range(1, events + 1)]


async def throughput(base: str, user, project_id: str, runs: int, concurrency: int) -> float:
    """Runs created per second by POSTing generate-advanced with `concurrency` in flight."""
    import httpx

    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    url = f"{base}/api/v1/video/generate-advanced/{project_id}"
    limit = asyncio.Semaphore(concurrency)
    statuses: list[int] = []

    async def one(client: httpx.AsyncClient) -> None:
        async with limit:
            headers = {"Authorization": f"Bearer {user.token}", "Idempotency-Key": uuid.uuid4().hex}
            response = await client.post(
                url, headers=headers, json={"quality": "low", "scheduled_time": later}
            )
            statuses.append(response.status_code)

    async with httpx.AsyncClient(timeout=60) as client:
        await one(client)  # warm-up: deployment lookup, connection
        statuses.clear()
        started = time.perf_counter()
        await asyncio.gather(*(one(client) for _ in range(runs)))
        elapsed = time.perf_counter() - started
    bad = [s for s in statuses if s != 202]
    if bad:
        raise RuntimeError(f"{len(bad)} of {runs} requests failed: {sorted(set(bad))}")
    return runs / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--concurrency", default="1,4")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return

    from bench.common import free_port, percentile, start_prefect_server, stop
    from reelflow.deployments.stack import wait_for_health
    from reelflow.settings import Settings
    from reelflow.store import Store
    from tests.api.helpers import deploy

    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        tmp_path = Path(tmp)
        prefect_port, api_port = free_port(), free_port()
        prefect_url = f"http://127.0.0.1:{prefect_port}/api"
        prefix = f"bench-api-{uuid.uuid4().hex[:8]}"
        settings = Settings(
            data_dir=tmp_path / "data", redis_url=REDIS_URL, redis_key_prefix=prefix
        )
        server = start_prefect_server(tmp_path / "prefect", prefect_port)
        api = None
        try:
            os.environ["PREFECT_HOME"] = str(tmp_path / "prefect")
            deploy(prefect_url)
            with Store(settings) as store:
                created, token = store.create_user("bench", plan="standard")
                user = BenchUser(created.id, token)
                project = store.create_project(user.id, {"title": "bench", "script": "Fast."})
            env = dict(
                os.environ,
                PREFECT_API_URL=prefect_url,
                REELFLOW_DATA_DIR=str(settings.data_dir),
                REELFLOW_REDIS_KEY_PREFIX=prefix,
                REELFLOW_REDIS_URL=REDIS_URL,
                PREFECT_SERVER_ALLOW_EPHEMERAL_MODE="false",
            )
            api = subprocess.Popen(
                [sys.executable, __file__, "--serve", str(api_port)],
                env=env,
                start_new_session=True,
            )
            base = f"http://127.0.0.1:{api_port}"
            wait_for_health(f"{base}/api/v1/health", timeout_s=60)

            latencies = asyncio.run(ws_latency(base, user, settings, args.events))
            print(
                f"ws latency over {len(latencies)} events: p50 {percentile(latencies, 0.50):.2f} ms"
                f"  p99 {percentile(latencies, 0.99):.2f} ms  max {max(latencies):.2f} ms"
                f"  mean {statistics.fmean(latencies):.2f} ms  (target p99 <= 20 ms)"
            )
            for concurrency in (int(c) for c in args.concurrency.split(",")):
                rate = asyncio.run(throughput(base, user, project.id, args.runs, concurrency))
                print(
                    f"run creation, {concurrency} in flight: {rate:.1f} runs/s "
                    f"({1000 / rate * concurrency:.0f} ms per request) over {args.runs} runs"
                )
        finally:
            if api is not None:
                api.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    api.wait(timeout=15)
            stop(server)
            _clean_redis(prefix)


def _clean_redis(prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(f"{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


if __name__ == "__main__":
    main()
