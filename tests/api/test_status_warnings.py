"""A finished reel's warnings travel: ReelOutput -> completed event -> status hash -> API."""

from __future__ import annotations

from pathlib import Path

from reelflow.api.runs import _warnings, rendition_urls, reported_renditions
from reelflow.api.schemas import TaskStatusOut
from reelflow.flows.dag import ReelOutput
from reelflow.flows.hooks import _output
from reelflow.progress.events import ProgressEvent
from reelflow.progress.script import decode_status, status_fields


def _reel(warnings: list[str]) -> ReelOutput:
    return ReelOutput(
        task_id="t1", video=Path("/out/reel.mp4"), poster=Path("/out/reel.jpg"), duration_s=3.0,
        size_bytes=1000, encoder="libx264", words=4, timing_method="synthesized",
        music_preset=None, warnings=warnings,
    )  # fmt: skip


def test_warnings_reach_the_status_the_api_reads():
    warnings = [
        "no bundled font draws '\U00013000' (U+13000); it is left out of the captions",
        "no bundled font draws 'ꯀ' (U+ABC0); it is left out of the captions",
    ]
    event = ProgressEvent(
        task_id="t1", status="completed", progress=100.0, seq=9, output=_output(_reel(warnings))
    )
    status = decode_status(status_fields(event))
    assert _warnings(status) == warnings
    assert TaskStatusOut(task_id="t1", kind="reel", status="completed", warnings=warnings).warnings


def test_no_warnings_add_nothing_to_the_output():
    assert _output(_reel([])) == {"video": "/out/reel.mp4", "poster": "/out/reel.jpg"}
    assert _warnings({"output": None}) == []


def test_renditions_reach_the_status_the_api_reads():
    reel = _reel([]).model_copy(
        update={"renditions": {"9:16": Path("/out/reel.mp4"), "1:1": Path("/out/reel-1x1.mp4")}}
    )
    event = ProgressEvent(task_id="t1", status="completed", progress=100.0, seq=9,
                          output=_output(reel))  # fmt: skip
    status = decode_status(status_fields(event))
    assert reported_renditions(status) == {"9:16": "/out/reel.mp4", "1:1": "/out/reel-1x1.mp4"}
    assert rendition_urls("t1", status) == {
        "9:16": "/api/v1/video/t1/download?aspect=9%3A16",
        "1:1": "/api/v1/video/t1/download?aspect=1%3A1",
    }
    assert rendition_urls("t1", {"output": {"renditions": "not json"}}) is None
