"""Spec validation: every problem named by its dotted field, before any work starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from reelflow.engine.errors import InputError
from reelflow.models import load_spec, parse_spec


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"script": "hi", "music": {"preset": "jazz"}},
            "music.preset: 'jazz' is not one of upbeat, chill, dramatic, gaming, auto, none",
        ),
        ({"script": "hi", "music": {"volume": -0.5}}, "music.volume: input should be greater"),
        ({"script": "hi", "quality": "8k"}, "quality: '8k' is not one of low, medium, high, ultra"),
        ({"script": "hi", "captions": {"animation": "spin"}}, "captions.animation: 'spin'"),
        ({"script": "hi", "effects": {"preset": "wild"}}, "effects.preset: 'wild' is not one of"),
        ({"script": "hi", "platform": "myspace"}, "platform: 'myspace' is not one of"),
        ({"voiceover": "v.wav"}, "transcript: required with `voiceover`"),
        ({"script": "   "}, "script: must not be empty"),
        ({}, "give either `voiceover`"),
        ({"script": "a", "voiceover": "v.wav", "transcript": "a"}, "not both"),
        ({"script": "hi", "captions": {"colours": {"primary": "mauve-ish"}}}, "is not a colour"),
        ({"script": "hi", "captions": {"animation": "wave", "settings": {"amp": 1}}}, "amp"),
        ({"script": "hi", "background": {"type": "video"}}, "needs `path` or `paths`"),
        ({"script": "hi", "background": {"type": "gradient", "colors": ["#000000"]}}, "two"),
        ({"script": "hi", "surprise": 1}, "surprise: unknown field"),
        ({"script": "hi", "max_file_size_mb": 0}, "max_file_size_mb: input should be greater"),
    ],
)
def test_invalid_specs_name_the_field(data, message):
    with pytest.raises(InputError) as err:
        parse_spec(data)
    assert message in str(err.value)


def test_defaults_make_a_complete_reel():
    spec = parse_spec({"script": "Hello there."})
    assert spec.text == "Hello there."
    assert (spec.quality, spec.platform, spec.music.preset) == ("high", "instagram", "auto")
    assert spec.music.volume == 0.15 and spec.music.auto_duck


def test_colour_names_and_hex_normalise():
    spec = parse_spec(
        {"script": "x", "captions": {"colours": {"primary": "white", "highlight": "ffcc00"}}}
    )
    assert spec.captions.to_style().colours.primary == "#FFFFFF"
    assert spec.captions.to_style().colours.highlight == "#FFCC00"


def test_effects_overrides_apply_to_the_named_preset():
    preset = parse_spec({"script": "x", "effects": {"preset": "smooth", "shake": 9}}).effects
    resolved = preset.to_preset()
    assert resolved.name == "smooth" and resolved.shake_px == 9 and resolved.easing == "sine"


def test_yaml_spec_paths_are_relative_to_the_file(tmp_path: Path):
    (tmp_path / "spec.yaml").write_text(
        "voiceover: voice.wav\ntranscript: hello\nbackground: {type: image, path: pics/a.png}\n"
    )
    spec = load_spec(tmp_path / "spec.yaml")
    assert spec.voiceover == tmp_path / "voice.wav"
    assert spec.background.path == tmp_path / "pics" / "a.png"


def test_broken_yaml_is_an_input_error(tmp_path: Path):
    (tmp_path / "bad.yaml").write_text("script: [unclosed\n")
    with pytest.raises(InputError, match="not valid YAML"):
        load_spec(tmp_path / "bad.yaml")
