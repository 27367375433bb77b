"""Async read side of the progress system, for the API and its WebSocket relay.

A viewer that must not miss anything does, in this order:

    async with subscribe(client, settings, user_id) as live:    # subscribed from here on
        for status in await user_tasks(client, settings, user_id):
            send(status)                                         # current state of active runs
        for event in await replay(client, settings, task_id, after_seq=n):
            send(event)                                          # what it missed
        async for event in live:                                 # then live events
            send(event)

and de-duplicates by `event_id` (an event may arrive both by replay and live). If the live
iterator raises `redis.ConnectionError` (Redis restarted), subscribe again and replay from the
last seq seen per task: pub/sub does not keep messages for absent subscribers, the stream does.
"""

from __future__ import annotations

import logging
from typing import Any

import redis.asyncio as aioredis
from pydantic import ValidationError

from reelflow.progress.events import TERMINAL, ProgressEvent
from reelflow.progress.keys import ProgressKeys
from reelflow.progress.script import EMIT_LUA, EMIT_SKIPPED, decode_status, emit_call
from reelflow.settings import Settings

log = logging.getLogger(__name__)

_SUBSCRIBE_TIMEOUT_S = 5.0


async def get_status(
    client: aioredis.Redis, settings: Settings, task_id: str
) -> dict[str, Any] | None:
    """The latest persisted state of a run (every event field + created_at, updated_at,
    last_seq), typed; None if the run is unknown or expired."""
    raw = await client.hgetall(ProgressKeys.from_settings(settings).status(task_id))
    return decode_status(raw)


async def statuses_of(
    client: aioredis.Redis, settings: Settings, task_ids: list[str]
) -> dict[str, str | None]:
    """Each run's progress status name (``queued``, ``running``...), None where unknown."""
    if not task_ids:
        return {}
    keys = ProgressKeys.from_settings(settings)
    async with client.pipeline(transaction=False) as pipe:
        for task_id in task_ids:
            pipe.hget(keys.status(task_id), "status")
        values = await pipe.execute()
    return {
        t: (v.decode() if isinstance(v, bytes) else v)
        for t, v in zip(task_ids, values, strict=True)
    }


async def replay(
    client: aioredis.Redis, settings: Settings, task_id: str, after_seq: int = 0
) -> list[ProgressEvent]:
    """The run's stored events with seq > `after_seq`, in seq order, each event id once.

    The stream keeps about `settings.progress_stream_maxlen` events: older ones are gone.
    """
    entries = await client.xrange(ProgressKeys.from_settings(settings).events(task_id))
    events: dict[str, ProgressEvent] = {}
    for entry_id, fields in entries:
        data = fields.get(b"event", fields.get("event"))
        try:
            event = ProgressEvent.model_validate_json(data)
        except (ValidationError, TypeError) as exc:
            log.warning("skipping unreadable stream entry %s of %s: %s", entry_id, task_id, exc)
            continue
        if event.seq > after_seq:
            events.setdefault(event.event_id, event)
    # sorted() is stable: events sharing a seq keep their stream order
    return sorted(events.values(), key=lambda event: event.seq)


async def user_tasks(
    client: aioredis.Redis,
    settings: Settings,
    user_id: str,
    active_only: bool = True,
    *,
    limit: int = 500,
) -> list[dict[str, Any]]:
    """The user's runs (status dicts as `get_status`), most recently updated first.

    `active_only` leaves out completed, failed, crashed and cancelled runs.
    """
    keys = ProgressKeys.from_settings(settings)
    index = keys.user_tasks(user_id)
    task_ids = [_text(t) for t in await client.zrevrange(index, 0, limit - 1)]
    if not task_ids:
        return []
    async with client.pipeline(transaction=False) as pipe:
        for task_id in task_ids:
            pipe.hgetall(keys.status(task_id))
        raws = await pipe.execute()
    tasks, expired = [], []
    for task_id, raw in zip(task_ids, raws, strict=True):
        status = decode_status(raw)
        if status is None:
            expired.append(task_id)
        elif not (active_only and status["status"] in TERMINAL):
            tasks.append(status)
    if expired:
        # the hash expired but the index outlived it (it is refreshed by the user's other runs)
        await client.zrem(index, *expired)
    return tasks


async def record_queued(
    client: aioredis.Redis,
    settings: Settings,
    task_id: str,
    user_id: str | None,
    *,
    details: str = "",
) -> ProgressEvent | None:
    """Mark a just-triggered run `queued` (seq 1) so early viewers see it; call it right after
    creating the flow run. Does nothing (returns None) if the run already reported a state;
    the worker's reporter starts at `last_seq`, so it numbers on from this event."""
    event = ProgressEvent(
        task_id=task_id, user_id=user_id, status="queued", progress=0.0, details=details, seq=1
    )
    keys, args = emit_call(
        ProgressKeys.from_settings(settings),
        event,
        ttl_s=settings.progress_ttl_s,
        maxlen=settings.progress_stream_maxlen,
        only_if_new=True,
    )
    code = await client.register_script(EMIT_LUA)(keys=keys, args=args)
    return None if int(code) == EMIT_SKIPPED else event


class Subscription:
    """Async iterator over one user's live events (pub/sub).

    `async with` subscribes on entry, so the caller can replay knowing nothing published from
    then on is missed; plain `async for` subscribes lazily on the first iteration (call `aclose`).
    Raises `redis.ConnectionError` when the connection drops.
    """

    def __init__(self, client: aioredis.Redis, channel: str) -> None:
        self.channel = channel
        self._client = client
        self._pubsub: Any = None
        self._closed = False

    async def start(self) -> Subscription:
        """Subscribe and wait for the server's confirmation (idempotent)."""
        if self._pubsub is None and not self._closed:
            pubsub = self._client.pubsub()
            await pubsub.subscribe(self.channel)
            # only once confirmed is the subscription guaranteed to see later publishes
            message = await pubsub.get_message(timeout=_SUBSCRIBE_TIMEOUT_S)
            if message is None or message["type"] != "subscribe":
                await pubsub.aclose()
                raise TimeoutError(f"no subscribe confirmation for {self.channel}: {message}")
            self._pubsub = pubsub
        return self

    async def aclose(self) -> None:
        """Unsubscribe and release the connection."""
        self._closed = True
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            await pubsub.aclose()

    async def __aenter__(self) -> Subscription:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> ProgressEvent:
        await self.start()
        while self._pubsub is not None:
            message = await self._pubsub.get_message(timeout=None)
            if message is None or message["type"] != "message":
                continue
            try:
                return ProgressEvent.model_validate_json(message["data"])
            except ValidationError as exc:
                log.warning("skipping malformed progress message on %s: %s", self.channel, exc)
        raise StopAsyncIteration


def subscribe(client: aioredis.Redis, settings: Settings, user_id: str) -> Subscription:
    """Live `ProgressEvent`s of every run of `user_id` (see `Subscription`)."""
    return Subscription(client, ProgressKeys.from_settings(settings).channel(user_id))


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
