"""The one atomic write of a progress event, shared by the flow-side sink and the API.

A Lua script does everything in one step, so no reader ever sees the stream ahead of the hash
and no two writers interleave:

1. skip the event if its `event_id` is already stored (redelivery after an outage is harmless)
   or its run was forgotten (its project deleted: a late writer must not bring the run back);
2. append it to the run's stream (history for replay);
3. update the status hash only if the event is newer: a higher `seq` within the same attempt, a
   terminal status is only replaced by a later terminal one, and a newer attempt (a resubmitted
   run) wins over anything older; `last_seq` tracks the highest seq stored so numbering continues;
   an event of an older attempt than the hash's is dropped (not streamed, not published);
4. refresh the TTLs, index the task under its user and PUBLISH the JSON on the user's channel;
5. when the event is a run's ending that webhooks announce (`NOTIFIED`) and it became the run's
   state, append it to the webhook outbox stream in the same step: an ending is stored if and only
   if its webhook is queued, whichever process wrote it (hook, relay, cancel endpoint, spool).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from reelflow.progress.events import TERMINAL, ProgressEvent, utc_now
from reelflow.progress.keys import ProgressKeys

EMIT_DUPLICATE = 0  # event_id already stored, or the run forgotten: nothing written
EMIT_APPLIED = 1  # stored and now the run's latest state
EMIT_STALE = 2  # not the run's latest state: kept in the stream (same attempt) or dropped
# (an older attempt's, which viewers must never see)
EMIT_SKIPPED = 3  # only_if_new was set and the run already had a state

# Endings announced to webhooks; `crashed` is not one: a crashed reel is resubmitted.
NOTIFIED: frozenset[str] = frozenset({"completed", "failed", "cancelled"})
OUTBOX_MAXLEN = 100_000

_TERMINAL_LUA = ", ".join(f"{status} = true" for status in sorted(TERMINAL))
_NOTIFIED_LUA = ", ".join(f"{status} = true" for status in sorted(NOTIFIED))

EMIT_LUA = f"""
local status_key, stream_key, seen_key, forgotten_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local task_id, event_id, seq_s, status, user_id, event_json =
  ARGV[1], ARGV[2], ARGV[3], ARGV[5], ARGV[6], ARGV[7]
local ttl, maxlen = tonumber(ARGV[8]), tonumber(ARGV[9])
local now_iso, now_epoch, prune_before, prefix = ARGV[10], ARGV[11], ARGV[12], ARGV[13]
local seq, attempt = tonumber(seq_s), tonumber(ARGV[4])
local TERMINAL = {{{_TERMINAL_LUA}}}
local NOTIFIED = {{{_NOTIFIED_LUA}}}
local function num(v) if v then return tonumber(v) end return nil end

if redis.call('EXISTS', forgotten_key) == 1 then return 0 end
if ARGV[14] == '1' and redis.call('EXISTS', status_key) == 1 then return 3 end
if redis.call('ZSCORE', seen_key, event_id) then return 0 end
redis.call('ZADD', seen_key, seq_s, event_id)
-- keep the dedupe set about as long as the stream it guards
if redis.call('ZCARD', seen_key) > 2 * maxlen then
  redis.call('ZREMRANGEBYRANK', seen_key, 0, -maxlen - 1)
end
local cur = redis.call('HMGET', status_key, 'seq', 'attempt', 'status', 'last_seq', 'user_id')
local cur_seq, cur_attempt, cur_status = num(cur[1]), num(cur[2]) or 1, cur[3]
local cur_last = num(cur[4]) or 0
-- an event of an attempt that was superseded (its run resubmitted elsewhere, e.g. a worker cut
-- off from the network and back): remembered, so it is never delivered again, but neither
-- stored nor published: viewers must not see a second ending
if cur_seq and attempt < cur_attempt then return 2 end
redis.call('XADD', stream_key, 'MAXLEN', '~', ARGV[9], '*', 'seq', seq_s, 'event', event_json)
-- a crash hook may not know the user: the run's first events told us
if user_id == '' and cur[5] then user_id = cur[5] end

local apply
if not cur_seq then
  apply = true
elseif attempt ~= cur_attempt then
  apply = attempt > cur_attempt
elseif TERMINAL[cur_status] then
  apply = TERMINAL[status] == true and seq > cur_seq
else
  -- "queued" written by the API may share seq 1 with the worker's first event: the worker wins
  apply = seq > cur_seq or (seq == cur_seq and cur_status == 'queued' and status ~= 'queued')
end

if apply then
  redis.call('HSET', status_key, unpack(ARGV, 15))
  redis.call('HSET', status_key, 'user_id', user_id, 'updated_at', now_iso)
  redis.call('HSETNX', status_key, 'created_at', now_iso)
end
if seq > cur_last then redis.call('HSET', status_key, 'last_seq', seq_s) end
redis.call('EXPIRE', status_key, ttl)
redis.call('EXPIRE', stream_key, ttl)
redis.call('EXPIRE', seen_key, ttl)

if user_id ~= '' then
  local index = prefix .. ':user:' .. user_id .. ':tasks'
  redis.call('ZADD', index, now_epoch, task_id)
  redis.call('ZREMRANGEBYSCORE', index, '-inf', '(' .. prune_before)
  redis.call('EXPIRE', index, ttl)
  redis.call('PUBLISH', prefix .. ':progress:' .. user_id, event_json)
  if apply and NOTIFIED[status] then
    redis.call('XADD', prefix .. ':webhooks', 'MAXLEN', '~', '{OUTBOX_MAXLEN}', '*',
      'event_id', event_id, 'task_id', task_id, 'user_id', user_id, 'event', event_json)
  end
end
if apply then return 1 end
return 2
"""


def status_fields(event: ProgressEvent) -> dict[str, str]:
    """The event as flat string fields of the status hash ("" stands for None)."""
    return {
        "task_id": event.task_id,
        "user_id": event.user_id or "",
        "status": event.status,
        "stage": event.stage,
        "progress": repr(event.progress),
        "details": event.details,
        "seq": str(event.seq),
        "timestamp": event.timestamp.isoformat(),
        "output": json.dumps(event.output) if event.output is not None else "",
        "error": event.error or "",
        "event_id": event.event_id,
        "attempt": str(event.attempt),
    }


def emit_call(
    keys: ProgressKeys,
    event: ProgressEvent,
    *,
    ttl_s: int,
    maxlen: int,
    only_if_new: bool = False,
) -> tuple[list[str], list[str]]:
    """KEYS and ARGV of one `EMIT_LUA` call storing `event`."""
    now_epoch = time.time()
    args = [
        event.task_id,
        event.event_id,
        str(event.seq),
        str(event.attempt),
        event.status,
        event.user_id or "",
        event.model_dump_json(),
        str(int(ttl_s)),
        str(int(maxlen)),
        utc_now().isoformat(),
        f"{now_epoch:.3f}",
        f"{now_epoch - ttl_s:.3f}",
        keys.prefix,
        "1" if only_if_new else "0",
    ]
    for name, value in status_fields(event).items():
        args += [name, value]
    task_keys = [
        keys.status(event.task_id),
        keys.events(event.task_id),
        keys.seen(event.task_id),
        keys.forgotten(event.task_id),
    ]
    return task_keys, args


_INT_FIELDS = ("seq", "last_seq", "attempt")


def decode_status(raw: Mapping[Any, Any]) -> dict[str, Any] | None:
    """A status hash as read from Redis (bytes or str) -> typed dict, or None if it is empty."""
    if not raw:
        return None
    status = {_text(k): _text(v) for k, v in raw.items()}
    for name in _INT_FIELDS:
        if name in status:
            status[name] = int(status[name])
    if "progress" in status:
        status["progress"] = float(status["progress"])
    for name in ("user_id", "error"):
        status[name] = status.get(name) or None
    output = status.get("output")
    status["output"] = json.loads(output) if output else None
    return status


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def deliver(
    client: Any,
    script: Any,
    keys: ProgressKeys,
    events: list[ProgressEvent],
    *,
    ttl_s: int,
    maxlen: int,
) -> list[int]:
    """Store `events` in order through one non-transactional pipeline (sync client).

    Returns one `EMIT_*` code per event. Raises redis errors: a batch cut short by a lost
    connection is simply sent again, because already stored events come back as duplicates.
    """
    pipe = client.pipeline(transaction=False)
    for event in events:
        task_keys, args = emit_call(keys, event, ttl_s=ttl_s, maxlen=maxlen)
        script(keys=task_keys, args=args, client=pipe)
    return [int(code) for code in pipe.execute()]
