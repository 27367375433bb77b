"""The step cache is per user: the same bytes from two users give two entries, never one.

Runs the reel's real DAG in process (`run_reel`) with a run context naming the user, as the
flow does, on real Redis: user B's render of the same voice bytes as user A's must not reuse A's
results (which name A's upload), must keep working after A's file is gone, and must leave no
trace of A in B's cache. Within one user, a second render still hits the cache.
"""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import pytest

from reelflow.engine import ffmpeg
from reelflow.engine.speech.tts import synthesize_to_wav
from reelflow.flows.local import run_reel
from reelflow.flows.runtime import RunContext
from reelflow.models import parse_spec
from reelflow.settings import Settings
from reelflow.tasks.caching import remove_project_entries, user_cache_root

TEXT = "The same words from two people."
ALICE, BOB = "a11ce0000000a11c", "b0b0000000000b0b"


@pytest.fixture
def cache_settings(tmp_path: Path, prefix: str) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        enable_gpu_acceleration=False,
        redis_url="redis://127.0.0.1:6379/0",
        redis_key_prefix=prefix,
    )


def _upload(settings: Settings, user_id: str, name: str, source: Path) -> Path:
    folder = settings.uploads_dir / user_id
    folder.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copyfile(source, folder / name))


def _spec(voice: Path):
    return parse_spec(
        {
            "voiceover": str(voice),
            "transcript": TEXT,
            "music": {"preset": "none"},
            "effects": {"preset": "none"},
            "background": {"type": "color", "colors": ["#224466"]},
            "quality": "low",
        }
    )


def _render(settings: Settings, voice: Path, user_id: str, project_id: str, out: Path):
    context = RunContext(user_id=user_id, project_id=project_id, output=out)
    return run_reel(_spec(voice), context, settings=settings)


def _results(root: Path) -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in root.glob("*/*/result.pickle")}


def test_same_bytes_from_two_users_share_no_result_path_or_id(cache_settings, tmp_path):
    settings = cache_settings
    wav = tmp_path / "voice.wav"
    synthesize_to_wav(TEXT, wav)
    m4a = tmp_path / "voice.m4a"
    ffmpeg.run(["-loglevel", "error", "-i", str(wav), str(m4a)])
    alice_voice = _upload(settings, ALICE, "a0000000000000000000000000000001.m4a", m4a)
    bob_voice = _upload(settings, BOB, "b0000000000000000000000000000002.m4a", m4a)

    _render(settings, alice_voice, ALICE, "pa", tmp_path / "a.mp4")
    alice_voice.unlink()  # alice deletes her project: her upload goes

    result = _render(settings, bob_voice, BOB, "pb", tmp_path / "b.mp4")
    assert result.video.is_file() and result.words == len(TEXT.split())
    # Bob's voice was prepared from his own file, not taken from alice's entry.
    sources = {
        pickle.loads(p.read_bytes()).source
        for p in settings.cache_dir.rglob("prepare-voice/*/result.pickle")
    }
    assert sources == {alice_voice, bob_voice}

    bob_root = user_cache_root(settings.cache_dir, BOB)
    alice_root = user_cache_root(settings.cache_dir, ALICE)
    assert _results(bob_root) and _results(alice_root)
    (voice_result,) = bob_root.glob("prepare-voice/*/result.pickle")
    assert pickle.loads(voice_result.read_bytes()).source == bob_voice
    for path in bob_root.rglob("*"):  # nothing in bob's cache names alice
        if path.is_file():
            assert ALICE.encode() not in path.read_bytes(), path
    assert not list(settings.cache_dir.glob("prepare-voice/*"))  # no shared local entry

    # Within one user the cache still works: a second project of bob's hits every step.
    before = _results(bob_root)
    _render(settings, bob_voice, BOB, "pb2", tmp_path / "b2.mp4")
    assert _results(bob_root) == before


def test_deleting_a_project_drops_its_entries_and_no_one_elses(cache_settings, tmp_path):
    settings = cache_settings
    wav = tmp_path / "voice.wav"
    synthesize_to_wav(TEXT, wav)
    alice_voice = _upload(settings, ALICE, "a0000000000000000000000000000003.wav", wav)
    bob_voice = _upload(settings, BOB, "b0000000000000000000000000000004.wav", wav)
    _render(settings, alice_voice, ALICE, "pa", tmp_path / "a.mp4")
    _render(settings, bob_voice, BOB, "pb", tmp_path / "b.mp4")
    bob_before = _results(user_cache_root(settings.cache_dir, BOB))

    removed = remove_project_entries(settings.cache_dir, ALICE, "pa")
    assert removed
    assert not _results(user_cache_root(settings.cache_dir, ALICE))
    assert _results(user_cache_root(settings.cache_dir, BOB)) == bob_before
    assert remove_project_entries(settings.cache_dir, BOB, "pa") == []  # not bob's project
