"""The single-pass render, checked by decoding what it writes."""

from __future__ import annotations

import itertools
from dataclasses import replace
from pathlib import Path

import av
import numpy as np
import pytest

from reelflow.engine.audio import Segment, measure_loudness
from reelflow.engine.errors import InputError, MediaError
from reelflow.engine.ffmpeg import encoder_works, probe
from reelflow.engine.music.ducking import ducking_envelope, write_envelope_wav
from reelflow.engine.render.background import Background
from reelflow.engine.render.effects import STATIC, plan_camera
from reelflow.engine.render.encoding import NVENC, X264
from reelflow.engine.render.graph import RenderJob, render
from reelflow.engine.render.mix import plan_mix
from reelflow.presets import EFFECTS_PRESETS, PLATFORM_PRESETS, QUALITY_PRESETS
from tests import mediatools

SPEECH = [(0.3, 1.3), (2.7, 3.5)]
DURATION = 3.8
MUSIC_HZ = 6_000.0


@pytest.fixture(scope="module")
def voice(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("voice") / "voice.wav"
    return mediatools.speech_like(path, SPEECH, seconds=DURATION)


@pytest.fixture(scope="module")
def music_tone(tmp_path_factory) -> Path:
    return mediatools.tone(tmp_path_factory.mktemp("music") / "tone.wav", hz=MUSIC_HZ, seconds=6)


@pytest.fixture(scope="module")
def ducked_mix(tmp_path_factory, voice, music_tone):
    folder = tmp_path_factory.mktemp("mix")
    envelope = ducking_envelope([Segment(a, b) for a, b in SPEECH], DURATION, duck_db=11.0)
    envelope_path = write_envelope_wav(envelope, 100, folder / "env.wav")
    return plan_mix(
        voice,
        DURATION,
        music_path=music_tone,
        music_start_s=0.0,
        volume=0.3,
        envelope_path=envelope_path,
        target_lufs=-14.0,
        true_peak_dbtp=-1.0,
        out_path=folder / "mix.wav",
    )


def job_for(mix, background: Background, **kw) -> RenderJob:
    return RenderJob(
        mix=mix,
        background=background,
        camera=kw.pop("camera", STATIC),
        quality=QUALITY_PRESETS["low"],
        platform=PLATFORM_PRESETS["instagram"],
        **kw,
    )


GRADIENT = Background("gradient", colors=("#102030", "#8040A0"))


@pytest.fixture(scope="module")
def rendered(tmp_path_factory, ducked_mix):
    out = tmp_path_factory.mktemp("out") / "reel.mp4"
    progress: list[float] = []
    result = render(job_for(ducked_mix, GRADIENT), out, on_progress=progress.append)
    return result, progress


def test_output_is_h264_high_yuv420p_bt709_at_the_voice_length(rendered):
    result, _ = rendered
    info = probe(result.video_path)
    assert info.video is not None and info.audio is not None
    assert (info.video.codec, info.video.profile, info.video.pix_fmt) == ("h264", "High", "yuv420p")
    assert (info.video.width, info.video.height, info.video.fps) == (540, 960, 30.0)
    assert info.video.color_primaries == info.video.color_transfer == "bt709"
    assert info.video.color_space == "bt709"
    assert (info.audio.codec, info.audio.sample_rate, info.audio.channels) == ("aac", 48_000, 2)
    assert abs(info.duration_s - DURATION) <= 0.1
    assert result.encoder == (NVENC if encoder_works(NVENC) else X264)  # encoder auto


def test_moov_atom_comes_first_for_streaming(rendered):
    head = rendered[0].video_path.read_bytes()
    assert head.index(b"moov") < head.index(b"mdat")


def test_poster_is_a_jpeg_frame_of_the_reel(rendered):
    result, _ = rendered
    with av.open(str(result.poster_path)) as container:
        frame = next(container.decode(video=0))
    assert (frame.width, frame.height) == (540, 960)
    assert container.format.name in ("image2", "jpeg_pipe", "mjpeg")


def test_progress_rises_to_one(rendered):
    _, progress = rendered
    assert progress and progress[-1] == 1.0
    assert all(b >= a for a, b in itertools.pairwise(progress))


def test_loudness_meets_the_platform_target(rendered):
    loudness = measure_loudness(rendered[0].video_path)
    assert abs(loudness.integrated_lufs - (-14.0)) <= 1.0
    assert loudness.true_peak_dbtp <= -1.0


def test_the_planned_mix_is_written_as_measured(ducked_mix):
    """The render encodes the mix the plan measured: the file holds that loudness."""
    assert ducked_mix.mixed_path is not None and ducked_mix.mixed_path.is_file()
    with av.open(str(ducked_mix.mixed_path)) as container:
        stream = container.streams.audio[0]
        assert (stream.rate, stream.channels) == (48_000, 2)
        assert float(container.duration / av.time_base) == pytest.approx(DURATION, abs=0.02)
    in_file = measure_loudness(ducked_mix.mixed_path)
    assert in_file.integrated_lufs == pytest.approx(ducked_mix.loudness.integrated_lufs, abs=0.1)
    assert abs(in_file.integrated_lufs - (-14.0)) < 0.5


def test_music_is_ducked_under_speech(rendered):
    samples = mediatools.decode_audio(rendered[0].video_path)
    band = {"lo_hz": MUSIC_HZ - 150, "hi_hz": MUSIC_HZ + 150}
    under_speech = [
        mediatools.band_level_db(samples, 48_000, t0=a + 0.2, t1=b - 0.1, **band) for a, b in SPEECH
    ]
    in_pause = mediatools.band_level_db(samples, 48_000, t0=2.05, t1=2.5, **band)
    for level in under_speech:
        assert in_pause - level >= 8.0, (in_pause, under_speech)


def test_failed_render_leaves_nothing_at_the_output_path(tmp_path, ducked_mix):
    out = tmp_path / "reel.mp4"

    def explode(fraction: float) -> None:
        if fraction > 0.2:
            raise RuntimeError("simulated crash mid-render")

    with pytest.raises(RuntimeError):
        render(job_for(ducked_mix, GRADIENT), out, on_progress=explode)
    assert list(tmp_path.iterdir()) == []


def test_killed_ffmpeg_is_a_transient_media_error(tmp_path, ducked_mix):
    bad = Background("image", files=(tmp_path / "missing.png",))
    with pytest.raises(MediaError) as err:
        render(job_for(ducked_mix, bad), tmp_path / "reel.mp4")
    assert not err.value.transient
    assert not (tmp_path / "reel.mp4").exists()


def test_size_cap_is_honoured(tmp_path, media, ducked_mix):
    noisy = tmp_path / "noisy.mp4"
    mediatools.lavfi_video(noisy, "cellauto=rule=110", seconds=4.0, size="640x360")
    background = Background("video", files=(noisy,))
    free = render(job_for(ducked_mix, background), tmp_path / "free.mp4")
    cap_mb = free.size_bytes / 1e6 * 0.5
    capped = render(
        job_for(ducked_mix, background, max_file_size_mb=cap_mb), tmp_path / "capped.mp4"
    )
    assert capped.size_bytes <= cap_mb * 1e6 < free.size_bytes
    assert free.video_kbps_cap is None  # no cap could bind: the encode ran uncapped
    assert capped.video_kbps_cap is not None


def test_impossible_size_cap_is_an_input_error(tmp_path, ducked_mix):
    with pytest.raises(InputError) as err:
        render(job_for(ducked_mix, GRADIENT, max_file_size_mb=0.01), tmp_path / "reel.mp4")
    assert err.value.field == "max_file_size_mb"


def test_zoom_pulses_land_on_the_beats(tmp_path, bg_image, ducked_mix):
    beats = [0.6, 1.6, 2.6, 3.4]
    preset = replace(EFFECTS_PRESETS["energetic"], shake_px=0.0, zoom_speed=0.0, pan_speed=0.0)
    camera = plan_camera(preset, duration_s=DURATION, beat_times_s=beats)
    assert camera.pulses == len(beats)
    result = render(
        # no Ken Burns move, so the camera's own motion is all that changes the picture
        job_for(ducked_mix, Background("image", files=(bg_image,), ken_burns=False), camera=camera),
        tmp_path / "pulse.mp4",
    )
    frames, fps = mediatools.gray_frames(result.video_path)
    change = np.abs(np.diff(frames, axis=0)).mean(axis=(1, 2))  # change[i]: frame i -> i+1
    times = (np.arange(change.size) + 1) / fps
    near_beat = np.zeros(change.size, dtype=bool)
    for b in beats:
        near_beat |= (times >= b - 0.05) & (times <= b + 0.25)
    assert change[near_beat].mean() > 5 * max(change[~near_beat].mean(), 0.05)
    for b in beats:  # every single beat moves the picture
        window = (times >= b - 0.05) & (times <= b + 0.25)
        assert change[window].max() > 1.0


def test_still_image_sequence_shows_each_image_in_turn(tmp_path, ducked_mix, bg_image):
    red = mediatools.solid_image(tmp_path / "red.png", "red")
    result = render(
        job_for(ducked_mix, Background("image", files=(bg_image, red))), tmp_path / "seq.mp4"
    )
    first = mediatools.rgb_frame_at(result.video_path, 0.5)
    second = mediatools.rgb_frame_at(result.video_path, 3.0)
    r, g, b = second.reshape(-1, 3).mean(axis=0)
    assert r > 150 and g < 80 and b < 80
    assert first.std() > 20  # the textured still, not a flat colour


def test_short_video_background_loops_to_the_voice_length(tmp_path, ducked_mix, bg_video):
    result = render(job_for(ducked_mix, Background("video", files=(bg_video,))), tmp_path / "v.mp4")
    frames, fps = mediatools.gray_frames(result.video_path, every=15)
    assert abs(len(frames) * 15 / fps - DURATION) < 0.6
    assert frames[-1].std() > 5  # still showing the (looped) video at the end, not black


def test_nvenc_is_used_where_it_works_and_refused_or_replaced_where_it_does_not(
    tmp_path, ducked_mix
):
    auto = render(job_for(ducked_mix, GRADIENT, encoder="auto"), tmp_path / "auto.mp4")
    cpu = render(job_for(ducked_mix, GRADIENT, allow_gpu=False), tmp_path / "cpu.mp4")
    assert cpu.encoder == X264
    if encoder_works(NVENC):  # the engine's own probe: a GPU with a working driver
        gpu = render(job_for(ducked_mix, GRADIENT, encoder="nvenc"), tmp_path / "gpu.mp4")
        assert gpu.encoder == auto.encoder == NVENC
        decoded = [gpu, auto, cpu]
    else:
        with pytest.raises(MediaError, match="nvenc"):
            render(job_for(ducked_mix, GRADIENT, encoder="nvenc"), tmp_path / "gpu.mp4")
        assert not (tmp_path / "gpu.mp4").exists()
        assert auto.encoder == X264
        decoded = [auto, cpu]
    for result in decoded:
        info = probe(result.video_path)
        assert (info.video.codec, info.video.profile, info.video.pix_fmt) == (
            "h264", "High", "yuv420p"
        )  # fmt: skip
        frames, fps = mediatools.gray_frames(result.video_path, every=15)
        assert abs(len(frames) * 15 / fps - DURATION) < 0.6
