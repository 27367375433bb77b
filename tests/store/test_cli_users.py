"""`reelflow users create/list`: the token is the last word printed and it authenticates."""

from __future__ import annotations

from typer.testing import CliRunner

from reelflow.commands.users import app
from reelflow.settings import Settings
from reelflow.store import Store


def env_for(settings: Settings) -> dict[str, str | None]:
    return {
        "REELFLOW_DATA_DIR": str(settings.data_dir),
        "REELFLOW_DATABASE_URL": settings.database_url,  # None removes it: SQLite default
    }


def test_create_prints_the_token_last_and_it_works(store_settings: Settings) -> None:
    runner = CliRunner()
    env = env_for(store_settings)
    created = runner.invoke(app, ["create", "Ada Lovelace", "--premium"], env=env)
    assert created.exit_code == 0, created.output
    token = created.output.split()[-1]

    with Store(store_settings) as store:
        user = store.authenticate(token)
        assert user is not None
        assert (user.name, user.plan) == ("Ada Lovelace", "premium")

    listed = runner.invoke(app, ["list"], env=env)
    assert listed.exit_code == 0, listed.output
    assert user.id in listed.output and "Ada Lovelace" in listed.output
    assert token not in listed.output and token.split("_")[-1] not in listed.output

    standard = runner.invoke(app, ["create", "Bob"], env=env)
    with Store(store_settings) as store:
        assert store.authenticate(standard.output.split()[-1]).plan == "standard"


def test_bad_names_fail_with_one_line(store_settings: Settings) -> None:
    result = CliRunner().invoke(app, ["create", "   "], env=env_for(store_settings))
    assert result.exit_code == 2
    assert "name: must not be blank" in result.output
