"""Small helpers shared by the Redis-backed progress tests."""

from __future__ import annotations

import time

import redis

from reelflow.progress.events import ProgressEvent, Status
from reelflow.progress.keys import ProgressKeys


def event(
    seq: int,
    status: Status = "running",
    *,
    task_id: str = "run-1",
    user_id: str | None = "u1",
    attempt: int = 1,
    progress: float = 0.0,
    stage: str = "render",
) -> ProgressEvent:
    """A hand-made event, for tests that need a precise seq/status order."""
    return ProgressEvent(
        task_id=task_id,
        user_id=user_id,
        status=status,
        stage=stage,
        progress=progress,
        seq=seq,
        attempt=attempt,
    )


def stream_events(client: redis.Redis, keys: ProgressKeys, task_id: str) -> list[ProgressEvent]:
    """Every entry of a run's stream, in stream order."""
    return [
        ProgressEvent.model_validate_json(fields["event"])
        for _, fields in client.xrange(keys.events(task_id))
    ]


def read_channel(pubsub: redis.client.PubSub, count: int, timeout_s: float = 5.0) -> list[dict]:
    """The next `count` pub/sub messages (payload JSON strings), or fewer after `timeout_s`."""
    messages: list[dict] = []
    deadline = time.monotonic() + timeout_s
    while len(messages) < count and time.monotonic() < deadline:
        message = pubsub.get_message(ignore_subscribe_messages=True, timeout=0.1)
        if message and message["type"] == "message":
            messages.append(message)
    return messages
