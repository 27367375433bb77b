"""The hostile-input suite's fixtures: the real app on the real Redis and store, no Prefect runs.

The API runs under uvicorn in a thread of this process, so the memory the tests measure
(``rss_mb``) is the API's own; a second app instance through `TestClient` serves cases that
need no socket-level behaviour.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import redis
import uvicorn
from fastapi.testclient import TestClient

from reelflow.api.config import ApiConfig
from reelflow.settings import Settings
from reelflow.store import Store
from tests.api.helpers import ApiUser
from tests.apps import app_without_prefect
from tests.redis_server import free_port

REDIS_URL = "redis://127.0.0.1:6379/0"
API = "/api/v1"


def rss_mb() -> float:
    """Resident memory of this process (the API's, when it runs in a thread here), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


@pytest.fixture(scope="package")
def sec_prefix(redis_up: None) -> Iterator[str]:
    value = f"test-sec-{uuid.uuid4().hex[:10]}"
    yield value
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(f"{value}:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture(scope="package")
def sec_settings(tmp_path_factory: pytest.TempPathFactory, sec_prefix: str) -> Settings:
    return Settings(
        data_dir=tmp_path_factory.mktemp("sec") / "data",
        api_trusted_hosts=["testserver", "127.0.0.1", "localhost"],  # TestClient's host too
        redis_url=REDIS_URL,
        redis_key_prefix=sec_prefix,
        enable_gpu_acceleration=False,
        max_upload_mb=2.0,
        websocket_ping_interval=2.0,
    )


@pytest.fixture(scope="package")
def sec_config(sec_settings: Settings) -> ApiConfig:
    # No Prefect server: these tests never start a run; a trigger answers 503 after validation.
    return replace(ApiConfig.from_settings(sec_settings), prefect_api_url=None)


@pytest.fixture(scope="package")
def sec_client(sec_settings: Settings, sec_config: ApiConfig) -> Iterator[TestClient]:
    with TestClient(app_without_prefect(sec_settings, sec_config)) as client:
        yield client


@pytest.fixture(scope="package")
def sec_server(sec_settings: Settings, sec_config: ApiConfig) -> Iterator[str]:
    """The app under uvicorn on a loopback port (a thread of this process); its base URL."""
    port = free_port()
    app = app_without_prefect(sec_settings, sec_config)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="api-under-attack", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=15)


@pytest.fixture(scope="package")
def sec_store(sec_settings: Settings) -> Iterator[Store]:
    with Store(sec_settings) as opened:
        yield opened


@pytest.fixture(scope="package")
def mallory(sec_store: Store) -> ApiUser:
    user, token = sec_store.create_user(f"mallory-{uuid.uuid4().hex[:6]}")
    return ApiUser(id=user.id, token=token)


@pytest.fixture(scope="package")
def victim(sec_store: Store) -> ApiUser:
    user, token = sec_store.create_user(f"victim-{uuid.uuid4().hex[:6]}")
    return ApiUser(id=user.id, token=token)
