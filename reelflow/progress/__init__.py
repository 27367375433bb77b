"""Progress events of reel runs and their sinks (Redis, callbacks) and readers (API).

Flow side: `ProgressReporter(task_id, user_id, [RedisProgressSink(settings), ...])`.
API side: the async functions of `reelflow.progress.reader`.
"""

from reelflow.progress.events import STATUSES, TERMINAL, ProgressEvent, Status
from reelflow.progress.keys import ProgressKeys
from reelflow.progress.redis_sink import RedisProgressSink, redis_client
from reelflow.progress.reporter import CallbackSink, ProgressReporter, ProgressSink
from reelflow.progress.spool import drain_spool

__all__ = [
    "STATUSES",
    "TERMINAL",
    "CallbackSink",
    "ProgressEvent",
    "ProgressKeys",
    "ProgressReporter",
    "ProgressSink",
    "RedisProgressSink",
    "Status",
    "drain_spool",
    "redis_client",
]
