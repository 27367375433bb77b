"""`ProgressReporter`: turns "stage X is at Y%" calls into numbered events for every sink.

The reporter owns the numbering (seq, thread-safe, no gaps among the events it emits), the
timestamps and the event ids; sinks only deliver. Fine-grained progress (ffmpeg's render
percentage) is throttled per stage, milestones and status changes never are, so the seed's
milestone numbers always reach viewers while the render bar stays cheap.

A run that continues someone else's numbering (a flow retry, a crash hook in another process,
a run the API already marked `queued`) starts at `start_seq=RedisProgressSink.last_seq(task_id)`.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Protocol, runtime_checkable

from reelflow.progress.events import ProgressEvent, Status

log = logging.getLogger(__name__)


@runtime_checkable
class ProgressSink(Protocol):
    """Something that delivers progress events; `emit` should not raise (the reporter guards)."""

    def emit(self, event: ProgressEvent) -> None: ...

    def close(self) -> None: ...


class CallbackSink:
    """Hands every event to `fn` (the CLI draws its progress bar this way)."""

    def __init__(self, fn: Callable[[ProgressEvent], None]) -> None:
        self._fn = fn

    def emit(self, event: ProgressEvent) -> None:
        """Call `fn(event)`."""
        self._fn(event)

    def close(self) -> None:
        """Nothing to release."""


class ProgressReporter:
    """Numbers, timestamps and fans out the progress events of one run."""

    def __init__(
        self,
        task_id: str,
        user_id: str | None,
        sinks: Sequence[ProgressSink],
        *,
        min_interval_s: float,
        start_seq: int = 0,
        attempt: int = 1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if start_seq < 0 or min_interval_s < 0 or attempt < 1:
            raise ValueError("start_seq and min_interval_s must be >= 0, attempt >= 1")
        self.task_id = task_id
        self.user_id = user_id
        self.attempt = attempt
        self._sinks = list(sinks)
        self._min_interval_s = min_interval_s
        self._clock = clock
        self._lock = threading.Lock()
        self._seq = start_seq
        self._progress = 0.0
        self._last_emit_at: dict[str, float] = {}

    @property
    def seq(self) -> int:
        """The seq of the last event emitted (start_seq before the first)."""
        with self._lock:
            return self._seq

    def progress(self, stage: str, percent: float, details: str = "") -> ProgressEvent | None:
        """A `running` event for `stage`; None when throttled (too soon after the last one)."""
        return self._running(stage, percent, details, throttle=True)

    def milestone(self, stage: str, percent: float, details: str = "") -> ProgressEvent:
        """A `running` event that is never throttled (stage boundaries: 10, 20, ... 100)."""
        event = self._running(stage, percent, details, throttle=False)
        assert event is not None  # unthrottled events are always emitted
        return event

    def status(
        self,
        status: Status,
        *,
        stage: str = "",
        progress: float | None = None,
        details: str = "",
        output: dict[str, str] | None = None,
        error: str | None = None,
    ) -> ProgressEvent:
        """A lifecycle event (never throttled); progress defaults to 100 on completed, else
        to the last reported value, so a failure shows where the run stopped."""
        with self._lock:
            if progress is None:
                progress = 100.0 if status == "completed" else self._progress
            return self._emit(
                status=status,
                stage=stage,
                progress=self._clamp(progress),
                details=details,
                output=output,
                error=error,
            )

    def close(self) -> None:
        """Close every sink (the Redis sink flushes, then spools what Redis did not take)."""
        for sink in self._sinks:
            try:
                sink.close()
            except Exception:
                log.exception("closing progress sink %r failed", sink)

    def __enter__(self) -> ProgressReporter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _running(
        self, stage: str, percent: float, details: str, *, throttle: bool
    ) -> ProgressEvent | None:
        with self._lock:
            percent = self._clamp(percent)
            now = self._clock()
            last = self._last_emit_at.get(stage)
            if (
                throttle
                and percent < 100.0
                and last is not None
                and now - last < self._min_interval_s
            ):
                return None
            self._last_emit_at[stage] = now
            return self._emit(status="running", stage=stage, progress=percent, details=details)

    def _emit(self, **fields: object) -> ProgressEvent:
        # Called with self._lock held: sinks see events in seq order even across threads.
        event = ProgressEvent(
            task_id=self.task_id,
            user_id=self.user_id,
            seq=self._seq + 1,
            attempt=self.attempt,
            **fields,
        )
        self._seq = event.seq
        self._progress = event.progress
        for sink in self._sinks:
            try:
                sink.emit(event)
            except Exception:
                # One broken sink (a closed terminal, a buggy callback) must not stop the reel.
                log.exception("progress sink %r failed on event %d", sink, event.seq)
        return event

    def _clamp(self, percent: float) -> float:
        # ffmpeg's estimate can overshoot or be NaN; reporting must not fail the render.
        if math.isnan(percent):
            return self._progress
        return min(100.0, max(0.0, float(percent)))
