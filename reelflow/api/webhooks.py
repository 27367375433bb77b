"""The API's side of webhooks: which URL and secret announce a run, and the dispatcher task."""

from __future__ import annotations

import asyncio
from typing import Any

from reelflow.api.runs import output_urls
from reelflow.api.services import Services
from reelflow.webhooks.dispatcher import TargetLookup, WebhookDispatcher, WebhookTarget


def requested_url(parameters: dict[str, Any] | None) -> str | None:
    """The `webhook_url` a trigger asked for, from its recorded parameters."""
    request = (parameters or {}).get("request") or {}
    return request.get("webhook_url") if isinstance(request, dict) else None


def store_targets(services: Services) -> TargetLookup:
    """Look a run's webhook up in the store: the trigger's URL (a batch's for its children),
    else the user's default; signed with the user's secret."""

    async def lookup(user_id: str, task_id: str) -> WebhookTarget | None:
        store = await services.store()
        task = await asyncio.to_thread(store.get_task, user_id, task_id)
        url = requested_url(task.parameters) if task is not None else None
        if url is None and task is not None and task.parent_id:
            parent = await asyncio.to_thread(store.get_task, user_id, task.parent_id)
            url = requested_url(parent.parameters) if parent is not None else None
        settings = await asyncio.to_thread(store.webhook, user_id)
        url = url or settings.url
        if url is None:
            return None
        kind = task.kind if task is not None else "reel"
        output = output_urls(task_id) if kind != "batch" else None
        return WebhookTarget(url=url, secret=settings.secret, kind=kind, output=output)

    return lookup


def start_dispatcher(services: Services) -> asyncio.Task:
    """Deliver the webhook outbox in the background of this API process."""
    dispatcher = WebhookDispatcher(services.settings, services.redis, store_targets(services))
    return asyncio.create_task(dispatcher.run(), name="webhook-dispatcher")
