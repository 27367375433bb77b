"""Relay Prefect's own crash and cancellation events into the progress system.

State hooks report most of a run's life, but ``on_crashed`` and ``on_cancellation`` run in a
process the worker starts afterwards, and nothing runs at all if the worker's host died or the
run was cancelled before a worker took it. Prefect's event stream sees every state change, so
the API follows it and writes a `crashed`/`cancelled` event for runs whose progress status is
not final yet. The Prefect event id (the state's id) becomes the progress event id, so the
emit script stores it once however often it arrives (several API processes, the stream's
one-minute replay on reconnect, the cancel endpoint writing it first). A crashed reel is also
resubmitted here (deployments/recovery.py), once per attempt across replicas.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from typing import Any

import redis.asyncio as aioredis
from prefect.client.orchestration import PrefectClient
from prefect.events.clients import get_events_subscriber
from prefect.events.filters import EventFilter, EventNameFilter
from prefect.settings import PREFECT_API_URL, temporary_settings

from reelflow.api.cancellation import cancel_requested
from reelflow.api.intake import task_of_tags
from reelflow.deployments.recovery import resubmit
from reelflow.progress import TERMINAL, ProgressEvent, RedisProgressSink
from reelflow.progress.reader import get_status
from reelflow.settings import Settings

log = logging.getLogger(__name__)

RELAYED = {"prefect.flow-run.Crashed": "crashed", "prefect.flow-run.Cancelled": "cancelled"}
_RUN_PREFIX = "prefect.flow-run."
_TAG_PREFIX = "prefect.tag."
_SEEN_MAX = 10_000
_BACKOFF_MAX_S = 30.0


def event_id_for_state(state_id: Any) -> str:
    """The progress event id of a Prefect state change (its event id is the state id)."""
    return f"prefect-{state_id}"


class LifecycleWriter:
    """Writes final lifecycle events through the Redis progress sink, at most once each."""

    def __init__(self, settings: Settings, client: aioredis.Redis) -> None:
        self.settings = settings
        self.client = client
        self.sink = RedisProgressSink(settings)
        self._seen: OrderedDict[str, None] = OrderedDict()

    async def write(
        self, task_id: str, status: str, *, event_id: str, message: str, run_count: int = 0
    ) -> ProgressEvent | None:
        """Record that run `task_id` ended as `status`, unless its status is already final
        or it is not a run the API knows (no progress status: not ours)."""
        if event_id in self._seen:
            return None
        current = await get_status(self.client, self.settings, task_id)
        if current is None or current["status"] in TERMINAL:
            self._remember(event_id)
            return None
        attempt = max(1, run_count, int(current.get("attempt") or 1))
        last_seq = await asyncio.to_thread(self.sink.last_seq, task_id)
        event = ProgressEvent(
            task_id=task_id,
            user_id=current.get("user_id"),
            status=status,  # type: ignore[arg-type]
            stage="",
            progress=float(current.get("progress") or 0.0),
            details="reported by Prefect",
            seq=last_seq + 1,
            error=message or status,
            event_id=event_id,
            attempt=attempt,
        )
        await asyncio.to_thread(self.sink.emit, event)
        self._remember(event_id)
        return event

    def close(self) -> None:
        """Flush and close the sink."""
        self.sink.close()

    def _remember(self, event_id: str) -> None:
        self._seen[event_id] = None
        while len(self._seen) > _SEEN_MAX:
            self._seen.popitem(last=False)


def _run_id(resource_id: str) -> str | None:
    return resource_id[len(_RUN_PREFIX) :] if resource_id.startswith(_RUN_PREFIX) else None


async def relay_prefect_events(writer: LifecycleWriter, api_url: str) -> None:
    """Follow Prefect's event stream forever, reconnecting with backoff when it drops."""
    delay = 1.0
    event_filter = EventFilter(event=EventNameFilter(name=list(RELAYED)))
    while True:
        try:
            # The subscriber reads the API URL from Prefect's settings: pin it to ours.
            with temporary_settings(updates={PREFECT_API_URL: api_url}):
                subscriber = get_events_subscriber(filter=event_filter)
            async with subscriber:
                delay = 1.0
                async for event in subscriber:
                    await _handle(writer, event, api_url)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the server is away or restarting: try again later
            if cancel_requested():
                raise asyncio.CancelledError from exc
            log.warning("Prefect event stream lost (%s); reconnecting in %.0f s", exc, delay)
        if cancel_requested():
            raise asyncio.CancelledError
        await asyncio.sleep(delay)
        delay = min(delay * 2, _BACKOFF_MAX_S)


async def _resubmit_once(
    writer: LifecycleWriter, api_url: str, run_id: str, run_count: int
) -> None:
    """Resubmit a crashed reel once per attempt, whichever API replica sees the event first."""
    key = f"{writer.settings.redis_key_prefix}:resubmit:{run_id}:{run_count}"
    try:
        if not await writer.client.set(key, "1", nx=True, ex=3600):
            return  # another replica (or the stream's replay) already handled this attempt
        async with PrefectClient(api=api_url) as client:
            if await resubmit(client, run_id):
                log.info("resubmitted crashed run %s (attempt %d)", run_id, run_count + 1)
    except Exception as exc:  # never let recovery break the relay
        log.warning("could not resubmit crashed run %s: %s", run_id, exc)


def _task_of(event: Any, run_id: str) -> str:
    """The task a run's event is about: the one its task tag names, else the run itself."""
    tags = [
        r.id[len(_TAG_PREFIX) :]
        for r in getattr(event, "related", None) or []
        if r.id.startswith(_TAG_PREFIX)
    ]
    return task_of_tags(tags) or run_id


async def _handle(writer: LifecycleWriter, event: Any, api_url: str) -> None:
    status = RELAYED.get(event.event)
    run_id = _run_id(event.resource.id)
    if status is None or run_id is None:
        return
    task_id = _task_of(event, run_id)
    try:
        run_count = int(event.resource.get("prefect.run-count") or 0)
    except ValueError:
        run_count = 0
    message = event.resource.get("prefect.state-message") or ""
    if status == "crashed":
        await _resubmit_once(writer, api_url, run_id, run_count)
    try:
        written = await writer.write(
            task_id,
            status,
            event_id=event_id_for_state(event.id),
            message=message,
            run_count=run_count,
        )
    except (aioredis.RedisError, OSError) as exc:
        log.warning("could not relay %s of %s: %s", status, task_id, exc)
        return
    if written is not None:
        log.info("relayed %s of run %s from Prefect's event stream", status, task_id)
