"""Delivering the webhook outbox: at least once, with exponential backoff, off the render's path.

The outbox is a Redis stream the emit script appends to when it stores a run's ending, so an
ending is never stored without its webhook being queued, whichever process stored it. Every API
process runs one dispatcher in a shared consumer group: an entry is acknowledged (and deleted)
only after a 2xx answer or the last attempt. While an entry is retried its owner touches it
before each attempt; an entry whose owner died (or stopped) is idle past `webhook_lease_s` and
another dispatcher (or the next start) claims it, so a restart repeats a delivery rather than
losing it. Receivers deduplicate on the event id, which every attempt repeats.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from reelflow.progress.keys import ProgressKeys
from reelflow.settings import Settings
from reelflow.webhooks.payload import EVENT_ID_HEADER, SIGNATURE_HEADER, event_body, sign

log = logging.getLogger(__name__)

GROUP = "webhooks"
_READ_BLOCK_MS = 1000
_REDIS_RETRY_S = 2.0


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    """Where and how one run's ending is announced."""

    url: str
    secret: str
    kind: str = "reel"
    output: dict[str, str] | None = None


# (user_id, task_id) -> the target, or None when the run has no webhook.
TargetLookup = Callable[[str, str], Awaitable[WebhookTarget | None]]


def backoff_s(attempt: int, *, first_s: float, max_s: float) -> float:
    """Wait after failed attempt `attempt` (1-based): first_s, 2 first_s, 4 first_s, ... max_s."""
    return min(max_s, first_s * 2 ** (attempt - 1))


class WebhookDispatcher:
    """Delivers the outbox of `settings.redis_key_prefix` until cancelled."""

    def __init__(
        self,
        settings: Settings,
        client: aioredis.Redis,
        targets: TargetLookup,
        *,
        concurrency: int = 16,
        consumer: str | None = None,
    ) -> None:
        self.settings = settings
        self.client = client
        self.targets = targets
        self.stream = ProgressKeys.from_settings(settings).webhooks()
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        self._slots = asyncio.Semaphore(concurrency)
        self._concurrency = concurrency
        self._active: dict[str, asyncio.Task] = {}
        self._lease_ms = int(settings.webhook_lease_s * 1000)

    async def run(self) -> None:
        """Claim and deliver outbox entries forever (cancel to stop; undelivered ones stay)."""
        try:
            while True:
                try:
                    await self._ensure_group()
                    for entry_id, fields in await self._next_entries():
                        if entry_id not in self._active and fields:
                            task = asyncio.create_task(self._deliver(entry_id, fields))
                            self._active[entry_id] = task
                except (aioredis.RedisError, OSError) as exc:
                    log.warning("webhook outbox unreachable (%s); retrying", exc)
                    await asyncio.sleep(_REDIS_RETRY_S)
        finally:
            await self._hand_back()

    async def _ensure_group(self) -> None:
        try:
            await self.client.xgroup_create(self.stream, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def _next_entries(self) -> list[tuple[str, dict]]:
        room = self._concurrency - len(self._active)
        if room <= 0:
            await asyncio.sleep(_READ_BLOCK_MS / 1000)
            return []
        # entries whose dispatcher died or stopped: idle past the lease
        _, claimed, *_ = await self.client.xautoclaim(
            self.stream, GROUP, self.consumer, self._lease_ms, "0-0", count=room
        )
        entries = [(_text(i), f) for i, f in claimed if f]
        read = await self.client.xreadgroup(
            GROUP,
            self.consumer,
            {self.stream: ">"},
            count=max(1, room - len(entries)),
            block=None if entries else _READ_BLOCK_MS,  # BLOCK 0 would wait forever
        )
        for _stream, items in read or []:
            entries += [(_text(i), f) for i, f in items if f]
        return entries

    async def _deliver(self, entry_id: str, fields: dict) -> None:
        settings = self.settings
        try:
            event = json.loads(_text(fields[b"event"]))
            user_id, task_id = _text(fields[b"user_id"]), _text(fields[b"task_id"])
            for attempt in range(1, settings.webhook_max_attempts + 1):
                await self._touch(entry_id)
                outcome = await self._attempt(user_id, task_id, event, attempt)
                if outcome in ("delivered", "no webhook") or outcome.startswith(_REFUSED):
                    if outcome.startswith(_REFUSED):
                        log.error("webhook of run %s not sent: %s", task_id, outcome)
                    break
                if attempt == settings.webhook_max_attempts:
                    log.error(
                        "webhook %s of run %s given up after %d attempts: %s",
                        event["event_id"],
                        task_id,
                        attempt,
                        outcome,
                    )
                    break
                first_s, max_s = settings.webhook_backoff_s, settings.webhook_backoff_max_s
                wait = backoff_s(attempt, first_s=first_s, max_s=max_s)
                log.warning(
                    "webhook %s of run %s: %s; retry in %.1f s",
                    event["event_id"],
                    task_id,
                    outcome,
                    wait,
                )
                await asyncio.sleep(wait)
            await self._ack(entry_id)
        except (KeyError, ValueError) as exc:  # not an entry the emit script wrote
            log.error("dropping malformed webhook outbox entry %s: %s", entry_id, exc)
            await self._ack(entry_id)
        except (aioredis.RedisError, OSError) as exc:
            # not acknowledged: it stays pending, and is claimed again after the lease
            log.warning("webhook outbox entry %s left pending: %s", entry_id, exc)
        finally:
            self._active.pop(entry_id, None)

    async def _attempt(self, user_id: str, task_id: str, event: dict, attempt: int) -> str:
        """One delivery attempt: "delivered", "no webhook", or why it failed."""
        try:
            target = await self.targets(user_id, task_id)
        except Exception as exc:  # the store is down: the target is unknown for now
            return f"target unknown ({exc})"
        if target is None:
            return "no webhook"
        if not self.settings.webhook_allow_private:
            refused = await _private_address(target.url)
            if refused:
                return f"{_REFUSED}{refused}"
        body = event_body(event, kind=target.kind, output=target.output)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "reelflow-webhooks/1",
            SIGNATURE_HEADER: sign(target.secret, body),
            EVENT_ID_HEADER: event["event_id"],
            "X-Reelflow-Delivery-Attempt": str(attempt),
        }
        timeout = httpx.Timeout(self.settings.webhook_timeout_s)
        async with self._slots:
            try:
                # no redirects: a webhook goes where its owner said, or it fails
                async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as http:
                    response = await http.post(target.url, content=body, headers=headers)
            except Exception as exc:  # refused, timed out, or a URL httpx cannot use
                return f"{type(exc).__name__}: {exc}"
        if 200 <= response.status_code < 300:
            log.info("webhook %s of run %s delivered", event["event_id"], task_id)
            return "delivered"
        return f"HTTP {response.status_code}"

    async def _touch(self, entry_id: str) -> None:
        # resets the entry's idle time: nobody else claims it while this dispatcher retries
        await self.client.xclaim(self.stream, GROUP, self.consumer, 0, [entry_id], justid=True)

    async def _ack(self, entry_id: str) -> None:
        pipe = self.client.pipeline(transaction=True)
        pipe.xack(self.stream, GROUP, entry_id)
        pipe.xdel(self.stream, entry_id)
        await pipe.execute()

    async def _hand_back(self) -> None:
        """Stop deliveries in flight and make their entries claimable at once by others."""
        tasks = list(self._active.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(aioredis.RedisError, OSError):
            pending = await self.client.xpending_range(
                self.stream, GROUP, min="-", max="+", count=1000, consumername=self.consumer
            )
            ids = [_text(p["message_id"]) for p in pending]
            if ids:
                await self.client.xclaim(
                    self.stream, GROUP, self.consumer, 0, ids, idle=self._lease_ms, justid=True
                )


_REFUSED = "refused: "


async def _private_address(url: str) -> str | None:
    """Why `url` must not be called (its host resolves to a loopback, private, link-local or
    otherwise non-public address), or None. Resolving here and connecting later leaves DNS
    rebinding open; a deployment that fears it also filters egress at the network."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return None  # unresolvable now: the POST fails and is retried like any other failure
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if not address.is_global:
            return f"{host} resolves to the non-public address {address}"
    return None


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
