"""Several background files in a real run: cut where a bar of the music starts."""

from __future__ import annotations

import pickle

from reelflow.flows.local import run_reel
from reelflow.flows.runtime import RunContext
from reelflow.models import parse_spec
from reelflow.settings import Settings
from tests import mediatools


def _result(settings: Settings, step: str):
    (found,) = (settings.cache_dir / step).glob("*/result.pickle")
    return pickle.loads(found.read_bytes())


def test_background_files_are_cut_on_a_downbeat(tmp_path):
    red = mediatools.solid_image(tmp_path / "red.png", "red")
    blue = mediatools.solid_image(tmp_path / "blue.png", "blue")
    settings = Settings(data_dir=tmp_path / "data", enable_gpu_acceleration=False)
    spec = parse_spec(
        {
            "script": "Backgrounds change on the beat. This one goes red, then blue.",
            "music": {"preset": "upbeat"},
            "quality": "low",
            "background": {"type": "image", "paths": [str(red), str(blue)], "transition": "cut"},
        }
    )
    result = run_reel(spec, RunContext(output=tmp_path / "reel.mp4"), settings=settings)
    background = _result(settings, "prepare-background")
    music, mix = _result(settings, "analyze-music"), _result(settings, "plan-mix")
    downbeats = [b - mix.music_start_s for b in music.strong_beat_times_s]
    (cut,) = background.cuts_s
    assert min(abs(cut - b) for b in downbeats) < 1e-3
    before = mediatools.rgb_frame_at(result.video, cut - 0.1).reshape(-1, 3).mean(axis=0)
    after = mediatools.rgb_frame_at(result.video, cut + 0.1).reshape(-1, 3).mean(axis=0)
    assert before[0] > 150 > before[2] and after[2] > 150 > after[0]
