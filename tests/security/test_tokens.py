"""Token lifecycle: rotate, revoke, expire; the API stops accepting an old token at once."""

from __future__ import annotations

import time

import sqlalchemy as sa
from typer.testing import CliRunner

from reelflow.commands.users import app
from reelflow.settings import Settings
from reelflow.store import Store
from tests.security.conftest import API


def _env(settings: Settings) -> dict[str, str | None]:
    return {"REELFLOW_DATA_DIR": str(settings.data_dir), "REELFLOW_DATABASE_URL": None}


def test_rotate_replaces_the_token_and_revoke_ends_it(settings):
    runner = CliRunner()
    created = runner.invoke(app, ["create", "Eve"], env=_env(settings))
    old = created.output.split()[-1]
    with Store(settings) as store:
        user = store.authenticate(old)
    rotated = runner.invoke(app, ["rotate", user.id], env=_env(settings))
    assert rotated.exit_code == 0, rotated.output
    new = rotated.output.split()[-1]
    with Store(settings) as store:
        assert store.authenticate(old) is None
        assert store.authenticate(new).id == user.id
    revoked = runner.invoke(app, ["revoke", user.id], env=_env(settings))
    assert revoked.exit_code == 0, revoked.output
    with Store(settings) as store:
        assert store.authenticate(new) is None
    assert runner.invoke(app, ["revoke", "nobody"], env=_env(settings)).exit_code == 1
    assert runner.invoke(app, ["rotate", "nobody"], env=_env(settings)).exit_code == 1


def test_tokens_can_expire(settings):
    with Store(settings) as store:
        user, token = store.create_user("brief", expires_in_s=0.5)
        assert store.authenticate(token).id == user.id
        time.sleep(0.6)
        assert store.authenticate(token) is None
        fresh = store.rotate_token(user.id, expires_in_s=3600)
        assert store.authenticate(fresh).id == user.id


def test_an_older_database_gets_the_expiry_column(settings):
    settings.data_dir.mkdir(parents=True)
    engine = sa.create_engine(settings.store_url)
    with engine.begin() as conn:  # the users table as it was before expiry existed
        conn.execute(sa.text(
            "CREATE TABLE users (id VARCHAR(32) PRIMARY KEY, name VARCHAR(100), plan VARCHAR(16),"
            " token_id VARCHAR(32) UNIQUE, token_hash VARCHAR(64), created_at DATETIME)"
        ))  # fmt: skip
    engine.dispose()
    with Store(settings) as store:
        user, token = store.create_user("old db", expires_in_s=60)
        assert store.authenticate(token).id == user.id


def test_the_api_refuses_a_rotated_token_at_once(sec_client, sec_store):
    user, old = sec_store.create_user("rotating")
    headers = {"Authorization": f"Bearer {old}"}
    assert sec_client.get(f"{API}/me", headers=headers).status_code == 200
    new = sec_store.rotate_token(user.id)
    assert sec_client.get(f"{API}/me", headers=headers).status_code == 401
    assert sec_client.post(f"{API}/video/generate-advanced/x", headers=headers).status_code == 401
    fresh = {"Authorization": f"Bearer {new}"}
    assert sec_client.get(f"{API}/me", headers=fresh).status_code == 200
