"""project_spec: a project plus render settings gives a ReelSpec the pipeline accepts."""

from __future__ import annotations

from pathlib import Path

import pytest

from reelflow.engine.errors import InputError
from reelflow.engine.timing import WordTiming, WordTimings
from reelflow.models import ReelSpec
from reelflow.store import RenderSettings, Store
from reelflow.store import timings as timing_json
from reelflow.tasks.voice import check_inputs


def upload(store: Store, user_id: str, kind: str, path: Path):
    with path.open("rb") as f:
        return store.save_upload(user_id, kind, f, filename=path.name)


def test_script_project_uses_its_style(store: Store, alice) -> None:
    project = store.create_project(alice.id, {
        "title": "t", "script": "Hello there", "background_type": "color",
        "background_colors": ["purple"], "music_preset": "chill",
        "style": {"quality": "low", "platform": "tiktok", "music_volume": 0.3,
                  "captions": {"animation": "bounce", "settings": {"height": 30}}},
    })  # fmt: skip
    spec = store.project_spec(project)

    assert isinstance(spec, ReelSpec)
    assert (spec.script, spec.voiceover, spec.quality, spec.platform) == (
        "Hello there", None, "low", "tiktok"
    )  # fmt: skip
    assert (spec.background.type, spec.background.colors) == ("color", ["#8E44AD"])
    assert (spec.music.preset, spec.music.file, spec.music.volume) == ("chill", None, 0.3)
    assert spec.captions.animation == "bounce" and spec.captions.settings == {"height": 30}


def test_render_settings_override_the_project(store: Store, alice) -> None:
    project = store.create_project(alice.id, {
        "title": "t", "script": "Hello there",
        "style": {"effects": {"preset": "smooth", "shake": 3},
                  "captions": {"settings": {"scale": 1.3}}},
    })  # fmt: skip
    spec = store.project_spec(project, {
        "subtitle_animation": "wave", "wave_settings": {"amplitude": 14, "frequency": 3},
        "music_preset": "gaming", "music_volume": 0.05, "auto_duck": False,
        "effects_preset": "energetic", "quality": "medium", "platform": "youtube_shorts",
    })  # fmt: skip

    assert spec.captions.animation == "wave"
    assert spec.captions.settings == {"amplitude": 14, "frequency": 3}  # highlight's dropped
    assert (spec.music.preset, spec.music.volume, spec.music.auto_duck) == ("gaming", 0.05, False)
    assert spec.effects.preset == "energetic" and spec.effects.shake is None
    assert (spec.quality, spec.platform) == ("medium", "youtube_shorts")

    same = store.project_spec(project, RenderSettings(effects_preset="smooth"))
    assert (same.effects.preset, same.effects.shake) == ("smooth", 3)  # overrides kept
    # wave settings only apply to the wave animation
    assert store.project_spec(project, {"wave_settings": {"amplitude": 1}}).captions.settings == {
        "scale": 1.3
    }


def test_voice_project_spec_points_at_checked_files(
    store: Store, alice, wav_file: Path, mp3_file: Path, png_file: Path
) -> None:
    voice = upload(store, alice.id, "voice", wav_file)
    music = upload(store, alice.id, "music", mp3_file)
    images = [upload(store, alice.id, "background", png_file) for _ in range(2)]
    project = store.create_project(alice.id, {
        "title": "t", "voice_upload_id": voice.id, "transcript": "Hello world",
        "music_upload_id": music.id, "background_upload_ids": [i.id for i in images],
    })  # fmt: skip
    spec = store.project_spec(project)

    assert spec.voiceover == store.upload_path(voice)
    assert spec.music.file == store.upload_path(music)
    assert spec.background.type == "image"
    assert spec.background.paths == [store.upload_path(i) for i in images]
    check_inputs.fn(spec=spec)  # the flow's own probe of every input file passes

    assert store.project_spec(project, {"music_preset": "custom"}).music.file == spec.music.file
    preset = store.project_spec(project, {"music_preset": "upbeat"}).music
    assert (preset.preset, preset.file) == ("upbeat", None)


@pytest.mark.parametrize(("overrides", "field"), [
    ({"quality": "8k"}, "quality"),
    ({"music_volume": -0.5}, "music_volume"),
    ({"music_preset": "custom"}, "music_preset"),
    ({"subtitle_animation": "spin"}, "subtitle_animation"),
    ({"subtitle_animation": "wave", "wave_settings": {"wobble": 1}}, "wave_settings"),
    ({"wave_settings": {"amplitude": -1}}, "wave_settings"),
    ({"platform": "myspace"}, "platform"),
    ({"scheduled": "now"}, "scheduled"),
])  # fmt: skip
def test_bad_render_settings_name_the_field(store: Store, alice, overrides, field) -> None:
    project = store.create_project(alice.id, {"title": "t", "script": "Hello there"})
    with pytest.raises(InputError) as err:
        store.project_spec(project, overrides)
    assert err.value.field == field


def test_issue13_render_settings_reach_the_spec(store: Store, alice) -> None:
    project = store.create_project(alice.id, {
        "title": "t", "script": "Hello there, 42 friends",
        "style": {"captions": {"style": "clean", "size": 80, "colours": {"primary": "red"}},
                  "background": {"transition": "cut"}, "aspect": "4:5"},
    })  # fmt: skip
    default = store.project_spec(project)
    assert (default.captions.style, default.captions.size, default.aspect) == ("clean", 80, "4:5")
    assert (default.title, default.progress_bar, default.voice) == (None, False, None)

    spec = store.project_spec(project, {
        "caption_style": "boxed", "emphasis": ["friends"], "aspects": ["9:16", "1:1"],
        "title": {"text": "  Watch   this ", "duration_s": 1.5}, "progress_bar": True,
        "voice": "espeak:en-gb", "background_transition": "zoom",
    })  # fmt: skip
    # another look wholesale: its own size, box and emphasis; the project's tuning is dropped
    assert (spec.captions.style, spec.captions.size, spec.captions.colours) == ("boxed", 92, {})
    assert spec.captions.to_style().box and spec.captions.emphasis == ["friends"]
    assert spec.output_aspects == ("9:16", "1:1")
    assert (spec.title.text, spec.title.duration_s) == ("Watch this", 1.5)
    assert spec.progress_bar and spec.progress_bar_colour == "#FFFFFF"  # boxed's highlight
    assert spec.voice == "espeak:en-gb" and spec.background.transition == "zoom"

    one = store.project_spec(project, {"aspect": "16:9", "emphasis": "auto"})
    assert one.output_aspects == ("16:9",) and one.captions.emphasis == "auto"
    assert one.captions.size == 80  # no look given: the project's tuning stays
    same = store.project_spec(project, {"caption_style": "clean", "progress_bar": False})
    assert same.captions.size == 80 and not same.progress_bar  # the project's own look


def test_another_voice_drops_the_projects_timings(store: Store, alice) -> None:
    project = store.create_project(alice.id, {"title": "t", "script": "Hello there"})
    words = WordTimings(
        (WordTiming("Hello", 0.1, 0.5), WordTiming("there", 0.6, 1.0)), "synthesized"
    )
    project.word_timings = timing_json.to_json(words, duration_s=1.2)
    assert store.project_spec(project).word_timings.method == "synthesized"  # its own voice
    spec = store.project_spec(project, {"voice": "espeak:en-gb"})
    assert spec.word_timings is None and spec.voice == "espeak:en-gb"


@pytest.mark.parametrize(("overrides", "field"), [
    ({"caption_style": "neon"}, "caption_style"),
    ({"emphasis": "loud"}, "emphasis"),
    ({"aspect": "3:2"}, "aspect"),
    ({"aspects": ["9:16", "9:16"]}, "aspects"),
    ({"aspects": []}, "aspects"),
    ({"platform": "tiktok", "aspect": "16:9"}, "aspect"),
    ({"platform": "youtube_shorts", "aspects": ["9:16", "1:1"]}, "aspects"),
    ({"aspect": "1:1", "aspects": ["9:16"]}, "aspect"),
    ({"title": {"text": "  "}}, "title.text"),
    ({"title": {"text": "hi", "duration_s": 60}}, "title.duration_s"),
    ({"progress_bar": "sometimes"}, "progress_bar"),
    ({"voice": "Robot Voice"}, "voice"),
    ({"voice": "piper:nobody"}, "voice"),
    ({"voice": "espeak:xx-nowhere"}, "voice"),
    ({"background_transition": "swirl"}, "background_transition"),
])  # fmt: skip
def test_bad_issue13_settings_name_the_field(store: Store, alice, overrides, field) -> None:
    project = store.create_project(alice.id, {"title": "t", "script": "Hello there"})
    with pytest.raises(InputError) as err:
        store.project_spec(project, overrides)
    assert err.value.field == field, err.value
