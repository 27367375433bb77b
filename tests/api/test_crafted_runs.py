"""A flow run crafted by whoever can reach the Prefect API, run by a real process worker: it
fails with the field named, reads nothing outside the user's uploads and writes nothing outside
the data folder (the in-process cases are in tests/security/test_flow_params.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from prefect.client.orchestration import PrefectClient
from prefect.deployments import run_deployment

from tests import mediatools

pytestmark = pytest.mark.slow


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


def _message(api_url: str, run_id) -> str:
    async def read() -> str:
        async with PrefectClient(api=api_url) as client:
            return (await client.read_flow_run(run_id)).state.message or ""

    return asyncio.run(read())


@pytest.mark.parametrize(
    "field, spec, context",
    [
        ("background.path", "secret", {}),
        ("context.output", None, {"output": "escape"}),
        ("context.user_id", None, {"user_id": "../.."}),
        ("context.task_id", None, {"task_id": "../.."}),  # names the output folder
    ],
)
def test_a_crafted_run_on_a_worker_fails_cleanly(
    deployed, worker, api_settings, tmp_path, field, spec, context
):
    secret = tmp_path / "secret.png"  # outside every user's uploads
    mediatools.solid_image(secret, "blue")
    body: dict = {"script": "Nothing to see here.", "quality": "low", "music": {"preset": "none"}}
    if spec == "secret":
        body["background"] = {"type": "image", "path": str(secret)}
    if context.get("output") == "escape":
        context = {"output": str(tmp_path / "escaped" / "reel.mp4")}
    context = {"user_id": "u-crafty", **context}
    data_dir = api_settings.data_dir.resolve()
    before = _files(tmp_path) | _files(data_dir)
    run = run_deployment(
        "generate-reel/cpu", parameters={"spec": body, "context": context}, timeout=240
    )
    assert run.state.is_failed(), run.state
    assert field in _message(deployed, run.id), _message(deployed, run.id)
    written = (_files(tmp_path) | _files(data_dir)) - before
    assert all(p.resolve().is_relative_to(data_dir) for p in written), written
    assert not (tmp_path / "escaped").exists()
