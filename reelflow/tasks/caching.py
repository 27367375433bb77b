"""Content-keyed caching for reel tasks.

Prefect's default policy caches within one run, and hashes a `Path` as its string (same path,
new bytes: a stale hit). Here a step's key is the digest of the values it reads, with every
file replaced by the digest of its bytes; `reelflow.tasks.step` adds the digest of the code the
step runs. Each key owns a folder under ``<data_dir>/cache/<step>/<key>``; a key whose folder lost
its completion mark (files deleted, a crash mid-write) is not reused.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import hashlib
import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

COMPLETE_MARK = ".complete"
# Parameters that say where or how to work, not what to compute.
NOT_CONTENT = frozenset(
    {"settings", "reporter", "on_progress", "out_dir", "refresh", "timeout_s", "threads"}
)


@functools.lru_cache(maxsize=4096)
def _file_digest(path: str, size: int, mtime_ns: int) -> str:
    # Keyed by size and mtime too, so an edited file is hashed again.
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes ("missing:<path>" if it does not exist)."""
    try:
        st = path.stat()
    except OSError:
        return f"missing:{path}"
    return _file_digest(os.fspath(path), st.st_size, st.st_mtime_ns)


def canonical(value: Any) -> Any:
    """A JSON-able form of `value` in which every file is its content digest."""
    if isinstance(value, Path):
        return {"file": file_digest(value)} if value.suffix or value.is_file() else str(value)
    if isinstance(value, BaseModel):
        return canonical(dict(value))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        # Fields left out of equality (diagnostic details) are left out of the key too.
        fields = [f for f in dataclasses.fields(value) if f.compare]
        return {f.name: canonical(getattr(value, f.name)) for f in fields}
    if isinstance(value, dict):
        return {str(k): canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, list | tuple | set | frozenset):
        items = [canonical(v) for v in value]
        return sorted(items, key=json.dumps) if isinstance(value, set | frozenset) else items
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float):
        return round(value, 6)
    if value is None or isinstance(value, str | int | bool):
        return value
    return repr(value)


def content_key(task_name: str, parameters: dict[str, Any]) -> str:
    """Digest of a task's content parameters (files by their bytes)."""
    content = {k: canonical(v) for k, v in parameters.items() if k not in NOT_CONTENT}
    blob = json.dumps({"task": task_name, "inputs": content}, sort_keys=True, default=repr)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def mark_complete(folder: Path) -> None:
    """Record that every file of `folder` was written (the result may be reused)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / COMPLETE_MARK).touch()
