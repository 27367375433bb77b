"""API tokens: ``rf_<token id>_<secret>``, stored as a SHA-256 digest.

The token id (16 hex characters, public) finds the user with one indexed lookup; the secret (32
random bytes) proves possession. A plain SHA-256 is the right hash here: slow password hashes
(scrypt, PBKDF2) exist to make guessing *low-entropy* secrets expensive, but guessing 256 random
bits is hopeless at any speed, and a fast hash keeps every API request cheap. The digest is
compared in constant time so response timing says nothing about how much of a guess matched.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

PREFIX = "rf"
_TOKEN = re.compile(rf"^{PREFIX}_([0-9a-f]{{16}})_([A-Za-z0-9_-]{{43}})$")


@dataclass(frozen=True)
class NewToken:
    """A freshly minted token: show `token` once, store `token_id` and `digest`."""

    token: str
    token_id: str
    digest: str


def mint() -> NewToken:
    """A new random token with its lookup id and digest."""
    token_id = secrets.token_hex(8)
    token = f"{PREFIX}_{token_id}_{secrets.token_urlsafe(32)}"
    return NewToken(token=token, token_id=token_id, digest=digest(token))


def digest(token: str) -> str:
    """Hex SHA-256 of the whole token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_id_of(token: str | None) -> str | None:
    """The lookup id of a well-formed token, or None for anything else."""
    if not token:
        return None
    match = _TOKEN.match(token.strip())
    return match.group(1) if match else None


def matches(token: str, stored_digest: str) -> bool:
    """Whether `token` hashes to `stored_digest`, compared in constant time."""
    return hmac.compare_digest(digest(token.strip()), stored_digest)
