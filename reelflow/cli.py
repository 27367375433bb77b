"""The `reelflow` command line: render a spec, render the demo, list presets, align words."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from reelflow import presets
from reelflow.demo import demo_spec
from reelflow.engine.errors import InputError, ReelflowError
from reelflow.models import ReelSpec, load_spec
from reelflow.pipeline import ReelResult, run_reel
from reelflow.settings import get_settings

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
console = Console(stderr=True)


def fail(message: str, code: int = 2) -> None:
    """Print one line on stderr and exit with `code`."""
    first_line = " ".join(str(message).split())
    console.print(f"[bold red]error:[/] {first_line}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _render(spec: ReelSpec, out: Path) -> ReelResult:
    settings = get_settings()
    columns = (
        TextColumn("{task.description:<16}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=not sys.stderr.isatty()) as bar:
        task = bar.add_task("starting", total=100)

        def on_progress(stage: str, percent: float, details: str) -> None:
            bar.update(task, completed=percent, description=stage)

        try:
            return run_reel(spec, out, settings=settings, on_progress=on_progress)
        except InputError as exc:
            bar.stop()
            fail(str(exc), 2)
        except ReelflowError as exc:
            bar.stop()
            fail(str(exc), 1)
    raise AssertionError("unreachable")


def _summary(result: ReelResult) -> None:
    typer.echo(
        f"{result.video_path}  {result.duration_s:.1f} s  {result.size_bytes / 1e6:.1f} MB  "
        f"encoder {result.encoder}  words {len(result.words)} ({result.words.method})  "
        f"poster {result.poster_path}"
    )


@app.command()
def render(
    spec_file: Path = typer.Argument(..., help="Reel spec, YAML or JSON."),
    out: Path = typer.Option(None, "-o", "--out", help="Output MP4 (default out/<spec>.mp4)."),
) -> None:
    """Render the reel described by SPEC_FILE."""
    try:
        spec = load_spec(spec_file)
    except InputError as exc:
        fail(str(exc))
    for field, path in spec.input_files().items():
        if not path.is_file():
            fail(f"{field}: file not found: {path}")
    _summary(_render(spec, out or Path("out") / f"{spec_file.stem}.mp4"))


@app.command()
def demo(
    out: Path = typer.Option(Path("out/demo.mp4"), "-o", "--out", help="Output MP4."),
    quality: str = typer.Option("high", help="low, medium, high or ultra."),
) -> None:
    """Render the built-in ~20 s demo reel (needs no server and no input files)."""
    try:
        spec = demo_spec(quality=quality)
    except InputError as exc:
        fail(str(exc))
    _summary(_render(spec, out))


@app.command("presets")
def list_presets() -> None:
    """List quality, platform, music, effects and caption presets."""
    out = Console()
    table = Table("quality", "size", "fps", "crf", "max video kbps")
    for q in presets.QUALITY_PRESETS.values():
        table.add_row(
            q.name, f"{q.width}x{q.height}", str(q.fps), str(q.crf), str(q.max_video_kbps)
        )
    out.print(table)
    table = Table("platform", "max duration s", "max size MB", "loudness", "safe zone t/b/l/r")
    for p in presets.PLATFORM_PRESETS.values():
        z = p.safe_zone
        table.add_row(
            p.name, f"{p.max_duration_s:g}", f"{p.max_file_size_mb:g}",
            f"{p.loudness_lufs:g} LUFS, {p.true_peak_dbtp:g} dBTP",
            f"{z.top:.0%}/{z.bottom:.0%}/{z.left:.0%}/{z.right:.0%}",
        )  # fmt: skip
    out.print(table)
    table = Table("music", "bpm", "mood")
    for m in presets.MUSIC_PRESETS.values():
        table.add_row(m.name, f"{m.bpm:g}", m.mood)
    table.add_row("auto", "-", "picked to fit the voice's pace and energy")
    out.print(table)
    table = Table("effects", "zoom pulse", "every", "shake px", "zoom/10s", "pan/10s", "easing")
    for e in presets.EFFECTS_PRESETS.values():
        table.add_row(
            e.name, f"{e.zoom_pulse:.0%}", f"{e.pulse_every} beat(s)", f"{e.shake_px:g}",
            f"{e.zoom_speed:.0%}", f"{e.pan_speed:.0%}", e.easing,
        )  # fmt: skip
    out.print(table)
    table = Table("caption animation", "what it does", "settings")
    for name, text in presets.CAPTION_ANIMATIONS.items():
        settings = ", ".join(
            f"{k}={v:g}" for k, v in presets.CAPTION_ANIMATION_DEFAULTS[name].items()
        )
        table.add_row(name, text, settings)
    out.print(table)


def _register_optional_commands() -> None:
    try:
        from reelflow.commands.align import align
    except ImportError:  # pragma: no cover - present once the alignment module lands
        return
    app.command("align")(align)


_register_optional_commands()

if __name__ == "__main__":  # pragma: no cover
    app()
