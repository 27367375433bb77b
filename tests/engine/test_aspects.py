"""Every aspect at every quality: exact sizes, centre-cropped backgrounds, captions in the
aspect's safe zone, and platforms that refuse shapes they do not take."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from reelflow.engine import ffmpeg
from reelflow.engine.captions.ass import build_captions
from reelflow.engine.ffmpeg import probe
from reelflow.engine.render.background import Background
from reelflow.engine.render.effects import STATIC
from reelflow.engine.render.graph import RenderJob, render
from reelflow.engine.render.mix import plan_mix
from reelflow.engine.timing import WordTiming, WordTimings
from reelflow.models import parse_spec
from reelflow.presets import (
    ASPECT_PRESETS,
    PLATFORM_PRESETS,
    QUALITY_PRESETS,
    CaptionStyle,
)
from tests import mediatools

DURATION = 1.0
TEXT = "a caption that is long enough to wrap somewhere"


def test_sizes_follow_the_quality_table_and_ultra_doubles_high():
    high, ultra = QUALITY_PRESETS["high"], QUALITY_PRESETS["ultra"]
    expected = {
        "9:16": (1080, 1920),
        "4:5": (1080, 1350),
        "1:1": (1080, 1080),
        "16:9": (1920, 1080),
    }
    for name, aspect in ASPECT_PRESETS.items():
        assert aspect.size(high) == expected[name]
        assert aspect.size(ultra) == tuple(2 * side for side in expected[name])
        for quality in QUALITY_PRESETS.values():
            w, h = aspect.size(quality)
            assert w % 2 == 0 and h % 2 == 0 and min(w, h) == quality.width
            assert abs(w / h - aspect.across / aspect.down) < 0.01


@pytest.mark.parametrize("platform", ["tiktok", "youtube_shorts"])
@pytest.mark.parametrize("aspect", ["4:5", "1:1", "16:9"])
def test_vertical_only_platforms_refuse_other_shapes(platform, aspect):
    with pytest.raises(Exception, match=rf"^aspect: .* does not take {aspect}"):
        parse_spec({"script": "hi", "platform": platform, "aspect": aspect})
    with pytest.raises(Exception, match=rf"^aspects: .* does not take {aspect}"):
        parse_spec({"script": "hi", "platform": platform, "aspects": ["9:16", aspect]})
    assert parse_spec({"script": "hi", "platform": platform}).output_aspects == ("9:16",)


def test_aspects_are_listed_once_and_agree_with_aspect():
    spec = parse_spec({"script": "hi", "aspects": ["1:1", "9:16"]})
    assert spec.output_aspects == ("1:1", "9:16")
    with pytest.raises(Exception, match="at most once"):
        parse_spec({"script": "hi", "aspects": ["1:1", "1:1"]})
    with pytest.raises(Exception, match="not both"):
        parse_spec({"script": "hi", "aspect": "4:5", "aspects": ["1:1"]})


@pytest.mark.parametrize("aspect", list(ASPECT_PRESETS))
def test_captions_use_the_aspect_size_and_safe_zone(aspect):
    width, height = ASPECT_PRESETS[aspect].size(QUALITY_PRESETS["high"])
    zone = PLATFORM_PRESETS["instagram"].safe_zone_for(aspect)
    words = WordTimings(
        tuple(WordTiming(w, 0.4 * i, 0.4 * i + 0.35) for i, w in enumerate(TEXT.split())),
        method="aligned",
    )
    subs = build_captions(words, CaptionStyle(words_per_caption=5), width=width, height=height,
                          safe_zone=zone, duration_s=5.0)  # fmt: skip
    assert (subs.info["PlayResX"], subs.info["PlayResY"]) == (str(width), str(height))
    # Sizes scale with the short side: a landscape caption is as tall as a vertical one.
    assert subs.styles["Caption"].fontsize == pytest.approx(96 * min(width, height) / 1080, 0.01)
    points = [tuple(map(float, m)) for e in subs.events
              for m in re.findall(r"\\pos\(([\d.]+),([\d.]+)\)", e.text)]  # fmt: skip
    assert points
    for x, y in points:
        assert zone.left * width <= x <= (1 - zone.right) * width
        assert zone.top * height <= y <= (1 - zone.bottom) * height


@pytest.fixture(scope="module")
def mix(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mix")
    voice = mediatools.speech_like(folder / "v.wav", [(0.1, 0.8)], seconds=DURATION)
    return plan_mix(voice, DURATION, music_path=None, music_start_s=0.0, volume=0.0,
                    envelope_path=None, target_lufs=-14.0, true_peak_dbtp=-1.0,
                    out_path=folder / "mix.wav")  # fmt: skip


@pytest.fixture(scope="module")
def striped_video(tmp_path_factory) -> Path:
    """Landscape 640x360: red, with a green column exactly 9:16 wide in the middle."""
    path = tmp_path_factory.mktemp("bg") / "striped.mp4"
    column = 360 * 9 // 16
    source = (
        f"color=c=red:s=640x360,drawbox=x={(640 - column) // 2}:y=0:w={column}:h=360:c=lime:t=fill"
    )
    ffmpeg.run(["-loglevel", "error", "-f", "lavfi", "-i", source, "-t", "1.2", "-r", "30",
                "-c:v", "libx264", "-preset", "ultrafast", str(path)])  # fmt: skip
    return path


def _mean_rgb(frame: np.ndarray) -> np.ndarray:
    return frame.reshape(-1, 3).mean(axis=0)


@pytest.mark.parametrize("aspect", list(ASPECT_PRESETS))
def test_render_crops_the_background_to_the_aspect(aspect, mix, striped_video, tmp_path):
    job = RenderJob(mix=mix, background=Background("video", files=(striped_video,)), camera=STATIC,
                    quality=QUALITY_PRESETS["low"], platform=PLATFORM_PRESETS["generic"],
                    aspect=ASPECT_PRESETS[aspect], encoder="libx264", allow_gpu=False)  # fmt: skip
    result = render(job, tmp_path / "reel.mp4")
    info = probe(result.video_path)
    width, height = ASPECT_PRESETS[aspect].size(QUALITY_PRESETS["low"])
    assert (info.video.width, info.video.height) == (width, height)
    frame = mediatools.rgb_frame_at(result.video_path, 0.5)
    assert frame.shape[:2] == (height, width)
    left, middle = (
        _mean_rgb(frame[:, : width // 20]),
        _mean_rgb(frame[:, width // 2 - 4 : width // 2 + 4]),
    )
    assert middle[1] > 180 and middle[0] < 80  # the centre is the green column
    if aspect == "9:16":
        assert left[1] > 180 and left[0] < 80  # 9:16 is exactly the column
    else:
        assert left[0] > 180 and left[1] < 80  # wider shapes show the red around it
