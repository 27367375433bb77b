"""Webhook fixtures: the real Redis under a test prefix, and a real HTTP receiver on loopback."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from reelflow.settings import Settings

REDIS_URL = "redis://127.0.0.1:6379/0"


@dataclass
class Delivery:
    at: float
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    """An HTTP server answering 500 to its first `fail_first` POSTs, then 204."""

    url: str
    fail_first: int = 0
    deliveries: list[Delivery] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_for(self, count: int, timeout_s: float = 15.0) -> list[Delivery]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.deliveries) >= count:
                    return list(self.deliveries)
            time.sleep(0.02)
        raise AssertionError(f"{len(self.deliveries)} deliveries, expected {count}")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with state.lock:
                state.deliveries.append(Delivery(time.monotonic(), dict(self.headers), body))
                failing = len(state.deliveries) <= state.fail_first
            self.send_response(500 if failing else 204)
            self.end_headers()

        def log_message(self, *args) -> None:  # keep test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def wsettings(tmp_path: Path, prefix: str) -> Settings:
    """Settings on the shared Redis with this test's prefix, and quick webhook retries."""
    return Settings(
        data_dir=tmp_path / "data",
        redis_url=REDIS_URL,
        redis_key_prefix=prefix,
        progress_flush_timeout_s=5.0,
        api_trusted_hosts=["testserver", "127.0.0.1", "localhost"],  # TestClient's host too
        webhook_backoff_s=0.2,
        webhook_backoff_max_s=5.0,
        webhook_timeout_s=5.0,
        webhook_max_attempts=5,
        webhook_lease_s=30.0,
        webhook_allow_private=True,  # the receiver listens on loopback
    )
