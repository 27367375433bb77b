"""Fixtures of the progress tests: the real Redis on 6379 under a unique prefix, and throwaway
redis-servers for outage tests."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from reelflow.settings import Settings
from tests.progress.redis_server import ThrowawayRedis

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(scope="session")
def redis_up() -> None:
    """Skip loudly when the shared Redis is down: these tests never mock it."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.skip(
            f"progress tests need the real Redis, but Redis at 127.0.0.1:6379 is down ({exc}): "
            "start it with `redis-server --port 6379 --daemonize yes`"
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
    value = f"test-progress-{uuid.uuid4().hex[:12]}"
    yield value
    keys = list(rclient.scan_iter(f"{value}:*", count=500))
    if keys:
        rclient.delete(*keys)


@pytest.fixture
def psettings(tmp_path: Path, prefix: str) -> Settings:
    """Settings on the shared Redis with this test's prefix and data folder."""
    return Settings(
        data_dir=tmp_path / "data",
        redis_url=REDIS_URL,
        redis_key_prefix=prefix,
        progress_flush_timeout_s=5.0,
        progress_update_interval=0.5,
    )


@pytest.fixture
def throwaway(tmp_path: Path) -> Iterator[ThrowawayRedis]:
    """A started redis-server on a free port; stopped at teardown whatever happened."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server binary not found: apt-get install redis-server")
    server = ThrowawayRedis(tmp_path / "redis")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
