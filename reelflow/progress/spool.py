"""Events that could not reach Redis before their process ended, kept on disk for delivery.

A closing sink writes its undelivered events to a new file under `settings.spool_dir`, atomically
(temporary name, fsync, rename), so a reader never sees half a file. `drain_spool` claims each
file by renaming it (so two processes starting at once do not both deliver it), delivers its
events through the same idempotent script as the live path, and deletes it.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import redis
from pydantic import ValidationError

from reelflow.progress.events import ProgressEvent
from reelflow.progress.keys import ProgressKeys
from reelflow.progress.script import EMIT_DUPLICATE, EMIT_LUA, deliver
from reelflow.settings import Settings

log = logging.getLogger(__name__)

_READY = ".jsonl"
_CLAIMED = ".draining"
# A claimed file this old belongs to a drainer that died; hand it to the next one.
_STALE_CLAIM_S = 600.0
_BATCH = 200


def write_spool(spool_dir: Path, events: Sequence[ProgressEvent]) -> Path | None:
    """Write `events` (JSON lines, in order) to a new spool file; None when there is nothing."""
    if not events:
        return None
    spool_dir.mkdir(parents=True, exist_ok=True)
    # time first, so sorting names replays files in the order they were written
    name = f"progress-{time.time_ns()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp = spool_dir / f"{name}.tmp"
    data = "".join(event.model_dump_json() + "\n" for event in events).encode()
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    path = spool_dir / f"{name}{_READY}"
    os.replace(tmp, path)
    return path


def read_spool(path: Path) -> list[ProgressEvent]:
    """The events of one spool file; lines that do not parse are logged and skipped."""
    events = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            events.append(ProgressEvent.model_validate_json(line))
        except ValidationError as exc:
            log.error("skipping unreadable spooled event %s:%d: %s", path, number, exc)
    return events


def drain_spool(settings: Settings, client: redis.Redis) -> int:
    """Deliver every spooled event to Redis; returns how many were newly stored.

    Idempotent: events already stored (same event_id) are skipped by the emit script, so a file
    delivered twice (a drainer that died before deleting it) stores nothing twice. If Redis fails
    midway the file is put back and the error is logged; call it again later. Call it at worker
    and API start-up (from async code: `await asyncio.to_thread(drain_spool, settings, client)`).
    """
    spool_dir = settings.spool_dir
    if not spool_dir.is_dir():
        return 0
    _release_stale_claims(spool_dir)
    keys = ProgressKeys.from_settings(settings)
    script = client.register_script(EMIT_LUA)
    stored = 0
    for path in sorted(spool_dir.glob(f"*{_READY}")):
        claimed = path.with_suffix(_CLAIMED)
        try:
            os.rename(path, claimed)
        except FileNotFoundError:
            continue  # another process claimed it first
        os.utime(claimed)  # rename keeps the old mtime; the claim is fresh
        events = read_spool(claimed)
        try:
            for start in range(0, len(events), _BATCH):
                codes = deliver(
                    client,
                    script,
                    keys,
                    events[start : start + _BATCH],
                    ttl_s=settings.progress_ttl_s,
                    maxlen=settings.progress_stream_maxlen,
                )
                stored += sum(code != EMIT_DUPLICATE for code in codes)
        except redis.RedisError as exc:
            os.rename(claimed, path)
            log.warning("progress spool not drained (%s); %s kept for the next attempt", exc, path)
            break
        claimed.unlink()
    return stored


def _release_stale_claims(spool_dir: Path) -> None:
    now = time.time()
    for claimed in spool_dir.glob(f"*{_CLAIMED}"):
        try:
            if now - claimed.stat().st_mtime > _STALE_CLAIM_S:
                os.rename(claimed, claimed.with_suffix(_READY))
        except FileNotFoundError:
            continue
