"""`reelflow align AUDIO TRANSCRIPT_FILE [--json]`: output shapes and exit status 2 on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from reelflow.commands.align import align
from reelflow.engine.audio import write_wav
from reelflow.engine.speech.tts import synthesize

TEXT = "The quick brown fox jumps over the lazy dog."

app = typer.Typer()
app.command("align")(align)


@app.callback()
def _main() -> None:
    """Keeps `align` a sub-command, as in the real CLI."""


runner = CliRunner()


@pytest.fixture(scope="module")
def voice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    syn = synthesize(TEXT)
    return write_wav(tmp_path_factory.mktemp("cli") / "voice.wav", syn.samples, syn.sample_rate)


@pytest.fixture
def transcript(tmp_path: Path) -> Path:
    path = tmp_path / "transcript.txt"
    path.write_text(TEXT + "\n", encoding="utf-8")
    return path


def test_prints_one_line_per_word(voice: Path, transcript: Path) -> None:
    result = runner.invoke(app, ["align", str(voice), str(transcript)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert [line.split("\t")[3] for line in lines] == TEXT.split()
    starts = [float(line.split("\t")[0]) for line in lines]
    assert starts == sorted(starts)
    assert all(0.0 <= float(line.split("\t")[2]) <= 1.0 for line in lines)


def test_json_output(voice: Path, transcript: Path) -> None:
    result = runner.invoke(app, ["align", str(voice), str(transcript), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) == {"method", "aligner", "words"} and data["method"] == "aligned"
    assert data["aligner"] == "pocketsphinx"
    assert [w["word"] for w in data["words"]] == TEXT.split()
    for w in data["words"]:
        assert set(w) == {"word", "start", "end", "confidence"}
        assert 0.0 <= w["start"] < w["end"] and 0.0 <= w["confidence"] <= 1.0


def _fails_with(args: list[str], fragment: str) -> None:
    result = runner.invoke(app, ["align", *args])
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 1 and fragment in errors[0], errors


def test_unreadable_audio(tmp_path: Path, transcript: Path) -> None:
    bad = tmp_path / "voice.wav"
    bad.write_bytes(b"not audio at all")
    _fails_with([str(bad), str(transcript)], "not a readable media file")
    _fails_with([str(tmp_path / "missing.wav"), str(transcript)], "file not found")


def test_empty_transcript(voice: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text(" \n— 🚀\n", encoding="utf-8")
    _fails_with([str(voice), str(empty)], "no words")


def test_transcript_far_longer_than_the_audio(voice: Path, tmp_path: Path) -> None:
    long = tmp_path / "long.txt"
    long.write_text("and then another word " * 80, encoding="utf-8")
    _fails_with([str(voice), str(long)], "far longer than the audio")


def test_unreadable_transcript_file(voice: Path, tmp_path: Path) -> None:
    _fails_with([str(voice), str(tmp_path / "nope.txt")], "file not found")
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("caf\xe9".encode("latin-1"))
    _fails_with([str(voice), str(latin1)], "not UTF-8")


@pytest.mark.parametrize(("text", "args"), [("Hola a todos, me llamo Lucía.", ["--language", "es"]),
                                            ("我们今天学习中文字幕。", [])])  # fmt: skip
def test_other_languages_are_warped_not_estimated(tmp_path: Path, text: str, args: list[str]):
    syn = synthesize(text, voice="es+f3" if args else "cmn+m3", rate_wpm=180)
    wav = tmp_path / "voice.wav"
    write_wav(wav, syn.samples, syn.sample_rate)
    script = tmp_path / "t.txt"
    script.write_text(text, encoding="utf-8")
    result = runner.invoke(app, ["align", str(wav), str(script), "--json", *args])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["method"] == "aligned" and data["aligner"] == "espeak-dtw"
    assert len(data["words"]) == len(syn.words)
