"""Hook title card and progress bar: drawn in the render's one pass, read back from frames."""

from __future__ import annotations

import numpy as np
import pysubs2
import pytest

from reelflow.engine.ffmpeg import probe
from reelflow.engine.render.background import Background
from reelflow.engine.render.effects import STATIC
from reelflow.engine.render.encoding import choose_encoder
from reelflow.engine.render.graph import RenderJob, build_command, render
from reelflow.engine.render.mix import plan_mix
from reelflow.engine.render.overlays import TitleCard
from reelflow.models import parse_spec
from reelflow.presets import ASPECT_PRESETS, PLATFORM_PRESETS, QUALITY_PRESETS
from tests import mediatools

DURATION = 2.0


@pytest.fixture(scope="module")
def mix(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mix")
    voice = mediatools.speech_like(folder / "v.wav", [(0.1, 1.8)], seconds=DURATION)
    return plan_mix(voice, DURATION, music_path=None, music_start_s=0.0, volume=0.0,
                    envelope_path=None, target_lufs=-14.0, true_peak_dbtp=-1.0,
                    out_path=folder / "mix.wav")  # fmt: skip


def job(mix, aspect: str = "9:16", **kw) -> RenderJob:
    return RenderJob(mix=mix, background=Background("color", colors=("#000000",)), camera=STATIC,
                     quality=QUALITY_PRESETS["low"], platform=PLATFORM_PRESETS["instagram"],
                     aspect=ASPECT_PRESETS[aspect], encoder="libx264", **kw)  # fmt: skip


def test_spec_takes_a_title_and_a_progress_bar():
    spec = parse_spec(
        {"script": "hi", "title": {"text": "  Stop   scrolling "}, "progress_bar": True}
    )
    assert spec.title.text == "Stop scrolling" and spec.title.duration_s == 2.5
    assert spec.progress_bar_colour == "#FFD400"  # the caption look's highlight
    with pytest.raises(Exception, match=r"title\.text"):
        parse_spec({"script": "hi", "title": {"text": "   "}})
    with pytest.raises(Exception, match=r"title\.duration_s"):
        parse_spec({"script": "hi", "title": {"text": "Hi", "duration_s": 30}})


@pytest.mark.parametrize("aspect", ["9:16", "16:9"])
def test_title_shows_over_the_opening_and_the_bar_fills_the_top_edge(mix, tmp_path, aspect):
    title = TitleCard("Three things nobody tells you", duration_s=1.0)
    result = render(job(mix, aspect, title=title, progress_bar_colour="#FF0000"),
                    tmp_path / "reel.mp4")  # fmt: skip
    width, height = ASPECT_PRESETS[aspect].size(QUALITY_PRESETS["low"])
    info = probe(result.video_path)
    assert (info.video.width, info.video.height) == (width, height)
    # The title file sits in the aspect's safe zone and ends with its duration.
    subs = pysubs2.load(str(tmp_path / "reel-title.ass"))
    assert [e.plaintext for e in subs.events] == title.text.split()
    assert all(e.end == 1000 for e in subs.events)
    early = mediatools.rgb_frame_at(result.video_path, 0.5)
    late = mediatools.rgb_frame_at(result.video_path, 1.5)
    body = slice(height // 10, height - height // 10)  # below the bar
    white_early = (early[body].min(axis=2) > 200).sum()
    assert white_early > 300 and (late[body].min(axis=2) > 200).sum() < 20
    zone = PLATFORM_PRESETS["instagram"].safe_zone_for(aspect)
    ys, xs = np.nonzero(early.min(axis=2) > 200)
    assert xs.min() >= zone.left * width - 2 and xs.max() <= (1 - zone.right) * width + 2
    assert ys.min() >= zone.top * height - 2 and ys.max() <= (1 - zone.bottom) * height + 2
    # The bar: red along the top rows, as far as the reel has played.
    for t, frame in ((0.5, early), (1.5, late)):
        row = frame[1]
        red = (row[:, 0] > 150) & (row[:, 1] < 90) & (row[:, 2] < 90)
        filled = np.nonzero(red)[0]
        assert filled.size and filled.min() <= 1
        assert abs((filled.max() + 1) / width - t / DURATION) < 0.05, (t, filled.max())
        assert not (frame[12:16, :, 0] > 150).any()  # thin: nothing red below it


def test_overlays_stay_in_the_one_pass(mix, tmp_path):
    plain = job(mix)
    decorated = job(mix, title=TitleCard("Hook", 1.0), progress_bar_colour="#FF0000")
    choice = choose_encoder("libx264", allow_gpu=False)
    args = build_command(decorated, choice, None, tmp_path / "o.mp4", title_path=tmp_path / "t.ass")
    assert args.count("-filter_complex") == 1 and args.count("-c:v") + args.count("-vcodec") == 1
    graph = args[args.index("-filter_complex") + 1]
    assert graph.count("ass=") == 1 and "overlay=" in graph
    assert (
        "overlay"
        not in build_command(plain, choice, None, tmp_path / "o.mp4")[
            build_command(plain, choice, None, tmp_path / "o.mp4").index("-filter_complex") + 1
        ]
    )
