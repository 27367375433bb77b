"""`reelflow align AUDIO TRANSCRIPT_FILE [--json]`: when is each word of a transcript spoken?

Prints one line per transcript token, ``start  end  confidence  word`` (seconds, tab-separated),
or with ``--json`` one object ``{"method": ..., "aligner": ..., "words": [{"word", "start",
"end", "confidence"}, ...]}`` (aligner: ``pocketsphinx`` for English, ``espeak-dtw`` for
other languages). Bad input (unreadable audio, an empty transcript, a transcript far longer
than the audio) prints one line on stderr and exits with status 2.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from reelflow.engine.errors import ReelflowError


def align(
    audio: Annotated[Path, typer.Argument(help="The voice: any audio or video file.")],
    transcript_file: Annotated[Path, typer.Argument(help="UTF-8 text file: what is said.")],
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON, not lines.")] = False,
    language: Annotated[
        str | None,
        typer.Option(help="BCP 47 language (es, pt-BR, zh); default: from the writing, else en."),
    ] = None,
) -> None:
    """Align a transcript to a recording and print each word's start, end and confidence."""
    from reelflow.engine.alignment.align import align_file  # loads the recogniser: only when used
    from reelflow.engine.speech.languages import detect_language

    transcript = _read_transcript(transcript_file)
    try:
        timings = align_file(
            audio, transcript, language=detect_language(transcript, language=language)
        )
    except ReelflowError as exc:
        _fail(str(exc))
    if json_output:
        words = [
            {"word": w.word, "start": round(w.start_s, 3), "end": round(w.end_s, 3),
             "confidence": round(w.confidence, 3)}
            for w in timings.words
        ]  # fmt: skip
        aligner = timings.details.get("aligner")
        out = {"method": timings.method, "aligner": aligner, "words": words}
        typer.echo(json.dumps(out, ensure_ascii=False))
        return
    for w in timings.words:
        typer.echo(f"{w.start_s:.3f}\t{w.end_s:.3f}\t{w.confidence:.2f}\t{w.word}")


def _read_transcript(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        _fail(f"transcript: file not found: {path}")
    except IsADirectoryError:
        _fail(f"transcript: {path} is a directory")
    except UnicodeDecodeError:
        _fail(f"transcript: {path.name} is not UTF-8 text")
    except OSError as exc:
        _fail(f"transcript: cannot read {path}: {exc.strerror or exc}")


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)
