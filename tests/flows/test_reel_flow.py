"""generate-reel on a real temporary Prefect server with the real Redis."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from reelflow.engine.ffmpeg import probe
from reelflow.flows.reel import generate_reel
from reelflow.flows.runtime import RunContext
from reelflow.models import parse_spec
from tests.flows.helpers import flow_events, progress_artifacts, task_states
from tests.redis_server import ThrowawayRedis

SPEC = {
    "script": "Cached steps make the second run instant.",
    "quality": "low",
    "music": {"preset": "chill"},
    "captions": {"animation": "highlight"},
}
CACHEABLE = {
    "prepare-voice", "align-words", "analyze-voice", "build-captions", "prepare-background",
    "prepare-music", "analyze-music", "measure-levels", "plan-mix", "plan-effects",
    "render-reel",
}  # fmt: skip


@pytest.fixture
def env(monkeypatch, tmp_path, prefix, prefect_server):
    monkeypatch.setenv("REELFLOW_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("REELFLOW_REDIS_KEY_PREFIX", prefix)
    monkeypatch.setenv("REELFLOW_REDIS_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("REELFLOW_PROGRESS_FLUSH_TIMEOUT_S", "20")
    monkeypatch.setenv("REELFLOW_ENABLE_GPU_ACCELERATION", "false")
    return tmp_path


def run(spec: dict, user: str = "u1", **context):
    state = generate_reel(parse_spec(spec), RunContext(user_id=user, **context), return_state=True)
    return state, str(state.state_details.flow_run_id)


def test_run_completes_and_events_arrive_in_order_everywhere(env, rclient, prefix):
    pubsub = rclient.pubsub()
    pubsub.subscribe(f"{prefix}:progress:u1")
    pubsub.get_message(timeout=1)  # the subscribe confirmation
    state, task_id = run(SPEC)
    assert state.is_completed()
    published = []
    while (message := pubsub.get_message(timeout=0.5)) is not None:
        if message["type"] == "message":
            published.append(json.loads(message["data"]))
    pubsub.close()

    stream = flow_events(rclient, prefix, task_id)
    seqs = [e["seq"] for e in stream]
    assert seqs == list(range(1, len(seqs) + 1))  # no gaps, in order
    assert [e["seq"] for e in published] == seqs  # the channel saw the same events
    assert stream[0]["status"] == "running" and stream[-1]["status"] == "completed"
    milestones = {e["stage"]: e["progress"] for e in stream if e["status"] == "running"}
    for stage, pct in {"voice": 10, "words": 20, "captions": 40, "render": 90}.items():
        assert milestones[stage] == pct
    assert [e["progress"] for e in stream] == sorted(e["progress"] for e in stream)

    status = rclient.hgetall(f"{prefix}:task:{task_id}")
    assert status["status"] == "completed" and float(status["progress"]) == 100
    video = Path(json.loads(status["output"])["video"])
    assert probe(video).video.height == 960
    assert rclient.ttl(f"{prefix}:task:{task_id}") > 0
    # The UI's bar: one progress artifact, sent in the background, ends on the final value.
    assert progress_artifacts(task_id) == [100.0]


def test_identical_run_is_all_cache_hits(env):
    first, first_id = run(SPEC)
    second, second_id = run(SPEC)
    assert first.is_completed() and second.is_completed()
    assert {t for t, s in task_states(first_id).items() if s == "Completed"} >= CACHEABLE
    states = task_states(second_id)
    assert {t for t, s in states.items() if s == "Cached"} == CACHEABLE
    out1, out2 = first.result().video, second.result().video
    assert out1 != out2 and out2.read_bytes() == out1.read_bytes()


def test_caption_only_edit_reruns_exactly_captions_and_render(env):
    run(SPEC)
    edited = SPEC | {"captions": {"animation": "bounce"}}
    state, task_id = run(edited)
    assert state.is_completed()
    states = task_states(task_id)
    recomputed = {t for t, s in states.items() if t in CACHEABLE and s != "Cached"}
    assert recomputed == {"build-captions", "render-reel"}


def test_music_edit_reruns_music_mix_and_render(env):
    run(SPEC)
    _, task_id = run(SPEC | {"music": {"preset": "gaming"}})
    recomputed = {t for t, s in task_states(task_id).items() if t in CACHEABLE and s != "Cached"}
    assert recomputed == {"prepare-music", "analyze-music", "measure-levels", "plan-mix",
                          "plan-effects", "render-reel"}  # fmt: skip


def test_refresh_cache_recomputes_everything(env):
    run(SPEC)
    _, task_id = run(SPEC, refresh_cache=True)
    assert not [t for t, s in task_states(task_id).items() if s == "Cached"]


def test_transient_failure_is_retried_and_the_run_completes(env, monkeypatch):
    monkeypatch.setenv("REELFLOW_INJECT_FAULTS", "render-reel:1")
    state, task_id = run(SPEC | {"script": "A flaky encoder fails once."})
    assert state.is_completed()
    runs = task_states(task_id, field="run_count")
    assert runs["render-reel"] == 2


def test_invalid_input_fails_fast_with_one_failed_event(env, rclient, prefix, tmp_path):
    # inside the user's uploads, where a run may read (reelflow/flows/confine.py)
    not_audio = tmp_path / "data" / "uploads" / "u1" / "voice.wav"
    not_audio.parent.mkdir(parents=True)
    not_audio.write_text("not audio")
    spec = {"voiceover": str(not_audio), "transcript": "hello there", "quality": "low"}
    started = time.perf_counter()
    state, task_id = run(spec)
    assert state.is_failed()
    assert time.perf_counter() - started < 15
    failed = [e for e in flow_events(rclient, prefix, task_id) if e["status"] == "failed"]
    assert len(failed) == 1
    assert failed[0]["error"].startswith("voiceover:")
    assert task_states(task_id, field="run_count")["check-inputs"] == 1  # never retried


def test_redis_outage_does_not_fail_the_run(env, monkeypatch, tmp_path, prefix):
    server = ThrowawayRedis(tmp_path / "redis", durable=True)
    server.start()
    monkeypatch.setenv("REELFLOW_REDIS_URL", server.url)
    outcome: dict = {}
    worker = threading.Thread(
        target=lambda: outcome.update(zip(("state", "task_id"), run(SPEC | {"quality": "medium"}),
                                          strict=True))
    )  # fmt: skip
    try:
        worker.start()
        client = server.client()
        deadline = time.monotonic() + 60
        while not list(client.scan_iter("*:task:*")) and time.monotonic() < deadline:
            time.sleep(0.05)  # wait until the run has reported something
        server.stop()  # Redis goes away mid-run (it keeps what it acknowledged, as in production)
        time.sleep(3)
        server.start()  # ... and comes back before the run's final flush gives up
        worker.join(timeout=120)
        assert outcome["state"].is_completed()
        task_id = outcome["task_id"]
        with server.client() as client:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                status = client.hgetall(f"{prefix}:task:{task_id}")
                if status.get("status") == "completed":
                    break
                time.sleep(0.2)
            assert status.get("status") == "completed"
            events = flow_events(client, prefix, task_id)
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    finally:
        server.stop()
