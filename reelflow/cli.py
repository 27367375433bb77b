"""The `reelflow` command line: render a spec, render the demo, list presets, align words."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from reelflow import presets, steps
from reelflow.demo import demo_spec
from reelflow.engine.errors import InputError
from reelflow.models import ReelSpec, load_spec
from reelflow.settings import Settings, get_settings

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
console = Console(stderr=True)


def fail(message: str, code: int = 2) -> None:
    """Print one line on stderr and exit with `code`."""
    first_line = " ".join(str(message).split())
    console.print(f"[bold red]error:[/] {first_line}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _prefect_environment(settings: Settings, verbose: bool) -> None:
    """Prefect reads its settings at import: set our defaults before the flows are imported.

    Without PREFECT_API_URL the flow runs on Prefect's ephemeral local server, kept under the
    data folder with the rest of reelflow's state.
    """
    if "PREFECT_HOME" not in os.environ:
        home = (settings.data_dir / "prefect").resolve()
        home.mkdir(parents=True, exist_ok=True)
        os.environ["PREFECT_HOME"] = str(home)
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO" if verbose else "WARNING")
    os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


@contextlib.contextmanager
def _quiet_prefect(verbose: bool):
    """Prefect logs task failures with tracebacks; the CLI reports a failure in one line."""
    logger = logging.getLogger("prefect")
    level = logger.level
    if not verbose:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def _render(spec: ReelSpec, out: Path, *, verbose: bool = False, refresh: bool = False):
    try:
        steps.check_inputs(spec)  # bad files fail here, before Prefect starts
    except InputError as exc:
        fail(str(exc), 2)
    settings = get_settings()
    _prefect_environment(settings, verbose)
    from reelflow.flows.reel import generate_reel
    from reelflow.flows.runtime import RunContext, in_process_runs, local_listener

    columns = (
        TextColumn("{task.description:<16}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=not sys.stderr.isatty()) as bar:
        task = bar.add_task("starting", total=100)

        def on_event(event) -> None:
            bar.update(task, completed=event.progress, description=event.stage or event.status)

        token = local_listener.set(on_event)
        try:
            with _quiet_prefect(verbose), in_process_runs():
                state = generate_reel(
                    spec,
                    RunContext(output=out.resolve(), refresh_cache=refresh),
                    return_state=True,
                )
        except Exception as exc:  # Prefect itself failed (e.g. no server): one line, not a dump
            if verbose:
                raise
            bar.stop()
            fail(f"could not run the flow: {type(exc).__name__}: {exc}", 1)
        finally:
            local_listener.reset(token)
    if not state.is_completed():
        error = state.result(raise_on_failure=False)
        code = 2 if isinstance(error, InputError) else 1
        fail(str(error) if isinstance(error, BaseException) else state.message or "failed", code)
    return state.result()


def _summary(result) -> None:
    typer.echo(
        f"{result.video}  {result.duration_s:.1f} s  {result.size_bytes / 1e6:.1f} MB  "
        f"encoder {result.encoder}  words {result.words} ({result.timing_method})  "
        f"poster {result.poster}"
    )


@app.command()
def render(
    spec_file: Path = typer.Argument(..., help="Reel spec, YAML or JSON."),
    out: Path = typer.Option(None, "-o", "--out", help="Output MP4 (default out/<spec>.mp4)."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Recompute every step."),
    verbose: bool = typer.Option(False, "-v", "--verbose", help="Show Prefect's logs."),
) -> None:
    """Render the reel described by SPEC_FILE (a Prefect flow run; ephemeral server if none)."""
    try:
        spec = load_spec(spec_file)
    except InputError as exc:
        fail(str(exc))
    for field, path in spec.input_files().items():
        if not path.is_file():
            fail(f"{field}: file not found: {path}")
    target = out or Path("out") / f"{spec_file.stem}.mp4"
    _summary(_render(spec, target, verbose=verbose, refresh=no_cache))


@app.command()
def demo(
    out: Path = typer.Option(Path("out/demo.mp4"), "-o", "--out", help="Output MP4."),
    quality: str = typer.Option("high", help="low, medium, high or ultra."),
    verbose: bool = typer.Option(False, "-v", "--verbose", help="Show Prefect's logs."),
) -> None:
    """Render the built-in ~20 s demo reel (needs no server and no input files)."""
    try:
        spec = demo_spec(quality=quality)
    except InputError as exc:
        fail(str(exc))
    _summary(_render(spec, out, verbose=verbose))


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


@app.command()
def up(
    port: int = typer.Option(8000, "--port", help="Port of the reelflow API and web viewer."),
    prefect_port: int = typer.Option(4200, "--prefect-port", help="Port of the Prefect UI/API."),
    host: str = typer.Option("127.0.0.1", "--host"),
    database_url: str = typer.Option(
        None, "--database-url", help="Prefect's database (default: SQLite under the data folder)."
    ),
    no_api: bool = typer.Option(False, "--no-api", help="Start Prefect and workers only."),
) -> None:
    """Start the local stack: Prefect server, pools, deployments, one worker per pool, the API.

    Ctrl-C stops everything it started.
    """
    import time

    from reelflow.deployments.stack import Stack, StackConfig

    settings = get_settings()
    config = StackConfig(
        host=host,
        prefect_port=prefect_port,
        api_port=None if no_api else port,
        database_url=database_url or settings.prefect_database_url,
    )
    stack = Stack(settings, config)
    try:
        stack.start(log=lambda line: console.print(f"[green]up[/] {line}", highlight=False))
        console.print("[green]up[/] ready - Ctrl-C to stop", highlight=False)
        while (dead := stack.failed()) is None:
            time.sleep(1)
        console.print(f"[red]{dead} exited; see {settings.data_dir / 'logs' / dead}.log")
    except KeyboardInterrupt:
        console.print("stopping...")
    except Exception as exc:
        console.print(f"[bold red]error:[/] {exc}")
    finally:
        stack.stop()


@app.command()
def deploy(
    api_url: str = typer.Option(
        None, "--api-url", envvar="PREFECT_API_URL", help="The Prefect API to deploy to."
    ),
) -> None:
    """Create pools and queues, deploy prefect.yaml and set concurrency limits (idempotent)."""
    from reelflow.deployments.stack import bootstrap, wait_for_health

    if not api_url:
        fail("--api-url: set it or PREFECT_API_URL (e.g. http://127.0.0.1:4200/api)")
    settings = get_settings()
    try:
        wait_for_health(f"{api_url.rstrip('/')}/health", timeout_s=120)
        bootstrap(api_url.rstrip("/"), settings, dict(os.environ), log=typer.echo)
    except Exception as exc:
        fail(f"deploy failed: {exc}", 1)


def _register_sub_commands() -> None:
    from reelflow.commands.align import align
    from reelflow.commands.users import app as users_app

    app.command("align")(align)
    app.add_typer(users_app, name="users", help="Create and list API users.")


_register_sub_commands()

if __name__ == "__main__":  # pragma: no cover
    app()
