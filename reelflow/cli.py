"""The `reelflow` command line: render a spec, render the demo, list presets, align words."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import typer

# Only typer at import: `reelflow --help` must answer fast, so each command imports what it uses.

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)


def _console():
    from rich.console import Console

    return Console(stderr=True)


class _StderrConsole:
    """rich's stderr console, made on first use (rich costs ~0.1 s to import)."""

    def __getattr__(self, name: str):
        return getattr(_console(), name)


console = _StderrConsole()


def get_settings():
    """The settings, read now (imports pydantic-settings only when a command needs them)."""
    from reelflow.settings import get_settings as read

    return read()


def fail(message: str, code: int = 2) -> None:
    """Print one line on stderr and exit with `code`."""
    first_line = " ".join(str(message).split())
    _console().print(f"[bold red]error:[/] {first_line}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _render(spec, out: Path, *, verbose: bool = False, refresh: bool = False):
    """Run the reel's DAG: on the Prefect server when one is configured, else in this process."""
    from reelflow.engine.errors import InputError

    settings = get_settings()
    try:
        if settings.prefect_api_url:
            from reelflow.commands.prefect_run import run_on_prefect

            return run_on_prefect(spec, out, settings=settings, verbose=verbose, refresh=refresh)
        return _run_in_process(spec, out, settings=settings, refresh=refresh)
    except InputError as exc:
        fail(str(exc), 2)
    except KeyboardInterrupt:
        fail("interrupted", 130)


def _run_in_process(spec, out: Path, *, settings, refresh: bool):
    from reelflow.flows.local import run_reel
    from reelflow.flows.runtime import RunContext, freeze_imported_objects, local_listener
    from reelflow.tasks.voice import check_inputs

    check_inputs.fn(spec=spec)  # bad files fail here, before any work
    freeze_imported_objects()
    with progress_bar() as on_event:
        token = local_listener.set(on_event)
        try:
            return run_reel(spec, RunContext(output=out.resolve(), refresh_cache=refresh),
                            settings=settings)  # fmt: skip
        except Exception as exc:
            from reelflow.engine.errors import InputError

            if isinstance(exc, InputError):
                raise
            fail(f"{type(exc).__name__}: {exc}" if not str(exc) else str(exc), 1)
        finally:
            local_listener.reset(token)


class progress_bar:
    """A terminal progress bar fed by progress events (transient when stderr is not a tty)."""

    def __enter__(self):
        from rich.progress import (
            BarColumn,
            Progress,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        columns = (
            TextColumn("{task.description:<16}"),
            BarColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
        )
        self.bar = Progress(*columns, console=_console(), transient=not sys.stderr.isatty())
        self.bar.__enter__()
        self.task = self.bar.add_task("starting", total=100)
        return self.on_event

    def on_event(self, event) -> None:
        self.bar.update(
            self.task, completed=event.progress, description=event.stage or event.status
        )

    def __exit__(self, *exc_info) -> None:
        self.bar.__exit__(*exc_info)


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
    """Render the reel described by SPEC_FILE (on the Prefect server in PREFECT_API_URL if set,
    else in this process)."""
    from reelflow.commands.validate import check_spec_file
    from reelflow.engine.errors import InputError

    try:
        spec = check_spec_file(spec_file)
    except InputError as exc:
        fail(str(exc))
    target = out or Path("out") / f"{spec_file.stem}.mp4"
    _summary(_render(spec, target, verbose=verbose, refresh=no_cache))


@app.command()
def demo(
    out: Path = typer.Option(Path("out/demo.mp4"), "-o", "--out", help="Output MP4."),
    quality: str = typer.Option("high", help="low, medium, high or ultra."),
    verbose: bool = typer.Option(False, "-v", "--verbose", help="Show Prefect's logs."),
) -> None:
    """Render the built-in ~20 s demo reel (needs no server and no input files)."""
    from reelflow.demo import demo_spec
    from reelflow.engine.errors import InputError

    try:
        spec = demo_spec(quality=quality)
    except InputError as exc:
        fail(str(exc))
    _summary(_render(spec, out, verbose=verbose))


@app.command("presets")
def list_presets() -> None:
    """List quality, platform, music, effects and caption presets."""
    from reelflow.commands.presets import print_presets

    print_presets()


@app.command("voices")
def list_voices() -> None:
    """List the installed voices, as a spec's `voice` names them."""
    from rich.console import Console
    from rich.table import Table

    from reelflow.engine.speech.voices import installed

    table = Table("voice", "language", "kind")
    for voice in installed():
        table.add_row(voice.name, voice.language, voice.kind)
    Console().print(table)


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

    Ctrl-C (or SIGTERM) stops everything it started and exits 0; a failed setup or a child
    that exits on its own stops everything too, and exits 1.
    """
    from reelflow.deployments.stack import Stack, StackConfig

    settings = get_settings()
    _trust_bound_host(host)
    config = StackConfig(
        host=host,
        prefect_port=prefect_port,
        api_port=None if no_api else port,
        database_url=database_url or settings.prefect_database_url,
    )
    stack = Stack(settings, config)
    failure = stack.serve(log=lambda line: console.print(f"[green]up[/] {line}", highlight=False))
    if failure is not None:
        fail(failure, 1)


def _trust_bound_host(host: str) -> None:
    """Let the API answer the name `reelflow up` binds it to (loopback names are trusted by
    default), unless the user chose the trusted hosts themselves."""
    from reelflow.settings import LOOPBACK_HOSTS

    names = ("REELFLOW_API_TRUSTED_HOSTS", "REELFLOW_TRUSTED_HOSTS")
    if host in LOOPBACK_HOSTS or any(name in os.environ for name in names):
        return
    os.environ["REELFLOW_API_TRUSTED_HOSTS"] = json.dumps([*LOOPBACK_HOSTS, host])


@app.command()
def worker(
    pool: str = typer.Option("cpu", "--pool", help="Work pool to serve: cpu, gpu or batch."),
    limit: int = typer.Option(
        None, "--limit", help="Reels at once on this worker (default MAX_PARALLEL_VIDEOS)."
    ),
    grace: float = typer.Option(
        None, "--grace", help="Seconds a stop lets running reels finish before handing them back."
    ),
) -> None:
    """Serve a work pool with Prefect's process worker; on SIGTERM, SIGINT or SIGHUP let running
    reels finish for the grace period, hand back the rest (same run id, back in its queue), exit.
    """
    from reelflow.deployments.stack import POOLS
    from reelflow.deployments.worker import serve_worker

    if pool not in POOLS:
        fail(f"--pool: {pool!r} is not one of {', '.join(POOLS)}")
    settings = get_settings()
    if limit is not None and limit < 1:
        fail("--limit: must be at least 1")
    default = settings.max_parallel_batches if pool == "batch" else settings.max_parallel_videos
    try:
        code = serve_worker(
            pool,
            settings=settings,
            limit=limit or default,
            grace_s=settings.worker_stop_grace_s if grace is None else max(0.0, grace),
            log_line=typer.echo,
        )
    except ValueError as exc:
        fail(str(exc))
    raise typer.Exit(code)


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


@app.command("prune")
def prune_command(
    cache_days: float = typer.Option(
        None, "--cache-days", min=0, help="Unused cache age limit (default CACHE_RETENTION_DAYS)."
    ),
    output_days: float = typer.Option(
        None, "--output-days", min=0, help="Finished reel age limit (default: keep them)."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only list what would go."),
) -> None:
    """Free disk: step cache entries nobody used lately and, if asked, old finished reels."""
    from reelflow.commands.prune import prune

    report = prune(get_settings(), cache_days=cache_days, output_days=output_days,
                   dry_run=dry_run)  # fmt: skip
    verb = "would free" if dry_run else "freed"
    typer.echo(f"{verb} {report.freed_bytes / 1e6:.1f} MB: {len(report.cache_entries)} cache "
               f"entries, {len(report.outputs)} reels")  # fmt: skip


def _register_sub_commands() -> None:
    from reelflow.commands.align import align
    from reelflow.commands.users import app as users_app
    from reelflow.commands.validate import validate

    app.command("align")(align)
    app.command("validate")(validate)
    app.add_typer(users_app, name="users", help="Create and list API users.")


_register_sub_commands()

if __name__ == "__main__":  # pragma: no cover
    app()
