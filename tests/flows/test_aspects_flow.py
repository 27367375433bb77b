"""`aspects: [...]` renders sibling videos that share every step before the render."""

from __future__ import annotations

from reelflow.engine.ffmpeg import probe
from reelflow.flows.confine import aspect_target
from reelflow.flows.local import run_reel
from reelflow.flows.runtime import RunContext
from reelflow.models import parse_spec
from reelflow.settings import Settings
from tests import mediatools


def test_several_aspects_share_every_upstream_step(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", enable_gpu_acceleration=False)
    spec = parse_spec(
        {
            "script": "Two shapes, one voice.",
            "music": {"preset": "chill"},
            "quality": "low",
            "aspects": ["9:16", "1:1", "16:9"],
            "title": {"text": "Two shapes", "duration_s": 1.0},
            "progress_bar": True,
        }
    )
    out = tmp_path / "out" / "reel.mp4"
    result = run_reel(spec, RunContext(output=out), settings=settings)

    sizes = {"9:16": (540, 960), "1:1": (540, 540), "16:9": (960, 540)}
    assert result.video == out and set(result.renditions) == set(sizes)
    assert result.renditions["1:1"] == aspect_target(out, "1:1") == out.with_name("reel-1x1.mp4")
    for aspect, path in result.renditions.items():
        info = probe(path)
        assert (info.video.width, info.video.height) == sizes[aspect]
        assert abs(info.duration_s - result.duration_s) <= 0.1
        # each rendition carries the same mix
        assert mediatools.decode_audio(path).size > 0
        # and the progress bar (the look's yellow) is along its top edge, half full mid-reel
        row = mediatools.rgb_frame_at(path, result.duration_s / 2)[1].astype(int)
        yellow = (row[:, 0] > 180) & (row[:, 1] > 150) & (row[:, 2] < 90)
        assert abs(yellow.sum() / sizes[aspect][0] - 0.5) < 0.08
    keys = {d.name: len(list(d.iterdir())) for d in settings.cache_dir.iterdir()}
    per_aspect = {"build-captions", "render-reel"}
    assert {k: n for k, n in keys.items() if k in per_aspect} == dict.fromkeys(per_aspect, 3)
    assert all(n == 1 for k, n in keys.items() if k not in per_aspect), keys
