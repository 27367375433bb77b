"""The caller's own settings: the default webhook and its signing secret."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter

from reelflow.api.deps import CurrentUser, StoreDep
from reelflow.api.schemas import WebhookIn, WebhookOut

router = APIRouter(tags=["account"])


@router.get("/me/webhook", response_model=WebhookOut)
async def get_webhook(user: CurrentUser, store: StoreDep) -> WebhookOut:
    """The default webhook URL and the secret that signs every delivery."""
    return WebhookOut.of(await asyncio.to_thread(store.webhook, user.id))


@router.put("/me/webhook", response_model=WebhookOut)
async def put_webhook(body: WebhookIn, user: CurrentUser, store: StoreDep) -> WebhookOut:
    """Set (or, with null, remove) the default webhook URL; optionally rotate the secret."""
    webhook = await asyncio.to_thread(
        store.set_webhook, user.id, url=body.url, rotate_secret=body.rotate_secret
    )
    return WebhookOut.of(webhook)
