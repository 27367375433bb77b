"""Where task results and cache records live: a local folder or an fsspec URL."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from prefect.filesystems import LocalFileSystem, RemoteFileSystem, WritableFileSystem
from prefect.results import ResultStore

from reelflow.settings import Settings


def result_storage(settings: Settings) -> WritableFileSystem:
    """The result store of every task: a local folder or an fsspec URL shared by all hosts.

    Prefect only accepts storage blocks saved on the server, so the block is saved under a
    name derived from its location (idempotent, so every worker of a deployment agrees).
    """
    url = settings.result_storage_url
    if url and "://" in url and not url.startswith("file://"):
        return _saved(RemoteFileSystem, url)
    return _saved(LocalFileSystem, str(Path(url or settings.results_dir).resolve()))


@functools.cache
def _saved(kind: type[WritableFileSystem], basepath: str) -> WritableFileSystem:
    # Cached per process: one API call per location, not one per task.
    block = kind(basepath=basepath)
    digest = hashlib.sha256(f"{kind.__name__}:{basepath}".encode()).hexdigest()[:12]
    block.save(f"reelflow-results-{digest}", overwrite=True)
    return block


def has_record(settings: Settings, key: str) -> bool:
    """Whether a cached result is recorded under `key`."""
    return ResultStore(result_storage=result_storage(settings)).exists(key)
