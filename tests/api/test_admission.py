"""The per-user cap on reels waiting plus running, on the real Redis (reelflow/api/admission.py)."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from reelflow.api.admission import active_reels, admit, confirm, release
from reelflow.api.errors import ApiError
from reelflow.progress.reader import record_queued
from reelflow.settings import Settings
from reelflow.store.schema import User

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def asettings(tmp_path, prefix, redis_up) -> Settings:
    return Settings(
        data_dir=tmp_path, redis_url=REDIS_URL, redis_key_prefix=prefix, max_queued_per_user=3,
        fair_share_tiers=2,
    )  # fmt: skip


def run(coro):
    return asyncio.run(coro)


async def _client():
    return aioredis.Redis.from_url(REDIS_URL)


def test_the_cap_counts_waiting_reels_and_answers_429_with_retry_after(asettings):
    async def scenario():
        client = await _client()
        alice = User(id="alice", plan="standard")
        queues = []
        asked = []

        async def estimate() -> float:
            asked.append(1)
            return 42.4

        for n in range(3):
            admission = await admit(client, asettings, alice, 1, retry_after_s=estimate)
            await confirm(client, asettings, admission, f"run-{n}")
            await record_queued(client, asettings, f"run-{n}", "alice")
            queues.append(admission.work_queue)
        with pytest.raises(ApiError) as refused:
            await admit(client, asettings, alice, 1, retry_after_s=estimate)
        # a batch of two does not fit either, but another user is not held back
        with pytest.raises(ApiError):
            await admit(client, asettings, alice, 2)
        bob = await admit(client, asettings, User(id="bob", plan="premium"), 3)
        await client.aclose()
        return queues, refused.value, bob, asked

    queues, refused, bob, asked = run(scenario())
    assert len(asked) == 1  # the estimate is read only for the refusal
    assert queues == ["standard", "standard-2", "standard-2"]  # the last tier takes the rest
    assert refused.status_code == 429 and refused.headers == {"Retry-After": "42"}
    assert refused.field == "max_queued_per_user" and "3 reels waiting or running" in str(refused)
    assert bob.work_queue == "premium" and bob.active == 0


def test_finished_runs_and_failed_triggers_give_their_place_back(asettings, rclient):
    async def scenario():
        client = await _client()
        alice = User(id="alice", plan="premium")
        asked = []

        async def estimate() -> float:
            asked.append(1)
            return 42.4

        for n in range(3):
            admission = await admit(client, asettings, alice, 1, retry_after_s=estimate)
            await confirm(client, asettings, admission, f"run-{n}")
            await record_queued(client, asettings, f"run-{n}", "alice")
        # run-0 finished; run-1's status expired (or Redis lost it): both free their place
        rclient.hset(f"{asettings.redis_key_prefix}:task:run-0", "status", "completed")
        rclient.delete(f"{asettings.redis_key_prefix}:task:run-1")
        assert await active_reels(client, asettings, "alice") == 1
        again = await admit(client, asettings, alice, 2)
        assert again.active == 1 and again.work_queue == "premium-2"
        await release(client, asettings, again)  # the trigger failed: nothing is held
        assert await active_reels(client, asettings, "alice") == 1
        await client.aclose()

    run(scenario())


def test_concurrent_triggers_cannot_slip_past_the_cap(asettings):
    async def scenario():
        client = await _client()
        alice = User(id="alice", plan="standard")

        async def one():
            try:
                return await admit(client, asettings, alice, 1)
            except ApiError:
                return None

        results = await asyncio.gather(*(one() for _ in range(20)))
        await client.aclose()
        return [r for r in results if r is not None]

    admitted = run(scenario())
    assert len(admitted) == 3
