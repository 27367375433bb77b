"""Past reels (GET /video/reels) and the web page's issue-13 options, on the real app and Redis.

No Prefect server is needed: a finished reel is seeded the way a run leaves it (its task record,
its `completed` event through the real emit script, its files in the outputs folder), and a
render start is checked up to the request the page sends (the API then answers 503: no Prefect).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import redis
import uvicorn

from reelflow.api.app import create_app
from reelflow.api.config import ApiConfig
from reelflow.engine import ffmpeg
from reelflow.flows.confine import aspect_target
from reelflow.progress import ProgressEvent, RedisProgressSink
from reelflow.settings import Settings
from reelflow.store import Store
from tests import mediatools
from tests.api.helpers import ApiUser, wait_in_page
from tests.redis_server import free_port

REDIS_URL = "redis://127.0.0.1:6379/0"
pytestmark = pytest.mark.usefixtures("redis_up")


@pytest.fixture(scope="module")
def psettings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    prefix = f"test-reels-{uuid.uuid4().hex[:10]}"
    yield Settings(
        data_dir=tmp_path_factory.mktemp("reels") / "data",
        redis_url=REDIS_URL,
        redis_key_prefix=prefix,
        enable_gpu_acceleration=False,
        progress_flush_timeout_s=5.0,
    )
    client = redis.Redis.from_url(REDIS_URL)
    stale = list(client.scan_iter(f"{prefix}:*"))
    if stale:
        client.delete(*stale)
    client.close()


@pytest.fixture(scope="module")
def server(psettings: Settings) -> Iterator[str]:
    """The app under uvicorn on loopback, with a deployment name no Prefect knows."""
    config = replace(
        ApiConfig.from_settings(psettings), rate_limit_reels=0, reel_deployment="no-such/flow"
    )
    port = free_port()
    app = create_app(psettings, config=config)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=15)


def _user(settings: Settings, name: str) -> ApiUser:
    with Store(settings) as store:
        user, token = store.create_user(name)
    return ApiUser(id=user.id, token=token)


def _finished_reel(settings: Settings, user: ApiUser, sizes: dict[str, str] | None = None) -> str:
    """A reel as a completed run leaves it, with a video (and poster) per aspect in `sizes`
    (the first is the main one, as the flow publishes them); returns its task id."""
    task_id = str(uuid.uuid4())
    folder = settings.output_dir / task_id
    folder.mkdir(parents=True)
    renditions = {}
    for i, (aspect, size) in enumerate((sizes or {"9:16": "180x320"}).items()):
        target = folder / "reel.mp4" if i == 0 else aspect_target(folder / "reel.mp4", aspect)
        mediatools.lavfi_video(target, "testsrc2", seconds=1.0, size=size)
        ffmpeg.run(["-loglevel", "error", "-i", str(target), "-frames:v", "1",
                    str(target.with_suffix(".jpg"))])  # fmt: skip
        renditions[aspect] = str(target)
    video = folder / "reel.mp4"
    with Store(settings) as store:
        store.record_task(user.id, task_id, parameters={"request": {}})
    sink = RedisProgressSink(settings)
    output = {"video": str(video), "poster": str(folder / "reel.jpg")}
    output["renditions"] = json.dumps(renditions)
    sink.emit(ProgressEvent(task_id=task_id, user_id=user.id, status="completed",
                            stage="stored", progress=100.0, seq=1, output=output))  # fmt: skip
    sink.close()
    return task_id


def test_reels_lists_the_callers_reels_with_their_files(psettings, server):
    import httpx

    alice, bob = _user(psettings, "alice"), _user(psettings, "bob")
    done = _finished_reel(psettings, alice)
    _finished_reel(psettings, bob)
    with httpx.Client(base_url=server, headers=alice.headers) as http:
        reels = http.get("/api/v1/video/reels").json()
        assert [r["task_id"] for r in reels] == [done]  # bob's is not listed
        assert reels[0]["status"] == "completed"
        poster = http.get(reels[0]["output"]["poster"])
        assert poster.status_code == 200 and poster.headers["content-type"] == "image/jpeg"
        assert http.get("/api/v1/video/reels?limit=0").status_code == 422


def test_every_rendition_is_listed_and_downloadable(psettings, server, tmp_path):
    import httpx

    erin, frank = _user(psettings, "erin"), _user(psettings, "frank")
    sizes = {"9:16": "180x320", "1:1": "240x240", "16:9": "320x180"}
    task_id = _finished_reel(psettings, erin, sizes)
    with httpx.Client(base_url=server, headers=erin.headers) as http:
        status = http.get(f"/api/v1/video/task-status/{task_id}").json()
        assert list(status["renditions"]) == list(sizes)  # the main one first
        listed = [r for r in http.get("/api/v1/video/reels").json() if r["task_id"] == task_id]
        assert listed[0]["renditions"] == status["renditions"]
        for aspect, url in status["renditions"].items():
            for file, suffix in (("video", ".mp4"), ("poster", ".jpg")):
                got = http.get(url if file == "video" else f"{url}&file=poster")
                assert got.status_code == 200, got.text
                saved = tmp_path / f"{aspect.replace(':', 'x')}{suffix}"
                saved.write_bytes(got.content)
                info = ffmpeg.probe(saved)
                assert f"{info.video.width}x{info.video.height}" == sizes[aspect], (aspect, file)
        main = http.get(f"/api/v1/video/{task_id}/download")
        assert main.content == http.get(status["renditions"]["9:16"]).content
        missing = http.get(f"/api/v1/video/{task_id}/download", params={"aspect": "4:5"})
        assert missing.status_code == 404 and missing.json()["field"] == "aspect"
        bad = http.get(f"/api/v1/video/{task_id}/download", params={"aspect": "2:1"})
        assert bad.status_code == 422 and bad.json()["field"] == "aspect"
    # another user's rendition is as unknown as the run itself
    other = httpx.get(server + status["renditions"]["1:1"], headers=frank.headers)
    assert other.status_code == 404 and other.json()["field"] == "task_id"


def _decode(data: bytes):
    """The still's pixels (rows, columns, RGB)."""
    import io

    import av

    with av.open(io.BytesIO(data)) as container:
        frame = next(container.decode(video=0))
        return frame.to_ndarray(format="rgb24")


def test_caption_preview_draws_the_look(psettings, server):
    import httpx
    import numpy as np

    from reelflow.presets import ASPECT_PRESETS, QUALITY_PRESETS

    gina = _user(psettings, "gina")
    url = "/api/v1/video/caption-preview"
    assert httpx.get(server + url).status_code == 401
    with httpx.Client(base_url=server, headers=gina.headers, timeout=60) as http:
        stills, drawn = {}, {}
        for look, aspect in (("bold", "9:16"), ("boxed", "9:16"), ("karaoke", "16:9")):
            got = http.get(url, params={"style": look, "aspect": aspect})
            assert got.status_code == 200 and got.headers["content-type"] == "image/jpeg"
            pixels = _decode(got.content)
            width, height = ASPECT_PRESETS[aspect].size(QUALITY_PRESETS["low"])
            assert pixels.shape == (height, width, 3)
            stills[look], drawn[look] = pixels, got.content
        difference = np.abs(stills["bold"].astype(int) - stills["boxed"].astype(int))
        assert (difference.max(axis=2) > 60).sum() > 500  # the words are drawn differently
        folder = psettings.data_dir / "previews"

        def cached() -> dict[Path, int]:
            return {p: p.stat().st_mtime_ns for p in folder.glob("*.jpg")}

        before = cached()
        again = http.get(url, params={"style": "bold", "aspect": "9:16"})
        assert again.status_code == 200 and again.content == drawn["bold"]
        # kept on disk by its inputs: asking again draws nothing new
        assert len(before) >= 3 and cached() == before
        for params, field in (
            ({"style": "neon"}, "style"),
            ({"aspect": "3:2"}, "aspect"),
            ({"platform": "tiktok", "aspect": "16:9"}, "aspect"),
            ({"emphasis": "loud"}, "emphasis"),
        ):
            refused = http.get(url, params=params)
            assert refused.status_code == 422 and refused.json()["field"] == field, refused.text


CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def page(server):
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("BROWSER TEST NOT RUN: playwright missing")
    if not CHROMIUM.is_file():
        pytest.skip(f"BROWSER TEST NOT RUN: no Chromium at {CHROMIUM} (apt-get install chromium)")
    from tests.api.test_browser import CHROMIUM_ARGS

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser.new_page(viewport={"width": 900, "height": 1600})
        browser.close()


@pytest.mark.slow
def test_the_page_lists_past_reels_with_posters_and_plays_one(psettings, server, page):
    carol = _user(psettings, "carol")
    task_id = _finished_reel(psettings, carol)
    page.goto(server)
    page.fill("#token", carol.token)
    page.click("#signin-button")
    item = f".reel[data-task-id='{task_id}']"
    page.wait_for_selector(f"{item} img[src^='blob:']")
    wait_in_page(page, f'document.querySelector("{item} img").naturalWidth > 0')
    page.click(f"{item} button")
    page.wait_for_selector("#reel-player:not([hidden])")
    assert page.eval_on_selector("#reel-player", "v => v.dataset.taskId") == task_id
    assert page.eval_on_selector("#reel-player", "v => v.src.startsWith('blob:')")
    wait_in_page(page, "document.getElementById('reel-player').readyState >= 1")
    duration = page.eval_on_selector("#reel-player", "v => v.duration")
    assert abs(duration - 1.0) < 0.1


@pytest.mark.slow
def test_the_page_sends_video_pause_trimming_and_webhook(psettings, server, page, tmp_path):
    from tests.talkclip import make_talk_clip

    clip = make_talk_clip(tmp_path, ["One two.", "Three."], pause_s=0.6)
    dave = _user(psettings, "dave")
    page.goto(server)
    page.fill("#token", dave.token)
    page.click("#signin-button")
    page.wait_for_selector("#project:not([hidden])")
    assert not page.is_visible("#trim_pauses_over_s")
    page.check("input[name=source][value=video]")
    assert page.is_visible("#talk-video") and not page.is_visible("#background")
    page.set_input_files("#talk-video", str(clip.path))
    page.fill("#transcript", "One two. Three.")
    page.click("#create-button")
    page.wait_for_selector("#render:not([hidden])")
    page.fill("#trim_pauses_over_s", "0.3")
    page.fill("#webhook_url", "https://hooks.example/reel")
    with page.expect_request("**/generate-advanced/**") as request:
        page.click("#start-button")
    body = json.loads(request.value.post_data)
    assert body["trim_pauses_over_s"] == 0.3 and body["webhook_url"] == "https://hooks.example/reel"
    # the body was valid (a bad one is a 422 naming its field); only Prefect is missing here
    wait_in_page(page, "document.getElementById('message').textContent.includes('Prefect')")


@pytest.mark.slow
def test_the_page_offers_looks_with_a_preview_and_sends_them(psettings, server, page):
    hana = _user(psettings, "hana")
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto(server)
    page.fill("#token", hana.token)
    page.click("#signin-button")
    page.wait_for_selector("#project:not([hidden])")
    page.fill("#script", "Three looks, one reel.")
    page.click("#create-button")
    page.wait_for_selector("#render:not([hidden])")
    # the preview follows the chosen look and aspect
    page.select_option("#caption_style", "bold")
    page.select_option("#aspect", "1:1")
    shown = "document.getElementById('caption-preview').dataset.shown || ''"
    wait_in_page(page, f"({shown}).includes('style=bold') && ({shown}).includes('aspect=1%3A1')")
    wait_in_page(page, "document.getElementById('caption-preview').naturalWidth > 0")
    size = page.eval_on_selector("#caption-preview", "i => [i.naturalWidth, i.naturalHeight]")
    assert size == [540, 540]
    assert page.is_visible("#voice")  # a script project picks its voice
    voices = page.eval_on_selector("#voice", "s => [...s.options].map(o => o.value)")
    assert voices[0] == "" and "espeak:en-gb" in voices
    page.select_option("#voice", "espeak:en-gb")
    page.select_option("#emphasis", "auto")
    page.select_option("#background_transition", "slide")
    page.fill("#hook-text", "Watch this")
    page.fill("#hook-duration", "2")
    page.check("#progress_bar")
    with page.expect_request("**/generate-advanced/**") as request:
        page.click("#start-button")
    body = json.loads(request.value.post_data)
    assert {k: body[k] for k in ("caption_style", "aspect", "voice", "emphasis")} == {
        "caption_style": "bold", "aspect": "1:1", "voice": "espeak:en-gb", "emphasis": "auto"
    }  # fmt: skip
    assert body["background_transition"] == "slide" and body["progress_bar"] is True
    assert body["title"] == {"text": "Watch this", "duration_s": 2}
    # the body was valid (a bad one is a 422 naming its field); only Prefect is missing here
    wait_in_page(page, "document.getElementById('message').textContent.includes('Prefect')")
    assert not problems, problems
