"""Webhooks: a signed JSON POST when a reel completes, fails or is cancelled.

The emit script queues every such ending in a Redis stream (the outbox) in the same atomic step
that stores it; `WebhookDispatcher` (run by each API process) delivers the outbox at least once,
with backoff, off the render's path. `payload` holds the pure parts: URL check, body, signature.
"""

from reelflow.webhooks.payload import (
    SIGNATURE_HEADER,
    WebhookUrl,
    check_webhook_url,
    event_body,
    sign,
)

__all__ = ["SIGNATURE_HEADER", "WebhookUrl", "check_webhook_url", "event_body", "sign"]
