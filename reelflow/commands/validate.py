"""`reelflow validate SPEC_FILE`: would `reelflow render` accept this spec?

Runs the checks `render` runs before it starts any work: the spec parses (every field, every
option name) and every input file it names exists. Prints one line and exits 0, or prints
``error: <field>: <problem>`` on stderr and exits 2. Nothing is rendered or written.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from reelflow.engine.errors import InputError

if TYPE_CHECKING:
    from reelflow.models import ReelSpec


def check_spec_file(spec_file: Path) -> ReelSpec:
    """The spec in `spec_file`, or `InputError` naming the first field at fault."""
    from reelflow.models import load_spec  # pydantic and yaml: only when a spec is read

    spec = load_spec(spec_file)
    for field, path in spec.input_files().items():
        if not path.is_file():
            raise InputError(f"file not found: {path}", field=field)
    return spec


def validate(
    spec_file: Annotated[Path, typer.Argument(help="Reel spec, YAML or JSON.")],
) -> None:
    """Check SPEC_FILE as `render` would (fields, option names, input files) without rendering."""
    try:
        spec = check_spec_file(spec_file)
    except InputError as exc:
        _fail(str(exc))
    from reelflow.engine.text import tokenize

    words = len(tokenize(spec.text))
    typer.echo(
        f"{spec_file}: ok ({words} words, quality {spec.quality}, platform {spec.platform}, "
        f"music {spec.music.preset}, captions {spec.captions.animation})"
    )


def _fail(message: str) -> NoReturn:
    # One line, as the other commands print it: newlines inside a message would split it.
    typer.echo(f"error: {' '.join(message.split())}", err=True)
    raise typer.Exit(2)
