"""The async read side against the real Redis: status, replay, user index, live subscription."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import redis
import redis.asyncio as aioredis

from reelflow.progress.keys import ProgressKeys
from reelflow.progress.reader import get_status, record_queued, replay, subscribe, user_tasks
from reelflow.progress.redis_sink import RedisProgressSink
from reelflow.progress.reporter import ProgressReporter
from reelflow.settings import Settings
from tests.progress.conftest import REDIS_URL
from tests.progress.helpers import event

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def async_client(decode: bool = False) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(REDIS_URL, decode_responses=decode)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.mark.parametrize("decode", [False, True])
async def test_get_status_is_typed(psettings: Settings, decode: bool) -> None:
    sink = RedisProgressSink(psettings)
    reporter = ProgressReporter("run-1", "u1", [sink], min_interval_s=0)
    reporter.milestone("words", 20, "42 words")
    reporter.status("completed", output={"video": "/v.mp4", "poster": "/p.jpg"})
    sink.close()
    async with async_client(decode) as client:
        status = await get_status(client, psettings, "run-1")
        assert await get_status(client, psettings, "nope") is None
    assert status is not None
    assert status["status"] == "completed" and status["progress"] == 100.0
    assert status["seq"] == 2 and status["last_seq"] == 2 and status["attempt"] == 1
    assert status["output"] == {"video": "/v.mp4", "poster": "/p.jpg"}
    assert status["error"] is None and status["user_id"] == "u1"
    assert {"created_at", "updated_at", "timestamp", "event_id"} <= status.keys()


async def test_replay_returns_exactly_the_missed_events(psettings: Settings) -> None:
    sink = RedisProgressSink(psettings)
    reporter = ProgressReporter("run-1", "u1", [sink], min_interval_s=0)
    emitted = [reporter.milestone("render", n * 10) for n in range(10)]
    sink.emit(emitted[6])  # a redelivery must not show up twice
    sink.close()
    async with async_client() as client:
        missed = await replay(client, psettings, "run-1", after_seq=4)
        everything = await replay(client, psettings, "run-1")
        nothing = await replay(client, psettings, "unknown-run", after_seq=0)
    assert missed == emitted[4:]
    assert everything == emitted
    assert nothing == []


async def test_replay_orders_late_events_by_seq(psettings: Settings) -> None:
    sink = RedisProgressSink(psettings)
    for seq in (1, 3, 2, 4):
        sink.emit(event(seq))
    sink.close()
    async with async_client() as client:
        assert [e.seq for e in await replay(client, psettings, "run-1", after_seq=1)] == [2, 3, 4]


async def test_user_tasks_lists_active_and_all(psettings: Settings, rclient: redis.Redis) -> None:
    sink = RedisProgressSink(psettings)
    sink.emit(event(1, task_id="done", user_id="u1"))
    sink.emit(event(2, "completed", task_id="done", user_id="u1"))
    sink.emit(event(1, task_id="busy", user_id="u1", progress=40))
    sink.emit(event(1, task_id="theirs", user_id="u2"))
    sink.emit(event(1, task_id="gone", user_id="u1"))
    sink.close()
    rclient.delete(ProgressKeys.from_settings(psettings).status("gone"))  # as if expired
    async with async_client() as client:
        active = await user_tasks(client, psettings, "u1")
        every = await user_tasks(client, psettings, "u1", active_only=False)
        assert await user_tasks(client, psettings, "nobody") == []
    assert [t["task_id"] for t in active] == ["busy"]
    assert active[0]["progress"] == 40.0
    assert sorted(t["task_id"] for t in every) == ["busy", "done"]
    # the expired task was dropped from the index on the way
    assert "gone" not in rclient.zrange(
        ProgressKeys.from_settings(psettings).user_tasks("u1"), 0, -1
    )


async def test_record_queued_then_worker_numbers_on(psettings: Settings) -> None:
    async with async_client() as client:
        queued = await record_queued(client, psettings, "run-1", "u1", details="standard queue")
        assert queued is not None and queued.seq == 1
        assert (await get_status(client, psettings, "run-1"))["status"] == "queued"
        assert await user_tasks(client, psettings, "u1") != []
        # the worker picks the run up and continues after the API's event
        sink = RedisProgressSink(psettings)
        reporter = ProgressReporter(
            "run-1", "u1", [sink], min_interval_s=0, start_seq=sink.last_seq("run-1")
        )
        reporter.status("running")
        sink.close()
        # a repeated trigger (same idempotency key) must not drag the run back to queued
        assert await record_queued(client, psettings, "run-1", "u1") is None
        status = await get_status(client, psettings, "run-1")
        events = await replay(client, psettings, "run-1")
    assert status["status"] == "running" and status["seq"] == 2
    assert [(e.seq, e.status) for e in events] == [(1, "queued"), (2, "running")]


async def test_worker_first_then_queued_loses_the_race(psettings: Settings) -> None:
    sink = RedisProgressSink(psettings)
    ProgressReporter("run-1", "u1", [sink], min_interval_s=0).status("running")
    sink.close()
    async with async_client() as client:
        assert await record_queued(client, psettings, "run-1", "u1") is None
        assert (await get_status(client, psettings, "run-1"))["status"] == "running"


async def test_queued_with_the_same_seq_yields_to_the_worker(psettings: Settings) -> None:
    # the worker read last_seq before the API wrote "queued": both events carry seq 1
    sink = RedisProgressSink(psettings)
    async with async_client() as client:
        await record_queued(client, psettings, "run-1", "u1")
        sink.emit(event(1, "running"))
        assert (await get_status(client, psettings, "run-1"))["status"] == "running"
    sink.close()


async def test_subscribe_relays_live_events_in_order(psettings: Settings) -> None:
    sink = RedisProgressSink(psettings)
    reporter = ProgressReporter("run-1", "u1", [sink], min_interval_s=0)
    other_user = ProgressReporter("run-2", "u2", [sink], min_interval_s=0)

    def run_reel() -> None:
        reporter.status("running")
        other_user.status("running")
        for percent in (10, 20, 30, 90, 100):
            reporter.milestone("stage", percent)
        reporter.status("completed")

    async with async_client() as client, subscribe(client, psettings, "u1") as live:
        thread = threading.Thread(target=run_reel)
        thread.start()
        received = [await asyncio.wait_for(anext(live), timeout=5) for _ in range(7)]
        thread.join(timeout=10)
    sink.close()
    assert [e.seq for e in received] == [1, 2, 3, 4, 5, 6, 7]
    assert {e.task_id for e in received} == {"run-1"}
    assert received[-1].status == "completed"


async def test_plain_async_for_subscribes_lazily(psettings: Settings) -> None:
    sink = RedisProgressSink(psettings)
    async with async_client() as client:
        live = subscribe(client, psettings, "u1")
        waiter = asyncio.ensure_future(anext(live))
        # publish until the lazy subscription is up and catches one
        for seq in range(1, 100):
            await asyncio.to_thread(sink.emit, event(seq))
            done, _ = await asyncio.wait({waiter}, timeout=0.05)
            if done:
                break
        first = waiter.result()
        await live.aclose()
        with pytest.raises(StopAsyncIteration):
            await anext(live)
    sink.close()
    assert first.task_id == "run-1"
