"""API fixtures: the real app on the real Redis, store and Prefect server, and one worker.

Everything shared by the package (data folder, Redis prefix, deployments, the worker) is
package-scoped: deploying and starting a worker costs ~20 s, so it happens once, and the worker
stops before other packages' tests start their own on the same pool.
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

from reelflow.api.app import create_app
from reelflow.api.config import ApiConfig
from reelflow.settings import Settings
from reelflow.store import Store
from tests.api.helpers import ApiUser, Worker, start_worker
from tests.deployed import cancel_unfinished_runs
from tests.redis_server import free_port

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(scope="package")
def api_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("api") / "data"


@pytest.fixture(scope="package")
def api_prefix(redis_up: None) -> Iterator[str]:
    """A Redis key prefix of this package's tests; its keys are deleted afterwards."""
    value = f"test-api-{uuid.uuid4().hex[:10]}"
    yield value
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(f"{value}:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture(scope="package")
def api_settings(api_data: Path, api_prefix: str) -> Settings:
    return Settings(
        data_dir=api_data,
        api_trusted_hosts=["testserver", "127.0.0.1", "localhost"],  # TestClient's host too
        redis_url=REDIS_URL,
        redis_key_prefix=api_prefix,
        enable_gpu_acceleration=False,
        max_upload_mb=2.0,
        websocket_ping_interval=2.0,  # wakes WebSocket loops that wait for a deadline
        progress_flush_timeout_s=5.0,
        queue_status_refresh_s=1.0,
        ws_query_token=True,  # these tests use ?token=; tests/security checks the default (off)
        api_docs=True,  # test_fuzz reads /openapi.json
    )


@pytest.fixture(scope="package")
def api_config(api_settings: Settings) -> ApiConfig:
    # generous: tests that check the limit build an app with a small one
    return replace(ApiConfig.from_settings(api_settings), rate_limit_reels=10_000)


@pytest.fixture(scope="package")
def deployed(deployed_once: str) -> str:
    """prefect.yaml deployed on the session's Prefect server, no run of another test pending."""
    cancel_unfinished_runs(deployed_once)
    return deployed_once


@pytest.fixture(scope="package")
def client(deployed: str, api_settings: Settings, api_config: ApiConfig) -> Iterator[TestClient]:
    """The app (lifespan started) on the package's settings."""
    with TestClient(create_app(api_settings, config=api_config)) as test_client:
        yield test_client


@pytest.fixture(scope="package")
def live_server(deployed: str, api_settings: Settings, api_config: ApiConfig) -> Iterator[str]:
    """The app under uvicorn on a loopback port (a thread of this process); its base URL."""
    port = free_port()
    app = create_app(api_settings, config=api_config)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="api-under-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=15)


@pytest.fixture(scope="package")
def worker(deployed: str, api_settings: Settings) -> Iterator[Worker]:
    """A process worker on the cpu pool with the package's data folder and Redis prefix, and
    one on the batch pool (batch runs wait for their children there, off the render slots)."""
    running = start_worker(deployed, api_settings)
    batches = start_worker(deployed, api_settings, pool="batch")
    try:
        yield running
    finally:
        batches.stop()
        running.stop()


@pytest.fixture(scope="package")
def store(api_settings: Settings) -> Iterator[Store]:
    with Store(api_settings) as opened:
        yield opened


def _user(store: Store, name: str, plan: str = "standard") -> ApiUser:
    user, token = store.create_user(name, plan=plan)
    return ApiUser(id=user.id, token=token, plan=plan)


@pytest.fixture
def alice(store: Store) -> ApiUser:
    return _user(store, "alice")


@pytest.fixture
def bob(store: Store) -> ApiUser:
    return _user(store, "bob")


@pytest.fixture
def premium(store: Store) -> ApiUser:
    return _user(store, "paula", plan="premium")
