"""Whole reels through the sequential pipeline, decoded and measured."""

from __future__ import annotations

import pysubs2
import pytest

from reelflow import steps
from reelflow.engine.audio import measure_loudness
from reelflow.engine.ffmpeg import probe
from reelflow.engine.speech.tts import synthesize_to_wav
from reelflow.models import parse_spec
from reelflow.pipeline import MILESTONES, run_reel
from tests import mediatools

SCRIPT = "Captions land on every word. Music ducks under the voice."


@pytest.fixture(scope="module")
def script_reel(tmp_path_factory):
    from reelflow.settings import Settings

    root = tmp_path_factory.mktemp("reel")
    settings = Settings(data_dir=root / "data", enable_gpu_acceleration=False)
    spec = parse_spec(
        {
            "script": SCRIPT,
            "music": {"preset": "upbeat", "volume": 0.2},
            "captions": {"animation": "highlight"},
            "effects": {"preset": "energetic"},
            "quality": "low",
        }
    )
    events: list[tuple[str, float, str]] = []
    result = run_reel(
        spec, root / "out" / "reel.mp4", settings=settings, on_progress=lambda *e: events.append(e)
    )
    return spec, settings, result, events


def test_script_reel_is_a_complete_platform_ready_video(script_reel):
    _, _, result, _ = script_reel
    info = probe(result.video_path)
    assert (info.video.codec, info.video.profile, info.video.pix_fmt) == ("h264", "High", "yuv420p")
    assert (info.video.width, info.video.height) == (540, 960)
    assert abs(info.duration_s - result.duration_s) <= 0.1
    assert result.words.method == "synthesized"
    assert [w.word for w in result.words.words] == SCRIPT.split()
    assert result.music_preset == "upbeat"
    assert result.poster_path.is_file()


def test_voice_length_is_the_reel_length(script_reel, tmp_path):
    _, _, result, _ = script_reel
    voice = synthesize_to_wav(SCRIPT, tmp_path / "v.wav")
    assert abs(probe(result.video_path).duration_s - voice.duration_s) <= 0.1


def test_reel_meets_loudness_target(script_reel):
    loudness = measure_loudness(script_reel[2].video_path)
    assert abs(loudness.integrated_lufs + 14) <= 1.0
    assert loudness.true_peak_dbtp <= -1.0


def test_progress_hits_every_milestone_in_order(script_reel):
    _, _, _, events = script_reel
    percents = [pct for _, pct, _ in events]
    assert percents == sorted(percents)
    reached = {stage for stage, pct, _ in events if pct == MILESTONES[stage]}
    assert reached == set(MILESTONES)


def test_music_presets_are_cached_on_disk(script_reel):
    _, settings, _, _ = script_reel
    cached = list(settings.music_dir.glob("*.wav"))
    assert len(cached) == 1 and "upbeat" in cached[0].name


def test_caption_events_start_with_their_words(script_reel, tmp_path):
    spec, _, result, _ = script_reel
    path = steps.build_captions(
        result.words,
        spec.captions,
        quality=spec.quality,
        platform=spec.platform,
        duration_s=result.duration_s,
        out_dir=tmp_path,
    )
    events = [e for e in pysubs2.load(str(path)).events if not e.is_comment]
    for word in result.words.words:
        starts = [e.start for e in events if e.start <= word.start_s * 1000 + 10]
        assert starts, word
        assert min(abs(e.start - word.start_s * 1000) for e in events) <= 10


def test_uploaded_voice_is_force_aligned(tmp_path, settings):
    voice = synthesize_to_wav("An uploaded voice, timed from its pauses.", tmp_path / "up.wav")
    m4a = tmp_path / "up.m4a"
    from reelflow.engine import ffmpeg

    ffmpeg.run(["-loglevel", "error", "-i", str(tmp_path / "up.wav"), str(m4a)])
    spec = parse_spec(
        {
            "voiceover": str(m4a),
            "transcript": "An uploaded voice, timed from its pauses.",
            "music": {"preset": "none"},
            "effects": {"preset": "none"},
            "background": {"type": "color", "colors": ["#224466"]},
            "quality": "low",
        }
    )
    result = run_reel(spec, tmp_path / "up.mp4", settings=settings)
    assert result.words.method == "aligned"
    assert [w.word for w in result.words.words] == [w.word for w in voice.words.words]
    errors = [abs(a.start_s - b.start_s) for a, b in zip(result.words.words, voice.words.words,
                                                          strict=True)]  # fmt: skip
    assert sum(errors) / len(errors) < 0.05  # against the synthesiser's exact word starts
    assert abs(probe(result.video_path).duration_s - voice.duration_s) <= 0.1


def test_custom_music_track_is_looped_under_the_voice(tmp_path, settings):
    track = mediatools.tone(tmp_path / "short.wav", hz=440, seconds=1.0)
    spec = parse_spec(
        {
            "script": "A short track loops under a longer voice.",
            "music": {"file": str(track), "volume": 0.5, "auto_duck": False},
            "quality": "low",
        }
    )
    result = run_reel(spec, tmp_path / "loop.mp4", settings=settings)
    samples = mediatools.decode_audio(result.video_path)
    end = result.duration_s
    tone_late = mediatools.band_level_db(
        samples, 48_000, lo_hz=430, hi_hz=450, t0=end - 1.6, t1=end - 1.2
    )
    assert tone_late > -45  # the 1 s track is still playing near the end


def test_reel_longer_than_the_platform_allows_is_refused(tmp_path, settings):
    long_voice = mediatools.speech_like(tmp_path / "long.wav", [(0, 181)], seconds=181)
    spec = parse_spec({"voiceover": str(long_voice), "transcript": "long", "quality": "low"})
    with pytest.raises(Exception, match="instagram's 180 s limit"):
        run_reel(spec, tmp_path / "long.mp4", settings=settings)
    assert not (tmp_path / "long.mp4").exists()
