"""Shared fixtures: isolated settings and tiny media made by the tests themselves."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from reelflow.settings import Settings
from tests import mediatools
from tests.services import missing_service


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings whose every file lives under this test's temporary folder."""
    return Settings(data_dir=tmp_path / "data", enable_gpu_acceleration=False)


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def bg_video(media: Path) -> Path:
    return mediatools.lavfi_video(media / "bg.mp4", "testsrc2", seconds=2.0)


@pytest.fixture(scope="session")
def bg_image(media: Path) -> Path:
    return mediatools.detailed_image(media / "still.png")


REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(scope="session")
def redis_up() -> None:
    """Skip loudly when the shared Redis is down: tests never mock it."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        missing_service(
            f"this test needs the real Redis, but Redis at 127.0.0.1:6379 is down ({exc}): "
            "start it with `redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save ''`"
        )
    finally:
        client.close()


@pytest.fixture
def rclient(redis_up: None) -> Iterator[redis.Redis]:
    """Sync client (str responses) on the shared Redis."""
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def prefix(rclient: redis.Redis) -> Iterator[str]:
    """A key prefix of this test only; its keys are deleted afterwards."""
    value = f"test-{uuid.uuid4().hex[:12]}"
    yield value
    keys = list(rclient.scan_iter(f"{value}:*", count=500))
    if keys:
        rclient.delete(*keys)


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real temporary Prefect server for the whole session (its API URL)."""
    os.environ.setdefault("PREFECT_HOME", str(tmp_path_factory.mktemp("prefect-home")))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_DEPLOYMENTS_CONCURRENCY_SLOT_WAIT_SECONDS", "2")
    from prefect.settings import (
        PREFECT_API_URL,
        PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
        temporary_settings,
    )
    from prefect.testing.utilities import prefect_test_harness

    # Without the heartbeat setting each flow run spends ~1 s joining its heartbeat thread.
    with (
        prefect_test_harness(server_startup_timeout=60),
        temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}),
    ):
        yield PREFECT_API_URL.value()
