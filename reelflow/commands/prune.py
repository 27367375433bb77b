"""`reelflow prune`: free the disk of cache entries nobody used lately and, if asked, old reels.

Meant for cron (daily). A cache entry's last use is its completion mark's time, touched on every
hit; removing one only costs its recomputation (a Prefect result record without its folder is
never reused: tasks/prefect_task.py). Entries left incomplete by a crash go once they are as old.
Outputs are the users' finished reels, so they are kept unless `output_retention_days` is set.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from reelflow.settings import Settings
from reelflow.tasks.caching import COMPLETE_MARK, USERS

DAY_S = 86_400.0


@dataclass
class PruneReport:
    """What a prune removed (or would remove, on a dry run)."""

    cache_entries: list[Path] = field(default_factory=list)
    outputs: list[Path] = field(default_factory=list)
    freed_bytes: int = 0


def cache_entries(cache_dir: Path) -> list[Path]:
    """Every step work folder: ``<cache>/<step>/<key>`` and ``<cache>/users/<u>/<step>/<key>``."""
    if not cache_dir.is_dir():
        return []
    local = [p for p in cache_dir.glob("*/*") if p.is_dir() and p.parts[-2] != USERS]
    users = [p for p in cache_dir.glob(f"{USERS}/*/*/*") if p.is_dir()]
    return local + users


def last_use(entry: Path) -> float:
    """When the entry was last written or reused (its mark's time, else its folder's)."""
    mark = entry / COMPLETE_MARK
    return (mark if mark.exists() else entry).stat().st_mtime


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _newest(path: Path) -> float:
    times = [p.stat().st_mtime for p in path.rglob("*")]
    return max(times, default=path.stat().st_mtime)


def prune(
    settings: Settings,
    *,
    cache_days: float | None = None,
    output_days: float | None = None,
    dry_run: bool = False,
    now: float | None = None,
) -> PruneReport:
    """Remove cache entries unused for `cache_days` and outputs older than `output_days`
    (defaults: the settings; 0 keeps that kind)."""
    cache_days = settings.cache_retention_days if cache_days is None else cache_days
    output_days = settings.output_retention_days if output_days is None else output_days
    now = time.time() if now is None else now
    report = PruneReport()
    if cache_days > 0:
        for entry in cache_entries(settings.cache_dir):
            if now - last_use(entry) > cache_days * DAY_S:
                report.cache_entries.append(entry)
    if output_days > 0 and settings.output_dir.is_dir():
        for folder in settings.output_dir.iterdir():
            if folder.is_dir() and now - _newest(folder) > output_days * DAY_S:
                report.outputs.append(folder)
    for path in [*report.cache_entries, *report.outputs]:
        report.freed_bytes += _size(path)
        if not dry_run:
            shutil.rmtree(path, ignore_errors=True)
    return report
