"""Issue 13's render options through the API: into the run's spec, and a two-aspect render."""

from __future__ import annotations

import pytest

from reelflow.engine.ffmpeg import probe
from tests.api.helpers import follow, make_project
from tests.api.test_render import LOW
from tests.api.test_triggers import LATER, flow_run

API = "/api/v1"
OPTIONS = {
    "caption_style": "karaoke",
    "emphasis": ["shapes"],
    "aspects": ["1:1", "16:9"],
    "title": {"text": "Watch this", "duration_s": 1.5},
    "progress_bar": True,
    "voice": "espeak:en-gb",
    "background_transition": "zoom",
}


def test_render_options_reach_the_runs_spec_and_record(client, alice, deployed, store):
    project_id = make_project(client, alice, script="Two shapes at once.")
    response = client.post(
        f"{API}/video/generate-advanced/{project_id}",
        headers=alice.headers,
        json={**OPTIONS, "platform": "generic", "scheduled_time": LATER},
    )
    assert response.status_code == 202, response.text
    task_id = response.json()["task_id"]
    try:
        spec = flow_run(deployed, task_id).parameters["spec"]
        assert (spec["captions"]["style"], spec["captions"]["emphasis"]) == ("karaoke", ["shapes"])
        assert spec["captions"]["animation"] == "karaoke"  # the look's own animation
        assert spec["aspects"] == ["1:1", "16:9"] and spec["platform"] == "generic"
        assert spec["title"] == {"text": "Watch this", "duration_s": 1.5}
        assert spec["progress_bar"] is True and spec["voice"] == "espeak:en-gb"
        assert spec["background"]["transition"] == "zoom"
        recorded = store.get_task(alice.id, task_id).parameters["request"]
        assert {k: recorded[k] for k in OPTIONS} == OPTIONS
    finally:
        client.post(f"{API}/video/task/{task_id}/cancel", headers=alice.headers)


def test_a_platform_refusing_the_aspect_is_named(client, alice):
    project_id = make_project(client, alice)
    url = f"{API}/video/generate-advanced/{project_id}"
    refused = client.post(url, headers=alice.headers, json={"platform": "tiktok", "aspect": "16:9"})
    assert refused.status_code == 422 and refused.json()["field"] == "aspect"
    assert "TikTok does not take 16:9" in refused.json()["message"]


@pytest.mark.slow
def test_two_aspects_render_and_each_downloads(client, alice, worker, tmp_path):
    project_id = make_project(client, alice, script="Two shapes.")
    body = {**LOW, "aspects": ["9:16", "1:1"], "caption_style": "bold", "progress_bar": True}
    with client.websocket_connect(f"/ws/{alice.id}", headers=alice.headers) as socket:
        started = client.post(
            f"{API}/video/generate-advanced/{project_id}", headers=alice.headers, json=body
        )
        assert started.status_code == 202, started.text
        task_id = started.json()["task_id"]
        events = follow(socket, task_id, until={"completed", "failed", "crashed"}, timeout_s=240)
    assert events[-1]["status"] == "completed", (events[-1], worker.tail())
    status = client.get(f"{API}/video/task-status/{task_id}", headers=alice.headers).json()
    assert list(status["renditions"]) == ["9:16", "1:1"]
    sizes = {"9:16": (540, 960), "1:1": (540, 540)}
    for aspect, url in status["renditions"].items():
        video = client.get(url, headers=alice.headers)
        assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
        saved = tmp_path / f"{aspect.replace(':', 'x')}.mp4"
        saved.write_bytes(video.content)
        info = probe(saved)
        assert (info.video.width, info.video.height) == sizes[aspect]
        assert info.audio is not None and info.duration_s > 0.5
        poster = client.get(f"{url}&file=poster", headers=alice.headers)
        assert poster.status_code == 200 and poster.content[:2] == b"\xff\xd8"
    main = client.get(f"{API}/video/{task_id}/download", headers=alice.headers)
    assert main.content == (tmp_path / "9x16.mp4").read_bytes()
