"""The reel's DAG run in-process (the CLI without a Prefect server), decoded and measured."""

from __future__ import annotations

import pickle

import pysubs2
import pytest

from reelflow.engine import ffmpeg
from reelflow.engine.audio import measure_loudness
from reelflow.engine.errors import InputError, MediaError
from reelflow.engine.ffmpeg import probe
from reelflow.engine.speech.tts import synthesize_to_wav
from reelflow.flows.local import run_reel
from reelflow.flows.runtime import RunContext, local_listener
from reelflow.models import parse_spec
from reelflow.progress.milestones import MILESTONES
from reelflow.settings import Settings
from tests import mediatools

SCRIPT = "Captions land on every word. Music ducks under the voice."


def _render(spec, out, settings, events=None, **context):
    token = local_listener.set(events.append if events is not None else None)
    try:
        return run_reel(spec, RunContext(output=out, **context), settings=settings)
    finally:
        local_listener.reset(token)


def _step_result(settings: Settings, step: str):
    """The result the step recorded in its work folder (exactly one key expected)."""
    found = list((settings.cache_dir / step).glob("*/result.pickle"))
    assert len(found) == 1, found
    return pickle.loads(found[0].read_bytes())


def _keys(settings: Settings) -> dict[str, set[str]]:
    return {d.name: {k.name for k in d.iterdir()} for d in settings.cache_dir.iterdir()}


@pytest.fixture(scope="module")
def script_reel(tmp_path_factory):
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
    events: list = []
    result = _render(spec, root / "out" / "reel.mp4", settings, events)
    return spec, settings, result, events


def test_script_reel_is_a_complete_platform_ready_video(script_reel):
    _, settings, result, _ = script_reel
    info = probe(result.video)
    assert (info.video.codec, info.video.profile, info.video.pix_fmt) == ("h264", "High", "yuv420p")
    assert (info.video.width, info.video.height) == (540, 960)
    assert abs(info.duration_s - result.duration_s) <= 0.1
    assert result.timing_method == "aligned"  # the neural default voice is aligned to its text
    words = _step_result(settings, "align-words")
    assert [w.word for w in words.words] == SCRIPT.split() and result.words == len(words)
    assert result.music_preset == "upbeat"
    assert result.poster.is_file()


def test_voice_length_is_the_reel_length(script_reel):
    # The voice this run spoke (Piper's durations vary a little from one synthesis to the next,
    # so a second synthesis is not the reference).
    _, settings, result, _ = script_reel
    voice = _step_result(settings, "prepare-voice")
    assert voice.path.is_file() and voice.duration_s > 2.0
    assert abs(probe(result.video).duration_s - voice.duration_s) <= 0.1


def test_reel_meets_loudness_target(script_reel):
    loudness = measure_loudness(script_reel[2].video)
    assert abs(loudness.integrated_lufs + 14) <= 1.0
    assert loudness.true_peak_dbtp <= -1.0


def test_progress_is_running_milestones_in_order_then_completed(script_reel):
    events = script_reel[3]
    assert events[0].status == "running" and events[-1].status == "completed"
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    running = [e for e in events if e.status == "running" and e.stage]
    assert [e.progress for e in running] == sorted(e.progress for e in running)
    reached = {e.stage for e in running if e.progress == MILESTONES[e.stage]}
    assert reached == set(MILESTONES)
    assert events[-1].output["video"] == str(script_reel[2].video)


def test_caption_events_start_with_their_words(script_reel):
    _, settings, _, _ = script_reel
    words = _step_result(settings, "align-words")
    ass = _step_result(settings, "build-captions").path
    events = [e for e in pysubs2.load(str(ass)).events if not e.is_comment]
    for word in words.words:
        assert min(abs(e.start - word.start_s * 1000) for e in events) <= 10, word


def test_unchanged_rerun_is_all_cache_hits_and_a_style_edit_reruns_captions_and_render(
    script_reel, tmp_path
):
    spec, settings, first, _ = script_reel
    before = _keys(settings)
    again = _render(spec, tmp_path / "again.mp4", settings)
    assert _keys(settings) == before  # no step computed anything new
    assert again.video.read_bytes() == first.video.read_bytes()
    edited = spec.model_copy(
        update={"captions": spec.captions.model_copy(update={"animation": "bounce"})}
    )
    _render(edited, tmp_path / "edited.mp4", settings)
    after = _keys(settings)
    changed = {step for step in after if after[step] != before.get(step, set())}
    assert changed == {"build-captions", "render-reel"}


def test_no_cache_recomputes_every_step(script_reel, tmp_path):
    spec, settings, _, _ = script_reel
    marks = {p: p.stat().st_mtime_ns for p in settings.cache_dir.glob("*/*/result.pickle")}
    _render(spec, tmp_path / "fresh.mp4", settings, refresh_cache=True)
    # Each step ran again: it rewrote its folder, or (downstream of a byte-different file) made
    # a new one.
    computed = {
        p.parent.parent.name
        for p in settings.cache_dir.glob("*/*/result.pickle")
        if p not in marks or p.stat().st_mtime_ns > marks[p]
    }
    assert computed == {p.parent.parent.name for p in marks}


def test_uploaded_voice_is_force_aligned(tmp_path, settings):
    voice = synthesize_to_wav("An uploaded voice, timed from its pauses.", tmp_path / "up.wav")
    m4a = tmp_path / "up.m4a"
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
    result = _render(spec, tmp_path / "up.mp4", settings)
    words = _step_result(settings, "align-words")
    assert result.timing_method == "aligned" == words.method
    assert [w.word for w in words.words] == [w.word for w in voice.words.words]
    errors = [abs(a.start_s - b.start_s) for a, b in zip(words.words, voice.words.words,
                                                          strict=True)]  # fmt: skip
    assert sum(errors) / len(errors) < 0.05  # against the synthesiser's exact word starts
    assert abs(probe(result.video).duration_s - voice.duration_s) <= 0.1


def test_custom_music_track_is_looped_under_the_voice(tmp_path, settings):
    track = mediatools.tone(tmp_path / "short.wav", hz=440, seconds=1.0)
    spec = parse_spec(
        {
            "script": "A short track loops under a longer voice.",
            "music": {"file": str(track), "volume": 0.5, "auto_duck": False},
            "quality": "low",
        }
    )
    result = _render(spec, tmp_path / "loop.mp4", settings)
    samples = mediatools.decode_audio(result.video)
    end = result.duration_s
    tone_late = mediatools.band_level_db(
        samples, 48_000, lo_hz=430, hi_hz=450, t0=end - 1.6, t1=end - 1.2
    )
    assert tone_late > -45  # the 1 s track is still playing near the end


def test_bad_input_fails_once_with_the_field_and_writes_nothing(tmp_path, settings):
    long_voice = mediatools.speech_like(tmp_path / "long.wav", [(0, 181)], seconds=181)
    spec = parse_spec({"voiceover": str(long_voice), "transcript": "long", "quality": "low"})
    events: list = []
    with pytest.raises(InputError, match="instagram's 180 s limit"):
        _render(spec, tmp_path / "long.mp4", settings, events)
    assert not (tmp_path / "long.mp4").exists()
    assert [e.status for e in events] == ["running", "failed"]
    assert "180 s limit" in events[-1].error


def test_a_transient_failure_is_retried_and_bad_input_is_not(tmp_path, monkeypatch):
    settings = Settings(
        data_dir=tmp_path / "data", enable_gpu_acceleration=False, inject_faults="plan-effects:2"
    )
    from reelflow.tasks.picture import plan_effects

    monkeypatch.setattr(plan_effects, "retry_delays_s", (0.01, 0.01))
    spec = parse_spec({"script": "Retried twice.", "music": {"preset": "none"}, "quality": "low"})
    result = _render(spec, tmp_path / "retried.mp4", settings)
    assert result.video.is_file()
    failing = Settings(
        data_dir=tmp_path / "data2", enable_gpu_acceleration=False, inject_faults="plan-effects:3"
    )
    with pytest.raises(MediaError, match="attempt 3"):
        _render(spec, tmp_path / "gave-up.mp4", failing)
    assert not (tmp_path / "gave-up.mp4").exists()


def test_a_chinese_reel_gets_a_chinese_voice_and_reports_undrawable_characters(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", enable_gpu_acceleration=False)
    # U+13000 (an Egyptian hieroglyph) is in no bundled font: left out, reported, never a box.
    spec = parse_spec(
        {
            "script": "我们今天学习中文字幕。\U00013000",
            "quality": "low",
            "music": {"preset": "none"},
        }
    )
    result = _render(spec, tmp_path / "reel.mp4", settings)
    assert result.words >= 4
    assert len(result.warnings) == 1 and "U+13000" in result.warnings[0]
    assert _step_result(settings, "prepare-voice").synthesized.details["voice"] == "cmn"
    events = pysubs2.load(str(_step_result(settings, "build-captions").path)).events
    assert "\U00013000" not in "".join(e.text for e in events)
    assert {e.plaintext for e in events} >= {"我们", "今天", "学习", "中文字幕。"}
