"""The reporter: numbering, throttling, fan-out. No Redis needed."""

from __future__ import annotations

import threading

import pytest

from reelflow.progress.events import ProgressEvent
from reelflow.progress.reporter import CallbackSink, ProgressReporter, ProgressSink


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def collecting(
    min_interval_s: float = 0.5, **kwargs: object
) -> tuple[ProgressReporter, list[ProgressEvent], FakeClock]:
    events: list[ProgressEvent] = []
    clock = FakeClock()
    reporter = ProgressReporter(
        "run-1",
        "u1",
        [CallbackSink(events.append)],
        min_interval_s=min_interval_s,
        clock=clock,
        **kwargs,  # type: ignore[arg-type]
    )
    return reporter, events, clock


def test_seq_starts_at_one_and_has_no_gaps() -> None:
    reporter, events, _ = collecting()
    reporter.status("running")
    reporter.milestone("voice", 10)
    reporter.milestone("words", 20)
    reporter.status("completed", output={"video": "v.mp4"})
    assert [e.seq for e in events] == [1, 2, 3, 4]
    assert reporter.seq == 4
    assert len({e.event_id for e in events}) == 4
    assert all(e.task_id == "run-1" and e.user_id == "u1" for e in events)
    assert events[-1].progress == 100.0 and events[-1].output == {"video": "v.mp4"}


def test_start_seq_continues_numbering() -> None:
    reporter, events, _ = collecting(start_seq=7, attempt=2)
    reporter.status("running")
    assert events[0].seq == 8 and events[0].attempt == 2


def test_render_progress_is_throttled_per_stage_but_milestones_and_100_are_not() -> None:
    reporter, events, clock = collecting(min_interval_s=0.5)
    assert reporter.progress("render", 1.0) is not None
    for percent in range(2, 100):  # 98 updates within 0.49 s
        clock.now += 0.005
        assert reporter.progress("render", float(percent)) is None
    # another stage has its own throttle window
    assert reporter.progress("music", 3.0) is not None
    clock.now += 0.001
    assert reporter.milestone("render", 90.0, "encoded") is not None
    assert reporter.progress("render", 100.0) is not None
    clock.now += 0.6
    assert reporter.progress("render", 95.0) is not None
    assert [(e.stage, e.progress) for e in events] == [
        ("render", 1.0),
        ("music", 3.0),
        ("render", 90.0),
        ("render", 100.0),
        ("render", 95.0),
    ]


def test_status_changes_are_never_throttled_and_keep_last_progress() -> None:
    reporter, events, _ = collecting(min_interval_s=60)
    reporter.progress("render", 42.0)
    failed = reporter.status("failed", error="ffmpeg exited 1")
    cancelled = reporter.status("cancelled")
    assert failed.progress == 42.0 and failed.error == "ffmpeg exited 1"
    assert cancelled.status == "cancelled"
    assert [e.status for e in events] == ["running", "failed", "cancelled"]


def test_bad_percentages_are_clamped_not_raised() -> None:
    reporter, events, _ = collecting(min_interval_s=0)
    reporter.progress("render", 30.0)
    reporter.progress("render", 100.7)
    reporter.progress("render", -3.0)
    reporter.progress("render", float("nan"))
    assert [e.progress for e in events] == [30.0, 100.0, 0.0, 0.0]


def test_a_failing_sink_does_not_stop_the_others() -> None:
    def broken(event: ProgressEvent) -> None:
        raise RuntimeError("terminal closed")

    events: list[ProgressEvent] = []
    reporter = ProgressReporter(
        "run-1", None, [CallbackSink(broken), CallbackSink(events.append)], min_interval_s=0
    )
    reporter.status("running")
    reporter.status("completed")
    assert [e.seq for e in events] == [1, 2]
    assert isinstance(CallbackSink(broken), ProgressSink)


def test_concurrent_emitters_get_unique_ordered_seqs() -> None:
    reporter, events, _ = collecting(min_interval_s=0)

    def work(stage: str) -> None:
        for i in range(200):
            reporter.milestone(stage, i / 2)

    threads = [threading.Thread(target=work, args=(f"s{n}",)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    # sinks are called under the reporter's lock: delivery order is seq order
    assert [e.seq for e in events] == list(range(1, 1601))


def test_invalid_arguments() -> None:
    with pytest.raises(ValueError):
        ProgressReporter("t", None, [], min_interval_s=-1)
    with pytest.raises(ValueError):
        ProgressReporter("t", None, [], min_interval_s=0, start_seq=-1)
