"""Face tracking and reframing: the bundled Haar cascade on generated faces, the smoothing with
an injected detector, and the crop expression evaluated the way ffmpeg will."""

from __future__ import annotations

import math

import numpy as np
import pytest

from reelflow.engine.render.reframe import (
    crop_args,
    crop_box,
    haar_detector,
    piecewise_expr,
    track_face,
)
from tests import talkclip


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> talkclip.TalkClip:
    folder = tmp_path_factory.mktemp("talk")
    return talkclip.make_talk_clip(folder, ["One.", "Two."], pause_s=1.0)


@pytest.mark.parametrize("x", [0.2, 0.5, 0.8])
def test_the_bundled_cascade_finds_a_drawn_face(x: float) -> None:
    img = np.full((360, 640), 60, np.uint8)
    talkclip.draw_face(img, (int(x * 640), 180), 0.6)
    boxes = haar_detector()(img)
    assert len(boxes) == 1
    bx, by, bw, bh = boxes[0]
    assert abs((bx + bw / 2) / 640 - x) < 0.02 and abs((by + bh / 2) - 180) < 12


def test_a_flat_picture_has_no_face() -> None:
    assert haar_detector()(np.full((360, 640), 60, np.uint8)) == []


def test_the_track_follows_a_moving_face(clip) -> None:
    track = track_face(clip.path)
    assert track is not None and track.found >= 0.8 * track.samples
    assert len(track.times_s) < track.samples  # keyframes only
    for t in np.arange(0.5, clip.duration_s - 0.5, 0.25):
        x = float(np.interp(t, track.times_s, track.x))
        assert abs(x - talkclip.face_x(t)) < 0.05, (t, x)


def _detector(path_x, *, dropouts=(), outliers=()):
    """A fake detector reading the sample index from the frame's first pixel's counter."""
    calls = {"n": 0}

    def detect(gray):
        i = calls["n"]
        calls["n"] += 1
        if i in dropouts:
            return []
        x = 0.95 if i in outliers else path_x(i / 4.0)
        w = gray.shape[1]
        return [(int(x * w) - 20, 100, 40, 40)]

    return detect


def test_gaps_are_filled_outliers_ignored_and_the_path_smoothed(clip) -> None:
    def steady(t):
        return 0.3 + 0.02 * t

    detector = _detector(steady, dropouts={3, 4, 5, 10}, outliers={7, 15})
    track = track_face(clip.path, detector=detector)
    assert track is not None and track.found == track.samples - 4
    for t in np.arange(0.0, track.times_s[-1], 0.25):
        assert abs(float(np.interp(t, track.times_s, track.x)) - steady(t)) < 0.015


def test_too_few_faces_means_a_centre_crop(clip) -> None:
    few = _detector(lambda t: 0.5, dropouts=set(range(1000)) - {0, 1})
    assert track_face(clip.path, detector=few) is None
    args = crop_args(None, 640, 360, width=1080, height=1920)
    assert args == {"w": "202", "h": "360", "x": "219", "y": "0"}


def test_crop_box_keeps_the_output_aspect() -> None:
    assert crop_box(1920, 1080, width=1080, height=1920) == (606, 1080)
    assert crop_box(1080, 1920, width=1080, height=1080) == (1080, 1080)
    assert crop_box(1080, 1920, width=1080, height=1920) == (1080, 1920)


def test_piecewise_expression_matches_linear_interpolation() -> None:
    times, values = [0.0, 1.0, 2.5, 4.0], [0.5, 0.7, 0.7, 0.2]
    expr = piecewise_expr(times, values)
    env = {"clip": lambda v, lo, hi: min(max(v, lo), hi)}
    for t in [-1.0, 0.0, 0.4, 1.0, 2.0, 3.1, 4.0, 9.0]:
        got = eval(expr, env, {"t": t})  # the expression is also valid Python
        assert math.isclose(got, float(np.interp(t, times, values)), abs_tol=1e-4), t
