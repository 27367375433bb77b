"""The command line: one clear line and exit 2 for bad input, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from reelflow.cli import app
from reelflow.engine.ffmpeg import probe


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.setenv("REELFLOW_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(app, list(args))

    return invoke


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def assert_one_line_error(result, fragment: str) -> None:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert fragment in lines[0]


def test_missing_spec_file(run, tmp_path):
    result = run("render", "nope.yaml", "-o", "out.mp4")
    assert_one_line_error(result, "spec file not found")
    assert not (tmp_path / "out.mp4").exists()


def test_unknown_preset_names_the_field(run, tmp_path):
    spec = write(tmp_path / "s.yaml", "script: hello\nmusic: {preset: jazz}\n")
    result = run("render", str(spec), "-o", "out.mp4")
    assert_one_line_error(result, "music.preset: 'jazz' is not one of")
    assert not (tmp_path / "out.mp4").exists()


def test_missing_voiceover_file(run, tmp_path):
    spec = write(tmp_path / "s.yaml", "voiceover: missing.wav\ntranscript: hi there\n")
    result = run("render", str(spec), "-o", "out.mp4")
    assert_one_line_error(result, "voiceover: file not found")


def test_undecodable_audio(run, tmp_path):
    write(tmp_path / "voice.wav", "this is not audio at all")
    spec = write(tmp_path / "s.yaml", "voiceover: voice.wav\ntranscript: hi there\n")
    result = run("render", str(spec), "-o", "out.mp4")
    assert_one_line_error(result, "voiceover:")
    assert not (tmp_path / "out.mp4").exists()


def test_empty_transcript(run, tmp_path):
    spec = write(tmp_path / "s.yaml", "voiceover: v.wav\ntranscript: '   '\n")
    result = run("render", str(spec), "-o", "out.mp4")
    assert_one_line_error(result, "transcript")


def test_transcript_of_only_punctuation(run, tmp_path):
    from tests import mediatools

    mediatools.speech_like(tmp_path / "v.wav", [(0.2, 1.0)], seconds=1.5)
    spec = write(tmp_path / "s.yaml", "voiceover: v.wav\ntranscript: '-- ...'\nquality: low\n")
    result = run("render", str(spec), "-o", "out.mp4")
    assert_one_line_error(result, "transcript")
    assert not (tmp_path / "out.mp4").exists()


def test_presets_lists_every_preset(run):
    result = run("presets")
    assert result.exit_code == 0
    for name in ("ultra", "tiktok", "gaming", "energetic", "typewriter", "2160x3840"):
        assert name in result.stdout


def test_render_spec_file(run, tmp_path, prefect_server):
    spec = write(
        tmp_path / "s.yaml",
        "script: Render me from a file.\nquality: low\nbackground: {type: color, colors: [blue]}\n"
        "music: {preset: chill}\ncaptions: {animation: wave}\n",
    )
    result = run("render", str(spec), "-o", "reel.mp4")
    assert result.exit_code == 0, result.output
    info = probe(tmp_path / "reel.mp4")
    assert (info.video.width, info.video.height) == (540, 960)
    assert (tmp_path / "reel.jpg").is_file()
