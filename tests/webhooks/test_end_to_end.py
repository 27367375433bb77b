"""A real render's ending reaches a real receiver: the run's own progress reporter stores the
ending (queuing its webhook in the same step) and the API's dispatcher, looking the user's
webhook up in the store, POSTs it signed."""

from __future__ import annotations

import asyncio
import hashlib
import hmac

import pytest

from reelflow.api.webhooks import store_targets
from reelflow.engine.errors import InputError
from reelflow.flows.local import run_reel
from reelflow.flows.runtime import RunContext
from reelflow.models import parse_spec
from reelflow.settings import Settings
from reelflow.store import Store
from tests.webhooks.conftest import Receiver
from tests.webhooks.test_dispatcher import _dispatch_until, _outbox

pytestmark = pytest.mark.usefixtures("redis_up")


def test_a_rendered_and_a_failed_reel_are_announced(
    wsettings: Settings, receiver: Receiver, tmp_path
) -> None:
    receiver.fail_first = 1
    with Store(wsettings) as store:
        user, _ = store.create_user("hooked")
        secret = store.set_webhook(user.id, url=receiver.url).secret

        class Services:  # the one thing store_targets asks of the API's services
            async def store(self) -> Store:
                return store

        context = RunContext(user_id=user.id, output=tmp_path / "reel.mp4")
        spec = parse_spec({"script": "Hooked on webhooks.", "quality": "low",
                           "music": {"preset": "none"}, "effects": {"preset": "none"}})  # fmt: skip
        done = run_reel(spec, context, settings=wsettings)
        bad = tmp_path / "voice.wav"
        bad.write_text("not audio")
        with pytest.raises(InputError):
            run_reel(parse_spec({"voiceover": str(bad), "transcript": "hi"}), RunContext(
                user_id=user.id), settings=wsettings)  # fmt: skip
        assert len(_outbox(wsettings)) == 2
        asyncio.run(
            _dispatch_until(wsettings, store_targets(Services()), lambda: not _outbox(wsettings))
        )
    deliveries = receiver.wait_for(3)
    by_type: dict[str, list[dict]] = {}
    for d in deliveries:  # the two endings are delivered side by side, in either order
        by_type.setdefault(d.json["type"], []).append(d.json)
    completed, failed = by_type["reel.completed"], by_type["reel.failed"]
    assert len(completed) + len(failed) == 3 and len({b["id"] for b in completed}) == 1
    assert completed[0]["task_id"] == done.task_id
    assert completed[0]["output"]["video"].endswith(f"/video/{done.task_id}/download")
    assert "voice.wav" in failed[0]["error"] and failed[0]["output"] is None
    for d in deliveries:
        expected = hmac.new(secret.encode(), d.body, hashlib.sha256).hexdigest()
        assert d.headers["X-Reelflow-Signature"] == f"sha256={expected}"
