"""`reelflow users`: create API users, list them, rotate and revoke their tokens.

A new token is printed once, as the last word of the output, so scripts can take it with
``| awk '{print $NF}'``; only its hash is stored, so a lost token is replaced with `rotate`.
"""

from __future__ import annotations

from typing import Annotated

import typer

from reelflow.engine.errors import InputError

ExpiresDays = Annotated[
    float | None,
    typer.Option("--expires-days", min=0.001, help="The token stops working after this many days."),
]


def _seconds(days: float | None) -> float | None:
    return None if days is None else days * 86400


app = typer.Typer(help="Manage API users and their tokens.", no_args_is_help=True)


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="Display name of the user.")],
    premium: Annotated[
        bool, typer.Option("--premium", help="Premium plan: renders go to the premium queue.")
    ] = False,
    expires_days: ExpiresDays = None,
) -> None:
    """Create a user and print its API token (shown only this once)."""
    from reelflow.settings import get_settings
    from reelflow.store import Store

    with Store(get_settings()) as store:
        try:
            user, token = store.create_user(
                name, plan="premium" if premium else "standard", expires_in_s=_seconds(expires_days)
            )
        except InputError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
    typer.echo(f"created user {user.id} ({user.name}, {user.plan})")
    typer.echo("API token (shown only once; send it as 'Authorization: Bearer <token>'):")
    typer.echo(token)


@app.command("rotate")
def rotate(
    user_id: Annotated[str, typer.Argument(help="The user's id (see `reelflow users list`).")],
    expires_days: ExpiresDays = None,
) -> None:
    """Give a user a new token and print it; the old one stops working at once."""
    from reelflow.settings import get_settings
    from reelflow.store import Store

    with Store(get_settings()) as store:
        try:
            token = store.rotate_token(user_id, expires_in_s=_seconds(expires_days))
        except InputError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
    if token is None:
        typer.echo(f"error: no user {user_id}", err=True)
        raise typer.Exit(1)
    typer.echo(f"new API token for {user_id} (shown only once; the old one no longer works):")
    typer.echo(token)


@app.command("revoke")
def revoke(
    user_id: Annotated[str, typer.Argument(help="The user's id (see `reelflow users list`).")],
) -> None:
    """Make a user's token stop working at once (give a new one with `rotate`)."""
    from reelflow.settings import get_settings
    from reelflow.store import Store

    with Store(get_settings()) as store:
        if not store.revoke_token(user_id):
            typer.echo(f"error: no user {user_id}", err=True)
            raise typer.Exit(1)
    # Sockets authenticate once, when they open: one already open runs until it closes.
    typer.echo(f"revoked the token of {user_id}; progress sockets already open stay open")


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
