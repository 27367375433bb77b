"""Captioning your own clip end to end: a landscape talking-head clip with a moving face and
long pauses becomes a 9:16 reel centred on the face, its pauses cut from picture and sound
together, and the markers (a white flash with a tone burst) still coincide in the output."""

from __future__ import annotations

import numpy as np
import pytest

from reelflow.engine.ffmpeg import probe
from reelflow.engine.render.reframe import haar_detector
from reelflow.flows.local import run_reel
from reelflow.flows.runtime import RunContext
from reelflow.models import parse_spec
from reelflow.settings import Settings
from tests import mediatools, talkclip
from tests.flows.test_local_run import _step_result

PHRASES = ["Here is my own video.", "The picture follows my face.", "Captions sit below it."]


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> talkclip.TalkClip:
    return talkclip.make_talk_clip(tmp_path_factory.mktemp("talkclip"), PHRASES, pause_s=1.5)


@pytest.fixture(scope="module", params=[0.4, None], ids=["trimmed", "whole"])
def talk_reel(request, clip, tmp_path_factory):
    root = tmp_path_factory.mktemp("talkreel")
    settings = Settings(data_dir=root / "data", enable_gpu_acceleration=False)
    spec = parse_spec(
        {
            "video": str(clip.path),
            "transcript": " ".join(PHRASES),
            "trim_pauses_over_s": request.param,
            "music": {"preset": "none"},
            "effects": {"preset": "none"},
            "quality": "low",
        }
    )
    result = run_reel(spec, RunContext(output=root / "out" / "reel.mp4"), settings=settings)
    return clip, settings, result


def test_the_reel_is_vertical_and_shortened_like_its_voice(talk_reel):
    clip, settings, result = talk_reel
    info = probe(result.video)
    assert (info.video.width, info.video.height) == (540, 960)
    voice = _step_result(settings, "prepare-voice")
    assert abs(info.duration_s - voice.duration_s) <= 0.1
    if voice.cuts is None:
        assert abs(info.duration_s - clip.duration_s) <= 0.1
    else:
        assert voice.cuts.removed_s > 1.5 and info.duration_s < clip.duration_s - 1.5


def test_the_face_stays_in_the_centre_third(talk_reel):
    _, _, result = talk_reel
    frames, _ = mediatools.gray_frames(result.video, every=5)
    detect = haar_detector()
    centres = []
    for frame in frames:
        if frame.mean() > 200:  # a marker flash
            continue
        boxes = detect(frame.astype(np.uint8))
        if boxes:
            x, _, w, _ = max(boxes, key=lambda b: b[2] * b[3])
            centres.append((x + w / 2) / frame.shape[1])
    assert len(centres) >= 0.8 * len(frames)
    assert all(1 / 3 <= c <= 2 / 3 for c in centres), centres


def _flashes_s(path, fps_expected: int = 30) -> list[float]:
    frames, fps = mediatools.gray_frames(path)
    assert fps == fps_expected
    bright = frames.reshape(frames.shape[0], -1).mean(axis=1) > 200
    starts = np.flatnonzero(bright & ~np.concatenate(([False], bright[:-1])))
    return [i / fps for i in starts]


def _tone_onsets_s(path, rate: int = 48_000) -> list[float]:
    samples = mediatools.decode_audio(path, sample_rate=rate)
    hop, win = 48, 480  # 1 ms hops, 10 ms windows
    t = np.arange(win) / rate
    probe_wave = np.exp(-2j * np.pi * talkclip.MARKER_HZ * t)
    n = (samples.size - win) // hop
    level = np.array([abs(np.dot(samples[i * hop : i * hop + win], probe_wave)) for i in range(n)])
    on = level > 0.5 * level.max()
    starts = np.flatnonzero(on & ~np.concatenate(([False], on[:-1])))
    # the window reaches the tone's start half a window before its centre does
    return [(i * hop + win / 2) / rate for i in starts]


def test_picture_and_sound_stay_in_sync_across_the_cuts(talk_reel):
    clip, _, result = talk_reel
    flashes, tones = _flashes_s(result.video), _tone_onsets_s(result.video)
    assert len(flashes) == len(tones) == len(clip.markers_s)
    offsets_ms = [1000 * (tone - flash) for flash, tone in zip(flashes, tones, strict=True)]
    print("audio - picture offsets (ms):", [round(o, 1) for o in offsets_ms])
    assert all(abs(o) <= 35 for o in offsets_ms), offsets_ms  # within one frame
