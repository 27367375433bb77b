"""Webhook delivery end to end: the emit script queues the ending, the dispatcher POSTs it to a
real HTTP receiver on loopback, signed, retried with backoff, at least once."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import uuid

import pytest
import redis
import redis.asyncio as aioredis

from reelflow.progress import ProgressEvent, RedisProgressSink
from reelflow.progress.keys import ProgressKeys
from reelflow.settings import Settings
from reelflow.webhooks.dispatcher import GROUP, WebhookDispatcher, WebhookTarget, backoff_s
from tests.webhooks.conftest import REDIS_URL, Receiver

SECRET = "s3cret-for-tests"
pytestmark = pytest.mark.usefixtures("redis_up")


def _event(task_id: str, status: str, seq: int, *, attempt: int = 1) -> ProgressEvent:
    return ProgressEvent(
        task_id=task_id,
        user_id="u1",
        status=status,
        stage="stored" if status == "completed" else "",
        progress=100.0 if status == "completed" else 40.0,
        seq=seq,
        attempt=attempt,
        error="boom" if status == "failed" else None,
    )


def _emit(settings: Settings, *events: ProgressEvent) -> None:
    sink = RedisProgressSink(settings)
    for event in events:
        sink.emit(event)
    sink.close()


def _outbox(settings: Settings) -> list[dict]:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        stream = ProgressKeys.from_settings(settings).webhooks()
        return [
            {k.decode(): v.decode() for k, v in fields.items()}
            for _id, fields in client.xrange(stream)
        ]
    finally:
        client.close()


def _verify(secret: str, delivery) -> None:
    expected = "sha256=" + hmac.new(secret.encode(), delivery.body, hashlib.sha256).hexdigest()
    assert delivery.headers["X-Reelflow-Signature"] == expected


async def _dispatch_until(settings, targets, done, *, timeout_s=20.0, consumer=None):
    client = aioredis.Redis.from_url(REDIS_URL)
    dispatcher = WebhookDispatcher(settings, client, targets, consumer=consumer)
    task = asyncio.create_task(dispatcher.run())
    try:
        async with asyncio.timeout(timeout_s):
            while not await asyncio.to_thread(done):
                await asyncio.sleep(0.05)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await client.aclose()


def _to(url: str):
    async def targets(user_id: str, task_id: str) -> WebhookTarget | None:
        assert user_id == "u1"
        return WebhookTarget(url=url, secret=SECRET, output={"video": f"/v/{task_id}"})

    return targets


def test_outbox_holds_each_announced_ending_once(wsettings: Settings) -> None:
    task_id = str(uuid.uuid4())
    done = _event(task_id, "completed", 3)
    _emit(wsettings, _event(task_id, "running", 1), _event(task_id, "running", 2), done)
    _emit(wsettings, done)  # redelivered (spool, replay): stored once, queued once
    entries = _outbox(wsettings)
    assert [e["event_id"] for e in entries] == [done.event_id]
    assert entries[0]["task_id"] == task_id and entries[0]["user_id"] == "u1"

    crashed = str(uuid.uuid4())  # a crash is resubmitted, not announced
    _emit(wsettings, _event(crashed, "running", 1), _event(crashed, "crashed", 2))
    # an ending of a superseded attempt is not the run's state: not announced either
    _emit(wsettings, _event(crashed, "running", 3, attempt=2), _event(crashed, "failed", 4))
    assert [e["event_id"] for e in _outbox(wsettings)] == [done.event_id]


def test_receiver_failing_twice_gets_the_same_signed_event_with_backoff(
    wsettings: Settings, receiver: Receiver
) -> None:
    receiver.fail_first = 2
    task_id = str(uuid.uuid4())
    failed = _event(task_id, "failed", 2)
    _emit(wsettings, _event(task_id, "running", 1), failed)

    asyncio.run(_dispatch_until(wsettings, _to(receiver.url), lambda: not _outbox(wsettings)))

    deliveries = receiver.wait_for(3)
    assert len(deliveries) == 3
    assert len({d.body for d in deliveries}) == 1  # byte-identical: same id, same signature
    for d in deliveries:
        _verify(SECRET, d)
        assert d.headers["X-Reelflow-Event-Id"] == failed.event_id
    body = deliveries[0].json
    assert body["id"] == failed.event_id and body["type"] == "reel.failed"
    assert body["task_id"] == task_id and body["error"] == "boom" and body["output"] is None
    assert [d.headers["X-Reelflow-Delivery-Attempt"] for d in deliveries] == ["1", "2", "3"]
    gaps = [b.at - a.at for a, b in itertools.pairwise(deliveries)]
    assert gaps[0] >= 0.2 - 0.02 and gaps[1] >= 0.4 - 0.02, gaps  # exponential backoff
    assert not _outbox(wsettings)  # acknowledged and removed once delivered


def test_completed_event_carries_output_and_a_wrong_secret_does_not_verify(
    wsettings: Settings, receiver: Receiver
) -> None:
    task_id = str(uuid.uuid4())
    _emit(wsettings, _event(task_id, "completed", 1))
    asyncio.run(_dispatch_until(wsettings, _to(receiver.url), lambda: not _outbox(wsettings)))
    (delivery,) = receiver.wait_for(1)
    assert delivery.json["output"] == {"video": f"/v/{task_id}"}
    assert delivery.json["type"] == "reel.completed"
    with pytest.raises(AssertionError):
        _verify("another-secret", delivery)


def test_an_entry_claimed_by_a_dispatcher_that_died_is_delivered_by_another(
    wsettings: Settings, receiver: Receiver
) -> None:
    task_id = str(uuid.uuid4())
    cancelled = _event(task_id, "cancelled", 2)
    _emit(wsettings, _event(task_id, "running", 1), cancelled)
    stream = ProgressKeys.from_settings(wsettings).webhooks()
    client = redis.Redis.from_url(REDIS_URL)
    try:
        # a dispatcher takes the entry and dies before acknowledging it
        client.xgroup_create(stream, GROUP, id="0", mkstream=True)
        taken = client.xreadgroup(GROUP, "dead-process", {stream: ">"}, count=10)
        assert len(taken[0][1]) == 1
    finally:
        client.close()
    short_lease = wsettings.model_copy(update={"webhook_lease_s": 0.5})
    asyncio.run(_dispatch_until(short_lease, _to(receiver.url), lambda: not _outbox(wsettings)))
    (delivery,) = receiver.wait_for(1)
    assert delivery.json["id"] == cancelled.event_id


def test_stopped_dispatcher_hands_its_retries_back(wsettings: Settings, receiver: Receiver) -> None:
    receiver.fail_first = 1
    slow = wsettings.model_copy(
        update={"webhook_backoff_s": 60.0}
    )  # would wait a minute before retrying
    task_id = str(uuid.uuid4())
    _emit(wsettings, _event(task_id, "completed", 1))
    asyncio.run(_dispatch_until(slow, _to(receiver.url), lambda: len(receiver.deliveries) >= 1))
    assert len(_outbox(wsettings)) == 1  # not delivered, not lost
    # the next dispatcher need not wait for the lease: the stopped one handed the entry back
    asyncio.run(_dispatch_until(wsettings, _to(receiver.url), lambda: not _outbox(wsettings)))
    assert len(receiver.wait_for(2)) == 2


def test_runs_without_a_webhook_are_acknowledged_without_posting(wsettings: Settings) -> None:
    async def none(user_id: str, task_id: str) -> None:
        return None

    _emit(wsettings, _event(str(uuid.uuid4()), "completed", 1))
    asyncio.run(_dispatch_until(wsettings, none, lambda: not _outbox(wsettings)))


def test_backoff_doubles_up_to_its_cap() -> None:
    waits = [backoff_s(n, first_s=2.0, max_s=30.0) for n in range(1, 7)]
    assert waits == [2.0, 4.0, 8.0, 16.0, 30.0, 30.0]


def test_an_unreachable_receiver_is_given_up_after_the_last_attempt(
    wsettings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.redis_server import free_port

    quick = wsettings.model_copy(update={"webhook_max_attempts": 3, "webhook_backoff_s": 0.05})
    dead = f"http://127.0.0.1:{free_port()}/nobody-listens"
    _emit(wsettings, _event(str(uuid.uuid4()), "failed", 1))
    with caplog.at_level("WARNING", logger="reelflow.webhooks.dispatcher"):
        asyncio.run(_dispatch_until(quick, _to(dead), lambda: not _outbox(wsettings)))
    assert "given up after 3 attempts" in caplog.text
    assert caplog.text.count("retry in") == 2


def test_private_addresses_are_refused_unless_allowed(
    wsettings: Settings, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    guarded = wsettings.model_copy(update={"webhook_allow_private": False})
    _emit(wsettings, _event(str(uuid.uuid4()), "completed", 1))
    with caplog.at_level("ERROR", logger="reelflow.webhooks.dispatcher"):
        asyncio.run(_dispatch_until(guarded, _to(receiver.url), lambda: not _outbox(wsettings)))
    assert not receiver.deliveries  # given up at once, nothing sent
    assert "non-public address 127.0.0.1" in caplog.text
