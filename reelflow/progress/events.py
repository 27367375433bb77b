"""The progress event: one immutable record of where a reel run is.

Every sink (Redis, the CLI bar, a Prefect artifact) receives the same `ProgressEvent`. Viewers rely
on three fields to stay correct when messages arrive late, twice or not at all: `seq` (per run,
starts at 1, no gaps: a jump means "replay from the stream"), `event_id` (de-duplication) and
`attempt` (a resubmitted run may leave a terminal state; a late event of an older attempt may not).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator

Status = Literal["queued", "running", "completed", "failed", "crashed", "cancelled"]
STATUSES: frozenset[str] = frozenset(get_args(Status))
TERMINAL: frozenset[str] = frozenset({"completed", "failed", "crashed", "cancelled"})


def utc_now() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(UTC)


def new_event_id() -> str:
    """A fresh unique event id (hex uuid4)."""
    return uuid.uuid4().hex


class ProgressEvent(BaseModel):
    """One progress or lifecycle event of a reel run (`task_id` is the Prefect flow run id)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    task_id: str = Field(min_length=1)
    user_id: str | None = None
    status: Status
    stage: str = Field(default="", description='"voice", "words", "render", ... or "" (lifecycle)')
    progress: float = Field(ge=0.0, le=100.0)
    details: str = ""
    seq: int = Field(ge=1, description="Per run, starts at 1, strictly increasing, no gaps.")
    timestamp: datetime = Field(default_factory=utc_now)
    output: dict[str, str] | None = None
    error: str | None = None
    event_id: str = Field(default_factory=new_event_id, min_length=1)
    attempt: int = Field(default=1, ge=1, description="Prefect run_count of the run that emitted.")

    @field_validator("timestamp")
    @classmethod
    def _as_utc(cls, value: datetime) -> datetime:
        # A naive timestamp can only have come from our own clock, which is UTC.
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    @property
    def is_terminal(self) -> bool:
        """True for completed, failed, crashed and cancelled."""
        return self.status in TERMINAL
