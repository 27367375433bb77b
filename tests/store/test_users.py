"""Users and tokens: create, authenticate, list; tokens are stored only as hashes."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from reelflow.engine.errors import InputError
from reelflow.store import Store, User


def test_token_authenticates_its_own_user_only(store: Store) -> None:
    alice, alice_token = store.create_user("Alice")
    bob, bob_token = store.create_user("Bob", plan="premium")

    assert store.authenticate(alice_token).id == alice.id
    assert store.authenticate(bob_token).id == bob.id
    assert store.authenticate(f"  {bob_token}\n").id == bob.id  # header whitespace
    assert (alice.plan, bob.plan) == ("standard", "premium")


def test_wrong_malformed_and_mixed_tokens_are_refused(store: Store) -> None:
    _, alice_token = store.create_user("Alice")
    _, bob_token = store.create_user("Bob")
    flipped = alice_token[:-1] + ("A" if alice_token[-1] != "A" else "B")
    # Alice's lookup id with Bob's secret must not pass for either of them.
    mixed = "_".join(alice_token.split("_", 2)[:2]) + "_" + bob_token.split("_", 2)[2]

    for token in (flipped, mixed, "", None, "Bearer " + alice_token, alice_token + "x", "rf_"):
        assert store.authenticate(token) is None, token


def test_only_a_hash_of_the_token_is_stored(store: Store) -> None:
    user, token = store.create_user("Alice")
    with store.session() as session:
        row = session.scalar(select(User).where(User.id == user.id))
        stored = [str(v) for v in (row.id, row.name, row.token_id, row.token_hash)]
    secret = token.split("_", 2)[2]
    assert all(secret not in value for value in stored)
    assert len(row.token_hash) == 64


def test_names_and_plans_are_validated(store: Store) -> None:
    with pytest.raises(InputError) as err:
        store.create_user("   ")
    assert err.value.field == "name"
    with pytest.raises(InputError) as err:
        store.create_user("Eve", plan="gold")
    assert err.value.field == "plan"
    assert store.create_user("  Ada \t Lovelace ")[0].name == "Ada Lovelace"


def test_list_and_get_users(store: Store) -> None:
    alice, _ = store.create_user("Alice")
    bob, _ = store.create_user("Bob")
    assert [u.id for u in store.list_users()] == [alice.id, bob.id]
    assert store.get_user(bob.id).name == "Bob"
    assert store.get_user("missing") is None
    assert store.ping()


def test_store_from_url_and_backend(tmp_path, database_url) -> None:
    url = database_url or f"sqlite:///{tmp_path / 'elsewhere' / 'store.db'}"
    with Store.from_url(url, data_dir=tmp_path / "data") as store:
        user, token = store.create_user("Alice")
        assert store.backend == ("postgresql" if database_url else "sqlite")
        assert store.uploads_dir == (tmp_path / "data" / "uploads").resolve()
    with Store.from_url(url, data_dir=tmp_path / "data") as store:
        assert store.authenticate(token).id == user.id


def test_webhook_settings_are_per_user_with_a_stable_secret(store: Store) -> None:
    alice, _ = store.create_user("Alice")
    bob, _ = store.create_user("Bob")
    first = store.webhook(alice.id)
    assert first.url is None and len(first.secret) == 64
    assert store.webhook(alice.id).secret == first.secret  # created once, then kept
    assert store.webhook(bob.id).secret != first.secret
    store.set_webhook(alice.id, url="https://hooks.example/a")
    assert store.webhook(alice.id).url == "https://hooks.example/a"
    assert store.webhook(bob.id).url is None
    rotated = store.set_webhook(alice.id, url=None, rotate_secret=True)
    assert rotated.url is None and rotated.secret != first.secret
    with pytest.raises(InputError):
        store.webhook("no-such-user")
