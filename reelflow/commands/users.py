"""`reelflow users`: create API users and list them.

A new user's token is printed once, as the last word of the output, so scripts can take it with
``| awk '{print $NF}'``; only its hash is stored, so a lost token means creating a new user.
"""

from __future__ import annotations

from typing import Annotated

import typer

from reelflow.engine.errors import InputError

app = typer.Typer(help="Manage API users and their tokens.", no_args_is_help=True)


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="Display name of the user.")],
    premium: Annotated[
        bool, typer.Option("--premium", help="Premium plan: renders go to the premium queue.")
    ] = False,
) -> None:
    """Create a user and print its API token (shown only this once)."""
    from reelflow.settings import get_settings
    from reelflow.store import Store

    with Store(get_settings()) as store:
        try:
            user, token = store.create_user(name, plan="premium" if premium else "standard")
        except InputError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
    typer.echo(f"created user {user.id} ({user.name}, {user.plan})")
    typer.echo("API token (shown only once; send it as 'Authorization: Bearer <token>'):")
    typer.echo(token)


@app.command("list")
def list_users() -> None:
    """List users: id, plan, creation time and name (never tokens)."""
    from reelflow.settings import get_settings
    from reelflow.store import Store

    with Store(get_settings()) as store:
        users = store.list_users()
    if not users:
        typer.echo("no users yet; create one with: reelflow users create NAME")
        return
    typer.echo(f"{'ID':<16}  {'PLAN':<8}  {'CREATED (UTC)':<19}  NAME")
    for user in users:
        created = user.created_at.strftime("%Y-%m-%d %H:%M:%S")
        typer.echo(f"{user.id:<16}  {user.plan:<8}  {created:<19}  {user.name}")


@app.command("webhook")
def webhook(
    user_id: Annotated[str, typer.Argument(help="Id of the user (see `reelflow users list`).")],
    url: Annotated[
        str | None,
        typer.Option("--url", help="Default http(s) webhook URL of the user's runs."),
    ] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Remove the default URL.")] = False,
    rotate: Annotated[
        bool, typer.Option("--rotate-secret", help="Issue a new signing secret.")
    ] = False,
) -> None:
    """Show or set a user's default webhook URL and print its signing secret."""
    from reelflow.settings import get_settings
    from reelflow.store import Store
    from reelflow.webhooks import check_webhook_url

    try:
        checked = check_webhook_url(url) if url is not None else None
    except ValueError as exc:
        typer.echo(f"error: --url: {exc}", err=True)
        raise typer.Exit(2) from None
    with Store(get_settings()) as store:
        if store.get_user(user_id) is None:
            typer.echo(f"error: no user {user_id!r}", err=True)
            raise typer.Exit(2)
        current = store.webhook(user_id)
        if checked is not None or clear or rotate:
            current = store.set_webhook(
                user_id, url=None if clear else (checked or current.url), rotate_secret=rotate
            )
    typer.echo(f"url: {current.url or '(none)'}")
    typer.echo(f"secret: {current.secret}")
