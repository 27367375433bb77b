"""Reliability under load and failure, with real processes on loopback (issue 6).

One stack for the module (tests/reliability/stack.py). Order matters only for speed: each test
leaves the stack healthy for the next.
"""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from reelflow.engine import ffmpeg
from reelflow.engine.ffmpeg import probe
from tests import mediatools
from tests.flows.helpers import run_id_of, run_ids_of
from tests.reliability.conftest import (
    TERMINAL,
    Viewer,
    contiguous,
    new_project,
    new_user,
    outputs_of,
    render_started,
    trigger,
)

pytestmark = pytest.mark.slow
API = "/api/v1"


# -- bad input -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("bad")
    wav = mediatools.speech_like(root / "voice.wav", [(0.2, 1.2)], seconds=1.5)
    mp3 = root / "voice.mp3"
    ffmpeg.run(["-loglevel", "error", "-i", str(wav), str(mp3)])
    truncated = root / "truncated.mp3"
    truncated.write_bytes(mp3.read_bytes()[: mp3.stat().st_size // 3])
    mediatools.lavfi_video(root / "clip.mp4", "testsrc2", seconds=1.0, size="320x240")
    (root / "empty.wav").write_bytes(b"")
    (root / "noise.wav").write_bytes(os.urandom(40_000))
    (root / "text.wav").write_text("this is not audio")
    (root / "huge.wav").write_bytes(b"RIFF" + os.urandom(6 * 1024 * 1024))
    return {p.stem: p for p in root.iterdir()}


def _voice_form(path: Path, name: str | None = None, transcript: str = "hello there"):
    return {
        "data": {"title": "t", "transcript": transcript},
        "files": {"voiceover": (name or path.name, path.read_bytes(), "audio/wav")},
    }


def test_bad_input_is_a_clear_4xx_and_loses_nothing(stack, files):
    alice, bob = new_user(stack, "alice"), new_user(stack, "bob")
    keep = new_project(stack, alice, "This project must survive every bad request.")
    foreign = new_project(stack, bob, "Bob's project.")
    api = stack.client(alice.token)
    anonymous, forged = stack.client(), stack.client("rf_0000_not-a-token")
    gen = f"{API}/video/generate-advanced/{keep}"
    cases = {
        "corrupt audio": lambda: api.post(f"{API}/projects", **_voice_form(files["noise"])),
        "truncated mp3": lambda: api.post(f"{API}/projects", **_voice_form(files["truncated"])),
        "zero-length audio": lambda: api.post(f"{API}/projects", **_voice_form(files["empty"])),
        "text as audio": lambda: api.post(f"{API}/projects", **_voice_form(files["text"])),
        "huge audio": lambda: api.post(f"{API}/projects", **_voice_form(files["huge"])),
        "video as audio": lambda: api.post(f"{API}/projects", **_voice_form(files["clip"])),
        "audio as background": lambda: api.post(
            f"{API}/projects",
            data={"title": "t", "script": "hi"},
            files={"background": ("v.wav", files["voice"].read_bytes(), "audio/wav")},
        ),
        "empty transcript": lambda: api.post(
            f"{API}/projects", **_voice_form(files["voice"], transcript="   ")
        ),
        "100 kB transcript": lambda: api.post(
            f"{API}/projects", **_voice_form(files["voice"], transcript="word " * 20_000)
        ),
        "script and voice": lambda: api.post(
            f"{API}/projects",
            data={"title": "t", "transcript": "hi", "script": "hi"},
            files={"voiceover": ("v.wav", files["voice"].read_bytes(), "audio/wav")},
        ),
        "empty title": lambda: api.post(f"{API}/projects", data={"title": "", "script": "hi"}),
        "unknown music preset": lambda: api.post(gen, json={"music_preset": "jazz"}),
        "unknown quality": lambda: api.post(gen, json={"quality": "8k"}),
        "unknown animation": lambda: api.post(gen, json={"subtitle_animation": "spin"}),
        "unknown effects": lambda: api.post(gen, json={"effects_preset": "wild"}),
        "unknown platform": lambda: api.post(gen, json={"platform": "myspace"}),
        "negative volume": lambda: api.post(gen, json={"music_volume": -0.5}),
        "volume above one": lambda: api.post(gen, json={"music_volume": 7}),
        "bad wave settings": lambda: api.post(
            gen, json={"subtitle_animation": "wave", "wave_settings": {"amplitude": -3}}
        ),
        "schedule not a time": lambda: api.post(gen, json={"scheduled_time": "next tuesday"}),
        "malformed json": lambda: api.post(
            gen, content=b"{not json", headers={"Content-Type": "application/json"}
        ),
        "oversized body": lambda: api.post(
            gen, content=b"x" * (11 * 1024 * 1024), headers={"Content-Type": "application/json"}
        ),
        "timings before a render": lambda: api.patch(
            f"{API}/projects/{keep}/word-timings", json={"corrections": {"0": [0.1, 0.2]}}
        ),
        "timings out of bounds": lambda: api.patch(
            f"{API}/projects/{keep}/word-timings", json={"corrections": {"0": [-1, 0.5]}}
        ),
        "timings not pairs": lambda: api.patch(
            f"{API}/projects/{keep}/word-timings", json={"corrections": {"0": "soon"}}
        ),
        "foreign project": lambda: api.get(f"{API}/projects/{foreign}"),
        "foreign project render": lambda: api.post(
            f"{API}/video/generate-advanced/{foreign}", json={}
        ),
        "foreign project delete": lambda: api.delete(f"{API}/projects/{foreign}"),
        "unknown task": lambda: api.get(
            f"{API}/video/task-status/{'0' * 8}-0000-0000-0000-{'0' * 12}"
        ),
        "unknown download": lambda: api.get(f"{API}/video/not-a-task/download"),
        "empty batch": lambda: api.post(
            f"{API}/video/batch-generate-advanced", json={"project_ids": [], "settings": {}}
        ),
        "batch with foreign id": lambda: api.post(
            f"{API}/video/batch-generate-advanced",
            json={"project_ids": [foreign], "settings": {}},
        ),
        "missing token": lambda: anonymous.get(f"{API}/projects"),
        "invalid token": lambda: forged.get(f"{API}/projects"),
        "traversal in path": lambda: api.get(f"{API}/projects/..%2F..%2Fetc%2Fpasswd"),
    }
    assert len(cases) >= 30
    for name, call in cases.items():
        response = call()
        assert 400 <= response.status_code < 500, (name, response.status_code, response.text)
        assert response.headers["content-type"].startswith("application/json"), name
        assert response.json().get("detail"), (name, response.text)

    # Unicode and right-to-left text, and a path-like upload name, are fine, not errors.
    rtl = api.post(f"{API}/projects", data={"title": "عربي", "script": "مرحبا بالعالم 🌍"})
    assert rtl.status_code == 201, rtl.text
    sneaky = api.post(f"{API}/projects", **_voice_form(files["voice"], name="../../etc/x.wav"))
    assert sneaky.status_code == 201, sneaky.text
    uploads = stack.root / "data" / "uploads"
    assert all(uploads in p.parents for p in uploads.rglob("*") if p.is_file())
    assert not (stack.root / "etc").exists()

    # WebSocket garbage: errors answer, the socket and the server stay up.
    url = f"ws://127.0.0.1:{stack.api_port}/ws/{alice.id}?token={alice.token}"
    with connect(url) as socket:
        socket.send("{this is not json")
        socket.send(json.dumps({"task_id": 5, "after_seq": "x"}))
        socket.send("ping")
        replies = [socket.recv(timeout=5) for _ in range(3)]
        assert "pong" in replies
        assert sum('"error"' in r for r in replies) == 2
    for bad_url in (f"ws://127.0.0.1:{stack.api_port}/ws/{bob.id}?token={alice.token}",
                    f"ws://127.0.0.1:{stack.api_port}/ws/{alice.id}?token=nope"):  # fmt: skip
        with connect(bad_url) as socket, pytest.raises(Exception) as closed:
            socket.recv(timeout=5)
        assert getattr(closed.value, "rcvd", None) is not None
        assert closed.value.rcvd.code in (4401, 4404)

    # Nothing was lost, nothing crashed.
    assert api.get(f"{API}/projects/{keep}").status_code == 200
    assert stack.client().get(f"{API}/health").status_code == 200
    for client in (api, anonymous, forged):
        client.close()


# -- load ------------------------------------------------------------------------------


@pytest.mark.timeout(600)
def test_twenty_reels_fifty_viewers_every_event_in_order(stack):
    users = [new_user(stack, f"load-{n}") for n in range(5)]
    viewers = [Viewer(stack, user).start() for user in users for _ in range(10)]
    time.sleep(2)  # let every viewer connect
    projects = [
        (user, new_project(stack, user, f"Load reel {n} of {user.id}. Short and sweet."))
        for user in users
        for n in range(4)
    ]
    with ThreadPoolExecutor(max_workers=20) as pool:
        task_ids = list(pool.map(lambda up: (up[0], trigger(stack, *up)), projects))
    by_user: dict[str, set[str]] = {}
    for user, task_id in task_ids:
        by_user.setdefault(user.id, set()).add(task_id)
    try:
        for viewer in viewers:
            viewer.wait_for(by_user[viewer.user.id], timeout_s=420)
    finally:
        for viewer in viewers:
            viewer.stop()
    for viewer in viewers:
        for task_id in by_user[viewer.user.id]:
            seqs = viewer.sequence(task_id)
            assert contiguous(seqs), (viewer.user.id, task_id, seqs)
            final = [e for e in viewer.events if e["task_id"] == task_id][-1]
            assert final["status"] == "completed", final

    # Status hashes agree with Prefect's final states.
    states = httpx.post(
        f"{stack.prefect_url}/flow_runs/filter",
        json={
            "flow_runs": {
                "id": {
                    "any_": list(
                        run_ids_of([t for _, t in task_ids], api_url=stack.prefect_url).values()
                    )
                }
            }
        },
    ).json()
    assert len(states) == 20 and {run["state_type"] for run in states} == {"COMPLETED"}
    for user, task_id in task_ids:
        status = stack.wait_for_status(user.token, task_id, TERMINAL, timeout_s=10)
        assert status["status"] == "completed"


# -- failures --------------------------------------------------------------------------


@pytest.mark.timeout(600)
def test_worker_killed_mid_render_is_resubmitted_and_completes(stack):
    user = new_user(stack, "victim")
    script = "A longer reel, so the worker can be killed while it renders. " * 3
    task_id = trigger(stack, user, new_project(stack, user, script), quality="medium")
    render_started(stack, user.token, task_id)
    assert stack.kill_tree("worker-0") >= 3  # worker, flow run, ffmpeg: the host is gone
    stack.start_worker("worker-1")
    # Nothing reports the death: three missed heartbeats (90 s) crash the run, the API's relay
    # resubmits it, and the new worker runs it again.
    status = stack.wait_for_status(user.token, task_id, {"completed", "failed"}, timeout_s=360)
    assert status["status"] == "completed", (status, stack.log("api"), stack.log("worker-1"))
    run_id = run_id_of(task_id, api_url=stack.prefect_url)
    run = httpx.get(f"{stack.prefect_url}/flow_runs/{run_id}").json()
    assert run["run_count"] >= 2  # a second attempt of the same run
    states = stack.task_states(run_id)
    # the second attempt took every step the first had finished from the cache
    assert states["prepare-voice"][-1] == "Cached" and states["align-words"][-1] == "Cached"
    assert "Completed" in states["render-reel"]
    video = stack.root / "data" / "outputs" / task_id / "reel.mp4"
    assert outputs_of(stack.root, task_id) == ["reel.jpg", "reel.mp4"]  # no partial files
    info = probe(video)
    assert info.video is not None and info.audio is not None and info.duration_s > 5


def test_redis_restart_mid_run_viewers_catch_up(stack):
    user = new_user(stack, "redis-fan")
    viewer = Viewer(stack, user).start()
    time.sleep(1)
    script = "Redis goes away for a few seconds while this reel renders, then comes back."
    task_id = trigger(stack, user, new_project(stack, user, script), quality="medium")
    try:
        render_started(stack, user.token, task_id)
        stack.redis.stop()
        time.sleep(3)
        stack.redis.start()
        viewer.wait_for({task_id}, timeout_s=240)
    finally:
        viewer.stop()
    assert contiguous(viewer.sequence(task_id)), viewer.sequence(task_id)
    assert [e for e in viewer.events if e["task_id"] == task_id][-1]["status"] == "completed"
    status = stack.wait_for_status(user.token, task_id, TERMINAL, timeout_s=30)
    assert status["status"] == "completed" and status["progress"] == 100


def test_prefect_server_restart_while_workers_wait(stack):
    stack.stop("prefect")
    time.sleep(2)
    stack.start_prefect()
    user = new_user(stack, "after-restart")
    task_id = trigger(stack, user, new_project(stack, user, "After the Prefect restart."))
    status = stack.wait_for_status(user.token, task_id, TERMINAL, timeout_s=240)
    assert status["status"] == "completed", (status, stack.log("worker-1"))


def test_api_restart_keeps_projects_and_task_status(stack):
    user = new_user(stack, "persistent")
    project_id = new_project(stack, user, "Survive the API restart.")
    task_id = trigger(stack, user, project_id)
    stack.wait_for_status(user.token, task_id, TERMINAL, timeout_s=240)
    stack.stop("api")
    stack.start_api()
    with stack.client(user.token) as client:
        assert client.get(f"{API}/projects/{project_id}").status_code == 200
        status = client.get(f"{API}/video/task-status/{task_id}").json()
        assert status["status"] == "completed"
        assert client.get(f"{API}/video/{task_id}/download").status_code == 200


def test_concurrent_viewers_do_not_block_each_other(stack):
    """A slow viewer (never reads) does not hold up a fast one (server-side queues)."""
    user = new_user(stack, "slowpoke")
    url = f"ws://127.0.0.1:{stack.api_port}/ws/{user.id}?token={user.token}"
    slow = connect(url)
    fast = Viewer(stack, user).start()
    try:
        task_id = trigger(stack, user, new_project(stack, user, "Two viewers, one slow."))
        fast.wait_for({task_id}, timeout_s=240)
        assert contiguous(fast.sequence(task_id))
    finally:
        fast.stop()
        slow.close()
