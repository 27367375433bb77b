"""The benchmarks' engine-only reference still renders the reel the DAG renders.

bench/engine_reel.py calls the step functions by hand; when a step's parameters change and
the reference is not updated, every "x the engine" figure silently stops being measurable.
"""

from __future__ import annotations

from bench.engine_reel import render_engine_only
from reelflow.engine.ffmpeg import probe
from reelflow.models import parse_spec
from reelflow.settings import Settings


def test_engine_only_reference_renders_a_reel(tmp_path):
    spec = parse_spec(
        {
            "script": "A short reel, rendered step by step.",
            "voice": "espeak:en-us",
            "quality": "low",
            "music": {"preset": "chill"},
        }
    )
    settings = Settings(data_dir=tmp_path / "data", enable_gpu_acceleration=False)
    out = tmp_path / "reel.mp4"
    seconds = render_engine_only(spec, out, settings=settings)
    info = probe(out)
    assert info.video is not None and info.audio is not None
    assert info.video.height == 960 and 1.0 < info.duration_s < 10.0
    assert {"voice", "words", "captions", "music", "render"} <= set(seconds)
