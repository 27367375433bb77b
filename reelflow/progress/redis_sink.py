"""The Redis progress sink: live events for viewers, and a reel that never fails because of Redis.

`emit` writes an event synchronously while Redis answers (one EVALSHA: stream + status hash +
publish, atomically). When Redis does not answer, the event joins an in-memory ordered buffer and
a background thread retries with backoff; later events queue behind it, so nothing overtakes.
`close` waits up to `settings.progress_flush_timeout_s`, then spools what is left to disk for
`drain_spool` (run at worker/API start-up) to deliver. Delivery is idempotent by event id.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from itertools import islice

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from reelflow.progress.events import ProgressEvent
from reelflow.progress.keys import ProgressKeys
from reelflow.progress.script import EMIT_LUA, deliver, emit_call
from reelflow.progress.spool import drain_spool, write_spool
from reelflow.settings import Settings

__all__ = ["RedisProgressSink", "drain_spool", "redis_client"]

log = logging.getLogger(__name__)

# Errors worth retrying: the server is gone, restarting, loading, read-only after a failover or
# out of memory. redis-py wraps socket errors, OSError is a belt-and-braces catch.
_RETRYABLE = (redis.RedisError, OSError)
_SOCKET_TIMEOUT_S = 2.0  # a hung Redis stalls one emit this long, then events are buffered
_BACKOFF_START_S = 0.05
_BACKOFF_MAX_S = 2.0  # short enough that flush() notices a restarted Redis quickly
_BATCH = 200


def redis_client(url: str) -> redis.Redis:
    """A sync client suited to the sink: short timeouts and a single immediate reconnect.

    redis-py's default retries with backoff for seconds inside each command; the sink does its
    own retrying in the background, so an emit must fail fast instead of stalling the render.
    """
    return redis.Redis.from_url(
        url,
        socket_timeout=_SOCKET_TIMEOUT_S,
        socket_connect_timeout=_SOCKET_TIMEOUT_S,
        retry=Retry(NoBackoff(), 1),
    )


class RedisProgressSink:
    """`ProgressSink` writing to Redis; `emit` never raises and never drops an event silently."""

    def __init__(self, settings: Settings, *, client: redis.Redis | None = None) -> None:
        self._settings = settings
        self._keys = ProgressKeys.from_settings(settings)
        self._owns_client = client is None
        self._client = client if client is not None else redis_client(settings.redis_url)
        self._script = self._client.register_script(EMIT_LUA)
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._pending: deque[ProgressEvent] = deque()
        self._worker: threading.Thread | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._closed = False
        self._in_outage = False

    @property
    def pending(self) -> int:
        """Events buffered in memory, waiting for Redis."""
        with self._lock:
            return len(self._pending)

    def emit(self, event: ProgressEvent) -> None:
        """Store and publish `event`, or buffer it for retry (after close: spool). Never raises."""
        try:
            with self._lock:
                if not self._pending and self._try_write(event):
                    return
                if self._closed:
                    self._spool([event])
                    return
                self._pending.append(event)
                self._ensure_worker()
        except Exception:
            # A bug must not fail the reel; the event is at least in the log.
            log.exception("progress event dropped: %s", event.model_dump_json())

    def flush(self, timeout_s: float | None = None) -> bool:
        """Block until every buffered event is stored or `timeout_s` passes; True if all stored."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        self._wake.set()  # skip the current backoff sleep: the caller is waiting now
        with self._changed:
            while self._pending:
                self._ensure_worker()
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._changed.wait(remaining)
            return True

    def close(self) -> None:
        """Flush for up to `settings.progress_flush_timeout_s`, then spool the rest to disk.

        Events emitted after close are written directly, or spooled if Redis is still down.
        """
        with self._lock:
            if self._closed:
                return
        self.flush(self._settings.progress_flush_timeout_s)
        with self._lock:
            self._closed = True
            self._stop.set()
            self._wake.set()
            worker = self._worker
        if worker is not None:
            worker.join(timeout=2 * _SOCKET_TIMEOUT_S + 1)  # let a write in flight finish
        with self._lock:
            leftover = list(self._pending)
            self._pending.clear()
        if leftover:
            self._spool(leftover)
        if self._owns_client:
            # redis-py reconnects on demand, so emit after close still works
            self._client.close()

    def last_seq(self, task_id: str) -> int:
        """Highest seq stored or buffered for `task_id`; 0 if unknown or Redis is down."""
        with self._lock:
            buffered = max((e.seq for e in self._pending if e.task_id == task_id), default=0)
        try:
            stored = self._client.hget(self._keys.status(task_id), "last_seq")
        except _RETRYABLE as exc:
            log.warning("last_seq of %s unknown, Redis unavailable: %s", task_id, exc)
            stored = None
        return max(int(stored or 0), buffered)

    def status(self, task_id: str) -> dict | None:
        """The run's current status hash (decoded), or None if unknown; raises redis errors."""
        from reelflow.progress.script import decode_status

        return decode_status(self._client.hgetall(self._keys.status(task_id)))

    # -- internals -------------------------------------------------------------------------

    def _try_write(self, event: ProgressEvent) -> bool:
        keys, args = emit_call(
            self._keys,
            event,
            ttl_s=self._settings.progress_ttl_s,
            maxlen=self._settings.progress_stream_maxlen,
        )
        try:
            self._script(keys=keys, args=args)
        except _RETRYABLE as exc:
            self._note_outage(exc)
            return False
        return True

    def _ensure_worker(self) -> None:
        # caller holds self._lock
        if self._worker is None and not self._stop.is_set():
            self._worker = threading.Thread(
                target=self._retry_loop, name="reelflow-progress-retry", daemon=True
            )
            self._worker.start()

    def _retry_loop(self) -> None:
        delay = _BACKOFF_START_S
        while True:
            with self._lock:
                if not self._pending or self._stop.is_set():
                    self._worker = None
                    self._changed.notify_all()
                    return
                batch = list(islice(self._pending, _BATCH))
            try:
                deliver(
                    self._client,
                    self._script,
                    self._keys,
                    batch,
                    ttl_s=self._settings.progress_ttl_s,
                    maxlen=self._settings.progress_stream_maxlen,
                )
            except _RETRYABLE as exc:
                self._note_outage(exc)
                self._wake.wait(delay * random.uniform(0.8, 1.2))
                self._wake.clear()
                delay = min(delay * 2, _BACKOFF_MAX_S)
                continue
            with self._lock:
                # close() may have spooled the buffer while this batch was in flight
                for _ in range(min(len(batch), len(self._pending))):
                    self._pending.popleft()
                if not self._pending and self._in_outage:
                    self._in_outage = False
                    log.info("Redis is back: buffered progress events delivered")
                self._changed.notify_all()
            delay = _BACKOFF_START_S

    def _note_outage(self, exc: BaseException) -> None:
        if not self._in_outage:
            self._in_outage = True
            log.warning("Redis unavailable (%s): buffering progress events", exc)

    def _spool(self, events: list[ProgressEvent]) -> None:
        try:
            path = write_spool(self._settings.spool_dir, events)
        except OSError:
            log.exception(
                "could not spool %d progress events: %s",
                len(events),
                [e.model_dump_json() for e in events],
            )
            return
        log.warning("Redis unavailable: %d progress events spooled to %s", len(events), path)
