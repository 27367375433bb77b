"""Keep secrets and forged lines out of the server's logs.

uvicorn logs every request line with its query string, so a ``?token=`` (still accepted on the
socket URL when ``ws_query_token`` is on) would be written to the access log, and a
percent-decoded path can carry ``\\r\\n`` and forge a log line. `RedactingFilter` rewrites the
arguments of uvicorn's records: token values become ``***`` and control characters are escaped.
"""

from __future__ import annotations

import logging
import re

_TOKEN = re.compile(r"((?:^|[?&;])(?:token|access_token)=)[^&\s\"']*", re.IGNORECASE)
_BEARER = re.compile(r"(rf_[A-Za-z0-9]+_)[A-Za-z0-9_-]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
LOGGERS = ("uvicorn.access", "uvicorn.error")


def redact(text: str) -> str:
    """`text` with token values hidden and control characters shown as escapes."""
    text = _TOKEN.sub(r"\1***", text)
    text = _BEARER.sub(r"\1***", text)
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


class RedactingFilter(logging.Filter):
    """A filter that redacts the string arguments (and message) of every record it sees."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def install_log_redaction() -> None:
    """Add `RedactingFilter` to uvicorn's loggers (once, however many apps are created)."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in logger.filters):
            logger.addFilter(RedactingFilter())
