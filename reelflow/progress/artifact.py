"""A progress sink that draws the run's progress bar in the Prefect UI (a progress artifact)."""

from __future__ import annotations

import logging

from reelflow.progress.events import ProgressEvent

log = logging.getLogger(__name__)


class PrefectArtifactSink:
    """Creates one progress artifact for the flow run and moves it with every event.

    Only works inside a Prefect run context; elsewhere (a crash hook in another process) it
    does nothing, because the artifact is a view, not the record: Redis keeps the record.
    """

    def __init__(self, description: str = "Reel progress") -> None:
        self.description = description
        self.artifact_id = None

    def emit(self, event: ProgressEvent) -> None:
        from prefect.artifacts import create_progress_artifact, update_progress_artifact
        from prefect.context import FlowRunContext, TaskRunContext

        if FlowRunContext.get() is None and TaskRunContext.get() is None:
            return  # a hook outside the run: the UI bar starts with the body's first event
        try:
            if self.artifact_id is None:
                self.artifact_id = create_progress_artifact(
                    progress=event.progress, description=self.description
                )
            else:
                update_progress_artifact(self.artifact_id, progress=event.progress)
        except Exception as exc:  # no run context, or the API is briefly away: skip the view
            log.debug("progress artifact not updated: %s", exc)

    def close(self) -> None:
        """Nothing to flush: every update went straight to the API."""
