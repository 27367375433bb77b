"""Backgrounds that move: a drifting default gradient, files cut on downbeats with
transitions, and Ken Burns moves on images; all decoded from real renders."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from reelflow.engine.render.background import Background, plan_cuts
from reelflow.engine.render.effects import STATIC
from reelflow.engine.render.graph import RenderJob, render
from reelflow.engine.render.mix import plan_mix
from reelflow.models import BackgroundSpec, parse_spec
from reelflow.presets import BACKGROUND_TRANSITIONS, PLATFORM_PRESETS, QUALITY_PRESETS
from reelflow.tasks.picture import prepare_background
from tests import mediatools

DURATION = 3.0
RED, BLUE = np.array([255, 0, 0]), np.array([0, 0, 255])


@pytest.fixture(scope="module")
def mix(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mix")
    voice = mediatools.speech_like(folder / "v.wav", [(0.1, 2.8)], seconds=DURATION)
    return plan_mix(voice, DURATION, music_path=None, music_start_s=0.0, volume=0.0,
                    envelope_path=None, target_lufs=-14.0, true_peak_dbtp=-1.0,
                    out_path=folder / "mix.wav")  # fmt: skip


@pytest.fixture(scope="module")
def stills(tmp_path_factory):
    folder = tmp_path_factory.mktemp("stills")
    return (mediatools.solid_image(folder / "red.png", "red"),
            mediatools.solid_image(folder / "blue.png", "blue"))  # fmt: skip


def rendered(mix, background: Background, tmp_path):
    job = RenderJob(mix=mix, background=background, camera=STATIC, quality=QUALITY_PRESETS["low"],
                    platform=PLATFORM_PRESETS["instagram"], encoder="libx264")  # fmt: skip
    return render(job, tmp_path / "reel.mp4").video_path


def mean_colour(path, t_s: float, columns: slice = slice(None)) -> np.ndarray:
    return mediatools.rgb_frame_at(path, t_s)[:, columns].reshape(-1, 3).mean(axis=0)


def test_cuts_land_on_downbeats_and_keep_slots_fair():
    assert plan_cuts(1, 10.0, (2.0,)) == ()
    assert plan_cuts(2, 10.0) == (5.0,)
    assert plan_cuts(2, 10.0, (1.0, 4.6, 6.5, 9.0)) == (4.6,)  # nearest downbeat to 5 s
    assert plan_cuts(3, 9.0, (0.5, 2.9, 3.3, 6.2, 8.8)) == (2.9, 6.2)
    assert plan_cuts(2, 10.0, (0.5, 9.5)) == (5.0,)  # none fair: the even cut stays


def test_the_step_cuts_several_files_on_the_musics_downbeats(stills):
    from reelflow.engine.music.analysis import MusicAnalysis
    from reelflow.engine.render.mix import MixPlan

    beats = MusicAnalysis(tempo_bpm=120, beat_times_s=(), strong_beat_times_s=(1.0, 3.0, 5.0, 7.0),
                          energy_hop_s=0.1, energy=(), energy_peak_times_s=())  # fmt: skip
    mix = MixPlan(voice_path=stills[0], duration_s=8.0, music_start_s=1.0)
    spec = BackgroundSpec(type="image", paths=list(stills), transition="slide")
    bg = prepare_background.fn(spec=spec, beats=beats, mix=mix)
    assert bg.cuts_s == (4.0,) and bg.transition == "slide"  # the downbeat at 5 s of the music


def test_the_default_background_moves(mix, tmp_path):
    spec = parse_spec({"script": "hi"}).background
    background = Background(spec.type, colors=tuple(spec.colors))
    path = rendered(mix, background, tmp_path)
    frames, _ = mediatools.gray_frames(path, every=30)
    assert len(spec.colors) >= 3
    assert np.abs(frames[-1] - frames[0]).mean() > 2.0  # it drifts, visibly, in 3 s
    (tmp_path / "again").mkdir()
    again, _ = mediatools.gray_frames(rendered(mix, background, tmp_path / "again"), every=30)
    assert np.abs(again - frames).max() <= 2  # and the same way every time


@pytest.mark.parametrize("transition", list(BACKGROUND_TRANSITIONS))
def test_files_give_way_on_the_cut_with_the_transition(mix, stills, tmp_path, transition):
    bg = Background("image", files=stills, transition=transition, cuts_s=(1.2,))
    path = rendered(mix, bg, tmp_path)
    assert np.allclose(mean_colour(path, 0.6), RED, atol=40)
    assert np.allclose(mean_colour(path, 2.4), BLUE, atol=40)
    during = 1.2 + 0.2  # inside the transition (0.4 s from the cut)
    if transition == "cut":
        assert np.allclose(mean_colour(path, during), BLUE, atol=40)
        assert np.allclose(mean_colour(path, 1.1), RED, atol=40)
    elif transition == "fade":
        r, _, b = mean_colour(path, during)
        assert 60 < r < 200 and 60 < b < 200  # both at once, blended
    elif transition == "slide":
        left, right = (
            mean_colour(path, during, slice(0, 100)),
            mean_colour(path, during, slice(-100, None)),
        )
        assert np.allclose(left, RED, atol=60) and np.allclose(right, BLUE, atol=60)
    else:  # zoomin: pushes into the old clip, then blends into the new one at its end
        assert np.allclose(mean_colour(path, during), RED, atol=40)
        r, _, b = mean_colour(path, 1.5)
        assert 60 < r < 200 and 60 < b < 200


def test_images_get_a_ken_burns_move(mix, tmp_path):
    image = mediatools.detailed_image(tmp_path / "detail.png")
    path = rendered(mix, Background("image", files=(image,)), tmp_path)
    frames, _ = mediatools.gray_frames(path, every=15)
    steps = [np.abs(b - a).mean() for a, b in itertools.pairwise(frames)]
    assert min(steps) > 0.5  # it keeps moving, with a static camera


def test_the_spec_and_listing_know_every_transition():
    for name in BACKGROUND_TRANSITIONS:
        spec = parse_spec({"script": "hi", "background": {"transition": name}})
        assert spec.background.transition == name
