"""Content-keyed caching for reel tasks.

Prefect's default policy caches within one run, and hashes a `Path` as its string (same path,
new bytes: a stale hit). Here a step's key is the digest of the values it reads, with every
file replaced by the digest of its bytes; `reelflow.tasks.step` adds the digest of the code the
step runs. Each key owns a folder under ``<data_dir>/cache/<step>/<key>``; a key whose folder lost
its completion mark (files deleted, a crash mid-write) is not reused.

Keys and folders are per user (`CacheScope`): the same bytes uploaded by two users give two
entries, so no result, path or id crosses users. Runs without a user (the CLI) share the local
namespace. Each entry notes which projects used it, so deleting a project drops its entries.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import hashlib
import json
import os
import re
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

COMPLETE_MARK = ".complete"
USES = ".projects"  # one empty file per project whose runs used the entry
USERS = "users"  # <cache>/users/<user>/<step>/<key>; the local namespace is <cache>/<step>/<key>
# Parameters that say where or how to work, not what to compute.
NOT_CONTENT = frozenset(
    {
        "settings",
        "reporter",
        "on_progress",
        "out_dir",
        "refresh",
        "timeout_s",
        "threads",
        "cache_scope",
    }
)
_SAFE_PART = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _part(value: str) -> str:
    """`value` as one safe path part (generated ids are kept; anything else is hashed)."""
    return value if _SAFE_PART.match(value) else hashlib.sha256(value.encode()).hexdigest()[:32]


@dataclasses.dataclass(frozen=True)
class CacheScope:
    """Whose cache a run reads and writes: its user's (from `RunContext.user_id`), else local.

    `project_id` is not part of any key (a user's projects share their entries); it only marks
    the entries a project used, so that deleting the project removes them.
    """

    user_id: str | None = None
    project_id: str | None = None

    @property
    def namespace(self) -> str:
        """ "" for the local namespace, ``users/<user>`` for a user's."""
        return "" if self.user_id is None else f"{USERS}/{_part(self.user_id)}"

    def root(self, cache_dir: Path) -> Path:
        """The folder of this scope's entries (``<cache>/<step>/<key>`` below it)."""
        return cache_dir / self.namespace if self.namespace else cache_dir

    def note_use(self, folder: Path) -> None:
        """Record that this scope's project used the entry in `folder`."""
        if self.project_id is None:
            return
        marks = folder / USES
        marks.mkdir(parents=True, exist_ok=True)
        (marks / _part(self.project_id)).touch()


LOCAL = CacheScope()


def user_cache_root(cache_dir: Path, user_id: str) -> Path:
    """The folder of all of `user_id`'s cache entries."""
    return CacheScope(user_id).root(cache_dir)


def remove_project_entries(cache_dir: Path, user_id: str, project_id: str) -> list[str]:
    """Delete the user's cache entries that `project_id` used; return their keys.

    Other projects of the user that shared an entry compute it again on their next render
    (cheap next to a result that names the deleted project's files).
    """
    root = user_cache_root(cache_dir, user_id)
    removed = []
    for mark in root.glob(f"*/*/{USES}/{_part(project_id)}"):
        entry = mark.parent.parent
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry.name)
    return removed


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


def content_key(task_name: str, parameters: dict[str, Any], *, namespace: str = "") -> str:
    """Digest of a task's content parameters (files by their bytes), in a user's namespace."""
    content = {k: canonical(v) for k, v in parameters.items() if k not in NOT_CONTENT}
    keyed: dict[str, Any] = {"task": task_name, "inputs": content}
    if namespace:  # the local namespace keeps the keys it always had
        keyed["namespace"] = namespace
    blob = json.dumps(keyed, sort_keys=True, default=repr)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def mark_used(folder: Path) -> bool:
    """Note that the entry in `folder` is being reused (its mark's time is its last use, which
    `reelflow prune` reads); False when the entry is not complete."""
    try:
        os.utime(folder / COMPLETE_MARK)
    except OSError:
        return False
    return True


def mark_complete(folder: Path) -> None:
    """Record that every file of `folder` was written (the result may be reused)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / COMPLETE_MARK).touch()
