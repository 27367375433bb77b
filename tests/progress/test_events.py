"""The event model: validation, UTC timestamps, JSON round trip."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from reelflow.progress.events import TERMINAL, ProgressEvent


def make(**overrides: object) -> ProgressEvent:
    fields: dict[str, object] = {
        "task_id": "run-1",
        "user_id": "u1",
        "status": "running",
        "stage": "render",
        "progress": 55.5,
        "seq": 3,
    }
    return ProgressEvent(**(fields | overrides))


def test_json_round_trip_keeps_every_field() -> None:
    event = make(status="completed", output={"video": "/v.mp4", "poster": "/p.jpg"})
    again = ProgressEvent.model_validate_json(event.model_dump_json())
    assert again == event
    assert again.timestamp.tzinfo is not None and again.timestamp.utcoffset() == timedelta(0)


def test_events_are_frozen_and_ids_unique() -> None:
    event = make()
    with pytest.raises(ValidationError):
        event.seq = 9  # type: ignore[misc]
    assert make().event_id != event.event_id


@pytest.mark.parametrize(
    ("field", "value"),
    [("status", "paused"), ("progress", 100.5), ("progress", -1), ("seq", 0), ("task_id", "")],
)
def test_invalid_fields_are_rejected(field: str, value: object) -> None:
    with pytest.raises(ValidationError):
        make(**{field: value})


def test_timestamps_are_normalised_to_utc() -> None:
    paris = timezone(timedelta(hours=1))
    aware = make(timestamp=datetime(2026, 1, 1, 13, 0, tzinfo=paris))
    assert aware.timestamp == datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert aware.timestamp.tzinfo == UTC
    naive = make(timestamp=datetime(2026, 1, 1, 12, 0))
    assert naive.timestamp.tzinfo == UTC


def test_terminal_statuses() -> None:
    assert {"completed", "failed", "crashed", "cancelled"} == TERMINAL
    assert make(status="crashed", error="worker died").is_terminal
    assert not make(status="queued").is_terminal
