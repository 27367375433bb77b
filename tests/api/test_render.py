"""Real renders through the API: a process worker runs the deployments (slow: ~1 min)."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from reelflow.api.app import create_app
from reelflow.engine.ffmpeg import probe
from tests import mediatools
from tests.api.helpers import follow, make_project
from tests.flows.helpers import run_id_of, task_states

API = "/api/v1"
LOW = {"quality": "low", "music_preset": "none", "effects_preset": "none"}

pytestmark = pytest.mark.slow


def test_upload_trigger_follow_download(client, alice, worker, tmp_path, api_settings, api_config):
    image = mediatools.solid_image(tmp_path / "bg.png", "teal")
    response = client.post(
        f"{API}/projects",
        headers=alice.headers,
        data={"title": "first reel", "script": "Hello from the API."},
        files={"background": ("bg.png", image.read_bytes(), "image/png")},
    )
    assert response.status_code == 201, response.text
    project_id = response.json()["id"]
    with client.websocket_connect(f"/ws/{alice.id}", headers=alice.headers) as socket:
        started = client.post(
            f"{API}/video/generate-advanced/{project_id}", headers=alice.headers, json=LOW
        )
        assert started.status_code == 202, started.text
        task_id = started.json()["task_id"]
        events = follow(socket, task_id, until={"completed", "failed", "crashed"})
    assert events[-1]["status"] == "completed", (events[-1], worker.tail())
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(seqs) and seqs[0] == 1 and len(set(seqs)) == len(seqs)
    stages = {e["stage"] for e in events}
    assert {"voice", "words", "captions", "render", "stored"} <= stages

    status = client.get(f"{API}/video/task-status/{task_id}", headers=alice.headers).json()
    assert status["status"] == "completed" and status["progress"] == 100
    assert status["output"]["video"].endswith(f"/video/{task_id}/download")
    video = client.get(status["output"]["video"], headers=alice.headers)
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    saved = tmp_path / "downloaded.mp4"
    saved.write_bytes(video.content)
    info = probe(saved)
    assert (info.video.width, info.video.height) == (540, 960) and info.audio is not None
    poster = client.get(status["output"]["poster"], headers=alice.headers)
    assert poster.status_code == 200 and poster.content[:2] == b"\xff\xd8"

    # a viewer that connects late asks for everything and gets every event, in order
    with client.websocket_connect(f"/ws/{alice.id}") as late:
        late.send_text(json.dumps({"token": alice.token}))
        late.send_text(json.dumps({"task_id": task_id, "after_seq": 0}))
        replayed = follow(late, task_id, until={"completed"})
    assert [e["event_id"] for e in replayed] == [e["event_id"] for e in events]

    # a restarted API answers from the persisted status
    with TestClient(create_app(api_settings, config=api_config)) as restarted:
        again = restarted.get(f"{API}/video/task-status/{task_id}", headers=alice.headers)
        assert again.json()["status"] == "completed"


def test_batch_renders_every_project(client, alice, worker):
    project_ids = [make_project(client, alice, script=f"Batch reel {n}.") for n in ("one", "two")]
    with client.websocket_connect(f"/ws/{alice.id}?token={alice.token}") as socket:
        response = client.post(
            f"{API}/video/batch-generate-advanced",
            headers=alice.headers,
            json={"project_ids": project_ids, "settings": LOW},
        )
        assert response.status_code == 202, response.text
        batch_id = response.json()["task_id"]
        done = follow(socket, batch_id, until={"completed", "failed", "crashed"}, timeout_s=240)
    assert done[-1]["status"] == "completed", (done[-1], worker.tail())
    status = client.get(f"{API}/video/task-status/{batch_id}", headers=alice.headers).json()
    children = status["children"]
    assert status["kind"] == "batch" and len(children) == 2
    assert all(child["status"] == "completed" for child in children), children
    for child in children:
        child_status = client.get(
            f"{API}/video/task-status/{child['task_id']}", headers=alice.headers
        ).json()
        assert child_status["parent_id"] == batch_id and child_status["output"]
        download = client.get(child_status["output"]["video"], headers=alice.headers)
        assert download.status_code == 200


def test_cancel_a_running_reel(client, alice, worker):
    project_id = make_project(client, alice, script="A reel that will not finish. " * 6)
    with client.websocket_connect(f"/ws/{alice.id}?token={alice.token}") as socket:
        response = client.post(
            f"{API}/video/generate-advanced/{project_id}",
            headers=alice.headers,
            json={**LOW, "quality": "medium"},
        )
        task_id = response.json()["task_id"]
        follow(socket, task_id, until={"running"})
        cancel = client.post(f"{API}/video/task/{task_id}/cancel", headers=alice.headers)
        assert cancel.status_code == 202 and cancel.json()["status"] in ("cancelling", "cancelled")
        final = follow(socket, task_id, until={"cancelled", "completed", "failed", "crashed"})
    assert final[-1]["status"] == "cancelled", (final[-1], worker.tail())
    status = client.get(f"{API}/video/task-status/{task_id}", headers=alice.headers).json()
    assert status["status"] == "cancelled"
    download = client.get(f"{API}/video/{task_id}/download", headers=alice.headers)
    assert download.status_code == 409 and download.json()["field"] == "task_id"


def test_corrected_timings_rerender_only_captions_and_render(client, alice, worker):
    project_id = make_project(client, alice, script="Fix the timing of my first word.")
    with client.websocket_connect(f"/ws/{alice.id}", headers=alice.headers) as socket:
        first = client.post(
            f"{API}/video/generate-advanced/{project_id}", headers=alice.headers, json=LOW
        ).json()["task_id"]
        assert follow(socket, first, until={"completed", "failed"})[-1]["status"] == "completed"
    # the run wrote its timings back to the project
    timings = client.get(f"{API}/projects/{project_id}/word-timings", headers=alice.headers)
    assert timings.status_code == 200, timings.text
    words = timings.json()["words"]
    assert [w["word"] for w in words] == ["Fix", "the", "timing", "of", "my", "first", "word."]
    # move "timing" (word 2) a little later: captions change, the music's start does not
    start = words[2]["start_s"] + 0.05
    patched = client.patch(
        f"{API}/projects/{project_id}/word-timings",
        headers=alice.headers,
        json={"corrections": {"2": [start, words[2]["end_s"]]}},
    )
    assert patched.status_code == 200, patched.text
    with client.websocket_connect(f"/ws/{alice.id}", headers=alice.headers) as socket:
        second = client.post(
            f"{API}/video/generate-advanced/{project_id}", headers=alice.headers, json=LOW
        ).json()["task_id"]
        assert second != first
        assert follow(socket, second, until={"completed", "failed"})[-1]["status"] == "completed"
    states = task_states(run_id_of(second))
    rerun = {name for name, state in states.items() if state == "Completed"}
    assert {"build-captions", "render-reel"} <= rerun
    # the voice and the music's plan come back from the cache: only captions changed
    assert states["prepare-voice"] == "Cached" and states["plan-mix"] == "Cached", states

    report = client.get(f"{API}/analytics", headers=alice.headers)
    assert report.status_code == 200, report.text
    body = report.json()
    assert body["reels"] >= 2 and body["by_status"].get("Completed", 0) >= 2
    render = body["stages"]["render-reel"]
    assert render["runs"] >= 2 and 0 < render["median_s"] <= render["p95_s"]
    assert body["stages"]["prepare-voice"]["cache_hits"] >= 1
