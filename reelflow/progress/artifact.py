"""A progress sink that draws the run's progress bar in the Prefect UI (a progress artifact)."""

from __future__ import annotations

import contextvars
import logging
import threading
import time

from reelflow.progress.events import ProgressEvent

log = logging.getLogger(__name__)


class PrefectArtifactSink:
    """Creates one progress artifact for the flow run and moves it with the events.

    Only works inside a Prefect run context; elsewhere (a crash hook in another process) it
    does nothing, because the artifact is a view, not the record: Redis keeps the record.

    Each update is a round trip to the Prefect API (~35 ms on loopback). A cached run reports
    its nine milestones within a fraction of a second, so updates are sent from a background
    thread that always sends the newest value and skips the ones overtaken meanwhile; the bar
    still ends on the run's last value because `close` waits for it.
    """

    def __init__(
        self,
        description: str = "Reel progress",
        close_timeout_s: float = 10.0,
        min_interval_s: float = 2.0,
    ) -> None:
        self.description = description
        self.close_timeout_s = close_timeout_s
        # The UI bar needs no more than one update every couple of seconds; each one is API
        # and database work on a server that, on a small machine, shares the render's cores.
        self.min_interval_s = min_interval_s
        self.artifact_id = None
        self._pending: float | None = None
        self._closed = False
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def emit(self, event: ProgressEvent) -> None:
        """Queue `event.progress` for the bar (replacing a value not yet sent)."""
        from prefect.context import FlowRunContext, TaskRunContext

        if FlowRunContext.get() is None and TaskRunContext.get() is None:
            return  # a hook outside the run: the UI bar starts with the body's first event
        with self._wake:
            if self._closed:
                return
            self._pending = event.progress
            if self._thread is None:
                # The artifact belongs to the run whose context emitted first: carry it over.
                run_context = contextvars.copy_context()
                self._thread = threading.Thread(
                    target=run_context.run,
                    args=(self._deliver,),
                    name="reelflow-progress-artifact",
                    daemon=True,
                )
                self._thread.start()
            self._wake.notify()

    def close(self) -> None:
        """Send the last queued value, then stop the sender."""
        with self._wake:
            self._closed = True
            self._wake.notify()
            thread = self._thread
        if thread is not None:
            thread.join(self.close_timeout_s)

    def _deliver(self) -> None:
        from prefect.artifacts import create_progress_artifact, update_progress_artifact

        sent_at = None
        while True:
            with self._wake:
                while self._pending is None and not self._closed:
                    self._wake.wait()
                # Wait out the interval (a close ends the wait), then send the newest value.
                while sent_at is not None and not self._closed:
                    left = self.min_interval_s - (time.monotonic() - sent_at)
                    if left <= 0:
                        break
                    self._wake.wait(left)
                progress, self._pending = self._pending, None
                sent_at = time.monotonic()
            if progress is None:
                return  # closed with nothing left to send
            try:
                if self.artifact_id is None:
                    # _sync: inside an async flow (the batch) these would return coroutines.
                    self.artifact_id = create_progress_artifact(
                        progress=progress, description=self.description, _sync=True
                    )
                else:
                    update_progress_artifact(self.artifact_id, progress=progress, _sync=True)
            except Exception as exc:  # the API is briefly away: skip this view of the value
                log.debug("progress artifact not updated: %s", exc)
