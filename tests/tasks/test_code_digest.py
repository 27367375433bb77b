"""Cache keys follow the code: an edit to a step's code changes its key and only its key."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from reelflow.tasks import music, picture, voice
from reelflow.tasks.caching import content_key
from reelflow.tasks.code_digest import PACKAGE_ROOT, code_digest, reachable_modules

STEPS = {
    "prepare-voice": voice.prepare_voice,
    "align-words": voice.align_words,
    "analyze-voice": voice.analyze_voice,
    "prepare-music": music.prepare_music,
    "analyze-music": music.analyze_music,
    "plan-mix": music.plan_audio_mix,
    "build-captions": picture.build_captions,
    "plan-effects": picture.plan_effects,
    "render-reel": picture.render_reel,
}


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the reelflow sources to edit."""
    shutil.copytree(PACKAGE_ROOT / "reelflow", tmp_path / "reelflow",
                    ignore=shutil.ignore_patterns("__pycache__", "static", "assets"))  # fmt: skip
    return tmp_path


def _digests(root: Path) -> dict[str, str]:
    return {name: code_digest(s.fn, source_root=root) for name, s in STEPS.items()}


def _edit(root: Path, module: str, line: str) -> None:
    path = root / Path(*module.split(".")).with_suffix(".py")
    path.write_text(path.read_text() + f"\n{line}\n")


def test_an_unchanged_tree_keeps_every_key(tree):
    assert _digests(tree) == _digests(PACKAGE_ROOT) == _digests(tree)
    assert all(STEPS[n].code == d for n, d in _digests(PACKAGE_ROOT).items())


def test_a_captions_edit_changes_the_captions_key_and_leaves_the_voice_alone(tree):
    before = _digests(tree)
    _edit(tree, "reelflow.engine.captions.layout", "WRAP_SLACK = 0.97")
    after = _digests(tree)
    changed = {name for name in STEPS if before[name] != after[name]}
    assert "build-captions" in changed
    assert {"prepare-voice", "align-words", "analyze-voice", "plan-mix"}.isdisjoint(changed)


def test_the_render_key_follows_the_captions_it_is_given(tmp_path):
    # The render reads the captions file: new captions (from new caption code) mean a new key.
    first, second = tmp_path / "a.ass", tmp_path / "b.ass"
    first.write_text("[Script Info]\nTitle: one\n")
    second.write_text("[Script Info]\nTitle: two\n")
    assert content_key("render-reel", {"captions": first}) != content_key(
        "render-reel", {"captions": second}
    )


def test_an_alignment_edit_changes_only_the_words_key(tree):
    before = _digests(tree)
    _edit(tree, "reelflow.engine.alignment.refine", "EDGE_SEARCH_S = 0.05")
    after = _digests(tree)
    assert {n for n in STEPS if before[n] != after[n]} == {"align-words"}


def test_a_render_edit_changes_the_render_key(tree):
    before = _digests(tree)
    _edit(tree, "reelflow.engine.render.graph", "POSTER_AT = 0.5")
    after = _digests(tree)
    assert before["render-reel"] != after["render-reel"]
    assert before["build-captions"] == after["build-captions"]


def test_a_mix_edit_changes_the_mix_key_not_the_music_analysis(tree):
    before = _digests(tree)
    _edit(tree, "reelflow.engine.render.mix", "GAIN_PASSES_MAX = 3")
    after = _digests(tree)
    assert before["plan-mix"] != after["plan-mix"]
    assert before["analyze-music"] == after["analyze-music"]
    assert before["align-words"] == after["align-words"]


def test_reachable_modules_follow_imports_transitively():
    found = reachable_modules(["reelflow.engine.captions.ass"])
    assert {"reelflow.engine.captions.layout", "reelflow.engine.captions.fonts",
            "reelflow.engine.timing", "reelflow.presets"} <= found  # fmt: skip
    assert not any(m.startswith("reelflow.engine.alignment") for m in found)


def test_imports_are_found_in_every_form(tree):
    # Multi-line, aliased, lazy (indented) and plain imports all count; a mention in a comment
    # after the import list does not hide the modules before it.
    module = tree / "reelflow" / "engine" / "probe_imports.py"
    module.write_text(
        "from reelflow.engine.music import (\n    beats,  # the tracker\n    ducking,\n)\n"
        "import reelflow.engine.timing as timing\n"
        "def lazy():\n    from reelflow.engine.captions import fonts as f, layout\n"
    )
    found = reachable_modules(["reelflow.engine.probe_imports"], root=tree)
    assert {
        "reelflow.engine.music.beats",
        "reelflow.engine.music.ducking",
        "reelflow.engine.timing",
        "reelflow.engine.captions.fonts",
        "reelflow.engine.captions.layout",
    } <= found


def test_every_process_gives_a_step_the_same_key():
    """Workers run each flow in a new process, each with its own hash seed: the digest must not
    follow set order (it did, and a re-render re-ran prepare-voice for no reason)."""
    import subprocess
    import sys

    program = (
        "from reelflow.tasks import music, picture, voice\n"
        "from reelflow.tasks.step import Step\n"
        "for module in (music, picture, voice):\n"
        "    for s in vars(module).values():\n"
        "        if isinstance(s, Step):\n"
        "            print(s.name, s.code)\n"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", program],
            env={**os.environ, "PYTHONHASHSEED": str(seed)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in (1, 2, 3, 4)
    }
    assert len(digests) == 1, digests
