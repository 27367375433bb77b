"""Webhook options at the API and CLI boundaries, and the store's choice of URL and secret."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from reelflow.api.app import create_app
from reelflow.api.webhooks import store_targets
from reelflow.cli import app as cli_app
from reelflow.settings import Settings
from reelflow.store import Store

pytestmark = pytest.mark.usefixtures("redis_up")
BAD_URLS = ["ftp://example.com/hook", "file:///etc/passwd", "javascript:alert(1)", "/relative"]


@pytest.fixture
def api(wsettings: Settings) -> Iterator[tuple[TestClient, dict[str, str], Store]]:
    with Store(wsettings) as store:
        _user, token = store.create_user("hooked")
        with TestClient(create_app(wsettings)) as client:
            yield client, {"Authorization": f"Bearer {token}"}, store


@pytest.mark.parametrize("url", BAD_URLS)
def test_trigger_refuses_a_non_http_webhook_url_naming_the_field(api, url: str) -> None:
    client, headers, _store = api
    for path, body in [
        ("/api/v1/video/generate-advanced/p1", {"webhook_url": url}),
        ("/api/v1/video/batch-generate-advanced", {"project_ids": ["p1"], "settings": {
            "webhook_url": url}}),
    ]:  # fmt: skip
        response = client.post(path, json=body, headers=headers)
        assert response.status_code == 422, response.text
        fields = [e["field"] for e in response.json()["errors"]]
        assert any(f and f.endswith("webhook_url") for f in fields), response.json()


def test_user_default_webhook_is_set_checked_and_rotated(api) -> None:
    client, headers, _store = api
    first = client.get("/api/v1/me/webhook", headers=headers).json()
    assert first["url"] is None and len(first["secret"]) == 64
    bad = client.put("/api/v1/me/webhook", json={"url": "ftp://x"}, headers=headers)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "url"
    good = client.put(
        "/api/v1/me/webhook", json={"url": "https://hooks.example/r"}, headers=headers
    )
    assert good.json() == {**first, "url": "https://hooks.example/r"}  # same secret
    rotated = client.put(
        "/api/v1/me/webhook", json={"url": None, "rotate_secret": True}, headers=headers
    ).json()
    assert rotated["url"] is None and rotated["secret"] != first["secret"]


def test_store_picks_the_trigger_url_then_the_batch_url_then_the_default(
    wsettings: Settings,
) -> None:
    class Services:
        async def store(self) -> Store:
            return opened

    with Store(wsettings) as opened:
        user, _ = opened.create_user("u")
        lookup = store_targets(Services())  # type: ignore[arg-type]
        own, batch, child, plain = (str(uuid.uuid4()) for _ in range(4))
        opened.record_task(user.id, own, parameters={"request": {"webhook_url": "http://a/1"}})
        opened.record_task(
            user.id, batch, kind="batch", parameters={"request": {"webhook_url": "http://b/2"}}
        )
        opened.record_task(user.id, child, parent_id=batch, parameters={"project_id": None})
        opened.record_task(user.id, plain, parameters={"request": {}})

        def target(task_id):
            return asyncio.run(lookup(user.id, task_id))

        secret = opened.webhook(user.id).secret
        assert target(own).url == "http://a/1" and target(own).secret == secret
        assert target(own).output["video"].endswith(f"/video/{own}/download")
        assert target(batch).url == "http://b/2" and target(batch).output is None
        assert target(child).url == "http://b/2"
        assert target(plain) is None  # no URL anywhere: no webhook
        opened.set_webhook(user.id, url="https://default/x")
        assert target(plain).url == "https://default/x"
        assert target(own).url == "http://a/1"


def test_cli_sets_the_default_webhook_and_refuses_other_schemes(
    wsettings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REELFLOW_DATA_DIR", str(wsettings.data_dir))
    from reelflow.settings import get_settings

    with Store(get_settings()) as store:
        user, _ = store.create_user("cli")
    runner = CliRunner()
    bad = runner.invoke(cli_app, ["users", "webhook", user.id, "--url", "ftp://x/y"])
    assert bad.exit_code == 2 and "--url" in bad.output
    good = runner.invoke(cli_app, ["users", "webhook", user.id, "--url", "https://h/x"])
    assert good.exit_code == 0, good.output
    assert "url: https://h/x" in good.output
    with Store(get_settings()) as store:
        assert store.webhook(user.id).url == "https://h/x"
