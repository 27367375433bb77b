"""Redis going away mid-run: nothing raises, nothing is lost, nothing is stored twice.

Each test runs its own redis-server on a free port and stops/restarts it on that port. The
server has no persistence; `snapshot()` (SAVE) before a stop stands in for a Redis with RDB/AOF,
so the restarted server still holds the events delivered before the outage.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
import redis
import redis.asyncio as aioredis

from reelflow.progress.events import ProgressEvent
from reelflow.progress.keys import ProgressKeys
from reelflow.progress.reader import replay, subscribe
from reelflow.progress.redis_sink import RedisProgressSink, drain_spool, redis_client
from reelflow.progress.reporter import ProgressReporter
from reelflow.progress.spool import read_spool, write_spool
from reelflow.settings import Settings
from tests.progress.helpers import stream_events
from tests.redis_server import ThrowawayRedis


def outage_settings(tmp_path: Path, server: ThrowawayRedis, flush_timeout_s: float) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        redis_url=server.url,
        redis_key_prefix="outage",
        progress_flush_timeout_s=flush_timeout_s,
    )


def test_emit_survives_a_restart_and_flush_delivers_in_order(
    tmp_path: Path, throwaway: ThrowawayRedis
) -> None:
    settings = outage_settings(tmp_path, throwaway, flush_timeout_s=10)
    keys = ProgressKeys.from_settings(settings)
    sink = RedisProgressSink(settings)
    reporter = ProgressReporter("run-1", "u1", [sink], min_interval_s=0)
    reporter.status("running")
    for percent in (10, 20, 30):
        reporter.milestone("prep", percent)
    throwaway.snapshot()
    throwaway.stop()

    started = time.monotonic()
    for percent in range(40, 100, 5):
        reporter.milestone("render", percent)  # must neither raise nor stall the render
    reporter.status("completed", output={"video": "v.mp4"})
    assert time.monotonic() - started < 3
    assert sink.pending == 13

    throwaway.start()
    assert sink.flush(timeout_s=10)
    assert sink.pending == 0
    with throwaway.client() as client:
        stored = stream_events(client, keys, "run-1")
        status = client.hgetall(keys.status("run-1"))
    assert [e.seq for e in stored] == list(range(1, 18))
    assert len({e.event_id for e in stored}) == 17
    assert status["status"] == "completed" and status["last_seq"] == "17"
    sink.close()
    assert not settings.spool_dir.exists() or not any(settings.spool_dir.iterdir())


def test_close_spools_while_down_and_drain_delivers_exactly_once(
    tmp_path: Path, throwaway: ThrowawayRedis
) -> None:
    settings = outage_settings(tmp_path, throwaway, flush_timeout_s=0.5)
    keys = ProgressKeys.from_settings(settings)
    sink = RedisProgressSink(settings)
    reporter = ProgressReporter("run-1", "u1", [sink], min_interval_s=0)
    reporter.status("running")
    reporter.milestone("voice", 10)
    throwaway.snapshot()
    throwaway.stop()
    reporter.milestone("render", 50)
    reporter.milestone("render", 90)
    reporter.status("failed", error="disk full")

    started = time.monotonic()
    reporter.close()  # flush times out after 0.5 s, then spools
    assert time.monotonic() - started < 8
    spooled = list(settings.spool_dir.glob("*.jsonl"))
    assert len(spooled) == 1
    assert [e.seq for e in read_spool(spooled[0])] == [3, 4, 5]
    # a hook firing after close (Redis still down) is spooled too, not lost
    late = ProgressReporter("run-1", "u1", [sink], min_interval_s=0, start_seq=5)
    late.status("crashed", error="worker lost")
    assert len(list(settings.spool_dir.glob("*.jsonl"))) == 2

    throwaway.start()
    with throwaway.client() as client:
        assert drain_spool(settings, client) == 4
        assert list(settings.spool_dir.glob("*")) == []
        assert drain_spool(settings, client) == 0
        # a drainer that died before deleting its file: the same events come again
        events = stream_events(client, keys, "run-1")
        write_spool(settings.spool_dir, events)
        assert drain_spool(settings, client) == 0
        stored = stream_events(client, keys, "run-1")
        status = client.hgetall(keys.status("run-1"))
    assert [e.seq for e in stored] == [1, 2, 3, 4, 5, 6]
    assert status["status"] == "crashed" and status["error"] == "worker lost"


def test_drain_keeps_the_file_while_redis_is_down(
    tmp_path: Path, throwaway: ThrowawayRedis
) -> None:
    settings = outage_settings(tmp_path, throwaway, flush_timeout_s=0)
    sink = RedisProgressSink(settings)
    throwaway.stop()
    ProgressReporter("run-1", "u1", [sink], min_interval_s=0).status("running")
    sink.close()
    client = redis_client(throwaway.url)  # fails fast, unlike redis-py's default retries
    assert drain_spool(settings, client) == 0
    assert len(list(settings.spool_dir.glob("*.jsonl"))) == 1
    throwaway.start()
    assert drain_spool(settings, client) == 1
    client.close()


@pytest.mark.anyio
async def test_viewer_reconnects_and_catches_up_from_the_stream(
    tmp_path: Path, throwaway: ThrowawayRedis
) -> None:
    settings = outage_settings(tmp_path, throwaway, flush_timeout_s=10)
    sink = RedisProgressSink(settings)
    reporter = ProgressReporter("run-1", "u1", [sink], min_interval_s=0)
    client = aioredis.Redis.from_url(throwaway.url)
    seen: dict[str, ProgressEvent] = {}
    try:
        async with subscribe(client, settings, "u1") as live:
            reporter.status("running")
            reporter.milestone("voice", 10)
            for _ in range(2):
                received = await asyncio.wait_for(anext(live), timeout=5)
                seen[received.event_id] = received
            throwaway.stop()  # no snapshot: the restarted Redis has lost everything before
            with pytest.raises(redis.ConnectionError):
                await asyncio.wait_for(anext(live), timeout=5)
        for percent in (50, 90):
            reporter.milestone("render", percent)
        reporter.status("completed")
        throwaway.start()
        assert await asyncio.to_thread(sink.flush, 10)
        # the viewer's recovery: subscribe again, then replay after the last seq it saw
        async with subscribe(client, settings, "u1"):
            last = max(e.seq for e in seen.values())
            for missed in await replay(client, settings, "run-1", after_seq=last):
                seen.setdefault(missed.event_id, missed)
    finally:
        await client.aclose()
        sink.close()
    assert sorted(e.seq for e in seen.values()) == [1, 2, 3, 4, 5]
    assert max(seen.values(), key=lambda e: e.seq).status == "completed"
