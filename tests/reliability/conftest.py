"""One real stack per module: Prefect on PostgreSQL, the API on a PostgreSQL store, workers."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import pytest
from websockets.sync.client import connect

from reelflow.store import Store
from tests.reliability.stack import PG, Stack
from tests.services import missing_service

TERMINAL = {"completed", "failed", "crashed", "cancelled"}
# These suites test orchestration, not the voice: espeak speaks a short script in a tenth of the
# neural default's CPU, which a hundred reels per CI run feel.
LOW = {"quality": "low", "music_preset": "none", "effects_preset": "none", "voice": "espeak:en-us"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    try:
        psycopg.connect(f"postgresql://root@{PG}/test", connect_timeout=2).close()
    except psycopg.Error as exc:
        missing_service(
            f"reliability tests need PostgreSQL at {PG} ({exc}): start it with "
            "`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`"
        )
    stack = Stack(tmp_path_factory.mktemp("stack"), max_parallel=2)
    try:
        stack.start(workers=1)
        yield stack
    finally:
        stack.close()


@dataclass
class User:
    id: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def new_user(stack: Stack, name: str, plan: str = "standard") -> User:
    with Store(stack.settings()) as store:
        user, token = store.create_user(name, plan=plan)
    return User(user.id, token)


def new_project(stack: Stack, user: User, script: str) -> str:
    with stack.client(user.token) as client:
        response = client.post("/api/v1/projects", data={"title": script[:40], "script": script})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def trigger(stack: Stack, user: User, project_id: str, **body) -> str:
    with stack.client(user.token) as client:
        response = client.post(f"/api/v1/video/generate-advanced/{project_id}", json=LOW | body)
    assert response.status_code == 202, response.text
    return response.json()["task_id"]


@dataclass
class Viewer:
    """A WebSocket viewer of one user that records every progress event it receives."""

    stack: Stack
    user: User
    events: list[dict] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Viewer:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        url = f"{self.stack.ws_base}/ws/{self.user.id}?token={self.user.token}"
        while not self._stop.is_set():
            try:
                with connect(url, open_timeout=10) as socket:
                    while not self._stop.is_set():
                        try:
                            raw = socket.recv(timeout=0.5)
                        except TimeoutError:
                            continue
                        if raw in ("ping", "pong"):
                            continue
                        message = json.loads(raw)
                        if (
                            "task_id" in message
                            and "seq" in message
                            and not message.get("snapshot")
                        ):
                            self.events.append(message)
            except Exception as exc:  # the API restarted or dropped us: reconnect, as apps do
                self.errors.append(repr(exc))
                time.sleep(0.5)

    def wait_for(self, task_ids: set[str], *, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            done = {e["task_id"] for e in self.events if e["status"] in TERMINAL}
            if task_ids <= done:
                return
            time.sleep(0.3)
        raise AssertionError(f"viewer of {self.user.id} missed the end of {task_ids - done}")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def sequence(self, task_id: str) -> list[int]:
        """Seqs of `task_id` in arrival order, each event once (a replay may repeat one)."""
        seen: set[str] = set()
        seqs = []
        for event in self.events:
            if event["task_id"] == task_id and event["event_id"] not in seen:
                seen.add(event["event_id"])
                seqs.append(event["seq"])
        return seqs


def contiguous(seqs: list[int]) -> bool:
    return seqs == list(range(1, len(seqs) + 1))


def outputs_of(root: Path, task_id: str) -> list[str]:
    folder = root / "data" / "outputs" / task_id
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def render_started(stack: Stack, token: str, task_id: str, *, timeout_s: float = 240) -> None:
    deadline = time.monotonic() + timeout_s
    status: dict = {}
    with stack.client(token) as client:
        while time.monotonic() < deadline:
            status = client.get(f"/api/v1/video/task-status/{task_id}").json()
            if status.get("stage") == "render" and float(status.get("progress") or 0) > 71:
                return
            time.sleep(0.2)
    raise AssertionError(
        f"{task_id} never started rendering; last status {status}; "
        f"active runs on the server: {active_runs(stack.prefect_url)}"
    )


def active_runs(prefect_url: str) -> list[tuple[str, str, str | None]]:
    """(run id, state name, pool) of every run not yet final: what holds or waits for a slot."""
    response = httpx.post(
        f"{prefect_url}/flow_runs/filter",
        json={"flow_runs": {"state": {"type": {"any_": ["SCHEDULED", "PENDING", "RUNNING",
                                                         "CANCELLING", "PAUSED"]}}}},
        timeout=10,
    )  # fmt: skip
    return [(r["id"], r["state_name"], r.get("work_pool_name")) for r in response.json()]
