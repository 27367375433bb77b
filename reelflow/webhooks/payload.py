"""What a webhook sends: the checked target URL, the JSON body and its signature."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator

SIGNATURE_HEADER = "X-Reelflow-Signature"
EVENT_ID_HEADER = "X-Reelflow-Event-Id"
MAX_URL_LENGTH = 2000


def check_webhook_url(value: str) -> str:
    """`value` if it is an absolute http(s) URL with a host; ValueError otherwise.

    Only http and https: a webhook must never make the API open a file, an FTP session or
    anything else a URL can name.
    """
    text = value.strip()
    if len(text) > MAX_URL_LENGTH:
        raise ValueError(f"must be at most {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(text)
        port = parts.port  # raises on a malformed port
    except ValueError:
        raise ValueError(f"{value!r} is not a URL") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError(f"must be an http:// or https:// URL, not {parts.scheme or 'relative'}")
    if not parts.hostname:
        raise ValueError("must name a host")
    if any(ch.isspace() or ord(ch) < 32 for ch in text) or port == 0:
        raise ValueError(f"{value!r} is not a URL")
    return text


WebhookUrl = Annotated[str, AfterValidator(check_webhook_url)]


def sign(secret: str, body: bytes) -> str:
    """The signature header value: ``sha256=`` and the hex HMAC-SHA256 of `body`."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def event_body(event: dict[str, Any], *, kind: str, output: dict[str, str] | None) -> bytes:
    """The JSON body announcing the run ending `event` (a stored progress event).

    Built only from the stored event and the task's record, so a redelivery sends the same bytes
    with the same `id`: receivers deduplicate on it.
    """
    status = event["status"]
    body = {
        "id": event["event_id"],
        "type": f"reel.{status}",
        "task_id": event["task_id"],
        "kind": kind,
        "status": status,
        "error": event.get("error"),
        "output": output if status == "completed" else None,
        "timestamp": event.get("timestamp"),
        "attempt": event.get("attempt", 1),
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
