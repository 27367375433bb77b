"""`reelflow prune`: cache entries unused for the retention go, used ones stay (a hit renews
them), outputs go only when asked, a dry run removes nothing."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from reelflow.commands.prune import DAY_S, prune
from reelflow.settings import Settings
from reelflow.tasks.caching import COMPLETE_MARK, mark_complete
from reelflow.tasks.step import load_result, save_result


def _entry(root: Path, *parts: str, age_days: float, complete: bool = True) -> Path:
    folder = root.joinpath(*parts)
    folder.mkdir(parents=True)
    (folder / "voice.wav").write_bytes(b"x" * 1000)
    if complete:
        save_result(folder, {"ok": True})
        mark_complete(folder)
    old = time.time() - age_days * DAY_S
    for path in [*folder.iterdir(), folder]:
        os.utime(path, (old, old))
    return folder


def _outputs(settings: Settings, task_id: str, age_days: float) -> Path:
    folder = settings.output_dir / task_id
    folder.mkdir(parents=True)
    video = folder / "reel.mp4"
    video.write_bytes(b"v" * 5000)
    old = time.time() - age_days * DAY_S
    os.utime(video, (old, old))
    os.utime(folder, (old, old))
    return folder


def test_unused_entries_go_and_used_ones_stay(tmp_path):
    settings = Settings(data_dir=tmp_path / "data")
    cache = settings.cache_dir
    stale = _entry(cache, "prepare-voice", "a" * 48, age_days=40)
    fresh = _entry(cache, "prepare-voice", "b" * 48, age_days=2)
    theirs = _entry(cache, "users", "u1", "align-words", "c" * 48, age_days=45)
    reused = _entry(cache, "users", "u1", "align-words", "d" * 48, age_days=45)
    broken = _entry(cache, "render-reel", "e" * 48, age_days=31, complete=False)
    hit, value = load_result(reused)  # a cache hit renews the entry
    assert hit and value == {"ok": True}
    old_reel = _outputs(settings, "t-old", age_days=400)

    dry = prune(settings, dry_run=True)
    assert set(dry.cache_entries) == {stale, theirs, broken} and dry.freed_bytes > 3000
    assert stale.exists() and theirs.exists()

    report = prune(settings)
    assert set(report.cache_entries) == {stale, theirs, broken}
    assert not stale.exists() and not theirs.exists() and not broken.exists()
    assert fresh.exists() and (reused / COMPLETE_MARK).exists()
    assert old_reel.exists() and report.outputs == []  # reels are kept unless asked

    report = prune(settings, output_days=365)
    assert report.outputs == [old_reel] and not old_reel.exists()


def test_the_command_reports_what_it_freed(tmp_path):
    data = tmp_path / "data"
    _entry(Settings(data_dir=data).cache_dir, "plan-mix", "f" * 48, age_days=10)
    env = dict(os.environ, REELFLOW_DATA_DIR=str(data))
    run = [sys.executable, "-m", "reelflow.cli", "prune"]
    kept = subprocess.run(run, env=env, capture_output=True, text=True, timeout=60)
    assert kept.returncode == 0 and "0 cache entries" in kept.stdout, kept.stderr
    done = subprocess.run([*run, "--cache-days", "7"], env=env, capture_output=True, text=True,
                          timeout=60)  # fmt: skip
    assert done.returncode == 0 and "freed" in done.stdout and "1 cache entries" in done.stdout
    bad = subprocess.run([*run, "--cache-days", "-1"], env=env, capture_output=True, text=True,
                         timeout=60)  # fmt: skip
    assert bad.returncode != 0 and "--cache-days" in bad.stderr
