"""Helpers of the API tests: users, deployments, a worker subprocess, WebSocket reading."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reelflow.deployments.stack import stop_group
from reelflow.settings import Settings

SHORT_SCRIPT = "Tiny reel."


@dataclass(frozen=True)
class ApiUser:
    id: str
    token: str
    plan: str = "standard"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def child_env(api_url: str, settings: Settings) -> dict[str, str]:
    """The environment of a worker (and the runs it starts) sharing the tests' state."""
    return dict(
        os.environ,
        PREFECT_API_URL=api_url,
        PREFECT_SERVER_ALLOW_EPHEMERAL_MODE="false",
        PREFECT_WORKER_QUERY_SECONDS="1",
        PREFECT_WORKER_PREFETCH_SECONDS="1",
        REELFLOW_DATA_DIR=str(settings.data_dir),
        REELFLOW_REDIS_URL=settings.redis_url,
        REELFLOW_REDIS_KEY_PREFIX=settings.redis_key_prefix,
        REELFLOW_ENABLE_GPU_ACCELERATION="false",
    )


@dataclass
class Worker:
    process: subprocess.Popen
    log: Path

    def stop(self) -> None:
        """SIGINT, then SIGKILL: an idle worker may ignore one SIGINT (PREFECT-NOTES)."""
        stop_group(self.process)

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def start_worker(api_url: str, settings: Settings, pool: str = "cpu") -> Worker:
    """`reelflow worker` on `pool`, logging to a file under the data folder."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    log = settings.data_dir / f"worker-{pool}.log"
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "reelflow.cli", "worker", "--pool", pool],
            env=child_env(api_url, settings),
            start_new_session=True,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return Worker(process, log)


def receive_json(socket, *, skip: tuple[str, ...] = ("ping", "pong")) -> dict[str, Any]:
    """The next JSON message of a test WebSocket, skipping keep-alive texts."""
    while True:
        text = socket.receive_text()
        if text not in skip:
            return json.loads(text)


def follow(socket, task_id: str, *, until: set[str], timeout_s: float = 180) -> list[dict]:
    """Messages about `task_id` until one has a status in `until` (or the time is up).

    The server's keep-alive pings (every `websocket_ping_interval`) wake the loop, so the
    deadline is checked even while no event arrives.
    """
    seen: list[dict] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text = socket.receive_text()
        if text in ("ping", "pong"):
            continue
        message = json.loads(text)
        if message.get("task_id") != task_id or message.get("type") == "queue":
            continue  # queue positions are not progress events
        seen.append(message)
        if message.get("status") in until:
            return seen
    raise TimeoutError(f"{task_id} did not reach {until}: {seen[-3:]}")


def make_project(client, user: ApiUser, **fields: Any) -> str:
    """A project with a short script (plus `fields`); returns its id."""
    data = {"title": "test reel", "script": SHORT_SCRIPT, **fields}
    response = client.post("/api/v1/projects", headers=user.headers, data=data)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def wait_in_page(page, expression: str, *, timeout_s: float = 30) -> None:
    """Poll a JavaScript expression in the page until it is truthy.

    Playwright's `wait_for_function` compiles its predicate with `new Function` inside the
    page, which the page's Content-Security-Policy (no 'unsafe-eval') forbids; `evaluate` runs
    through the DevTools protocol, which the policy does not govern.
    """
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{expression!r} still false after {timeout_s:.0f} s")
        time.sleep(0.2)
