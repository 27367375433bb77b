"""Hostile flow parameters: a crafted run cannot read or write outside the data folder.

The model-level cases check `flows.confine` directly; the last ones run `generate-reel` on a
real temporary Prefect server and assert the run fails cleanly, naming the field, and that
nothing was written outside the run's own folders.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reelflow.engine.errors import InputError
from reelflow.flows.confine import confine_output, confine_spec
from reelflow.models import parse_spec
from reelflow.settings import Settings
from tests import mediatools

SCRIPT = {"script": "Nothing to see here."}


@pytest.fixture
def roots(settings: Settings, tmp_path: Path) -> dict[str, Path]:
    mine = settings.uploads_dir / "u1"
    theirs = settings.uploads_dir / "u2"
    outside = tmp_path / "outside"
    for folder in (mine, theirs, outside, settings.output_dir):
        folder.mkdir(parents=True)
    for folder in (mine, theirs, outside):
        mediatools.solid_image(folder / "bg.png", "red")
    return {"mine": mine, "theirs": theirs, "outside": outside}


def _background(path: Path | str) -> dict:
    return SCRIPT | {"background": {"type": "image", "path": str(path)}}


def _refused(spec: dict, settings: Settings, field: str, user: str | None = "u1") -> str:
    with pytest.raises(InputError) as caught:
        confine_spec(parse_spec(spec), settings, user_id=user)
    assert caught.value.field == field
    return caught.value.reason


def test_own_upload_is_accepted_and_resolved(settings, roots):
    spec = confine_spec(parse_spec(_background(roots["mine"] / "bg.png")), settings, user_id="u1")
    assert spec.background.path == (roots["mine"] / "bg.png").resolve()


@pytest.mark.parametrize(
    "where",
    ["/etc/passwd", "/proc/self/environ", "outside/bg.png", "theirs/bg.png", "dotdot", "relative"],
)
def test_paths_outside_the_users_folder_are_refused(settings, roots, where):
    path = {
        "outside/bg.png": roots["outside"] / "bg.png",
        "theirs/bg.png": roots["theirs"] / "bg.png",
        "dotdot": roots["mine"] / ".." / "u2" / "bg.png",
        "relative": Path("uploads/u1/bg.png"),
    }.get(where, Path(where))
    reason = _refused(_background(path), settings, "background.path")
    assert "uploads folder" in reason


def test_symlink_escaping_the_folder_is_refused(settings, roots):
    link = roots["mine"] / "link.png"
    os.symlink(roots["outside"] / "bg.png", link)
    _refused(_background(link), settings, "background.path")
    folder_link = roots["mine"] / "sub"
    os.symlink(roots["outside"], folder_link)
    _refused(_background(folder_link / "bg.png"), settings, "background.path")


def test_every_file_field_is_checked(settings, roots):
    outside = str(roots["outside"] / "bg.png")
    voice = {"voiceover": outside, "transcript": "Hi there."}
    _refused(voice, settings, "voiceover")
    _refused(SCRIPT | {"music": {"preset": "auto", "file": outside}}, settings, "music.file")
    paths = [str(roots["mine"] / "bg.png"), outside]
    spec = SCRIPT | {"background": {"type": "image", "paths": paths}}
    _refused(spec, settings, "background.paths.1")


@pytest.mark.parametrize("user", ["..", ".", "u1/../u2", "", "a" * 65])
def test_a_user_id_cannot_widen_the_folder(settings, roots, user):
    _refused(_background(roots["theirs"] / "bg.png"), settings, "context.user_id", user)


def test_without_a_user_inputs_stay_in_the_data_folder(settings, roots):
    confine_spec(parse_spec(_background(roots["theirs"] / "bg.png")), settings, user_id=None)
    _refused(_background(roots["outside"] / "bg.png"), settings, "background.path", None)


@pytest.mark.parametrize(
    "target",
    ["/tmp/evil.mp4", "outputs/../evil.mp4", "outputs/x/reel.txt", "existing", "link/reel.mp4"],
)
def test_output_outside_the_outputs_folder_is_refused(settings, roots, target):
    out = settings.output_dir
    (out / "old").mkdir()
    (out / "old" / "reel.mp4").write_bytes(b"someone else's")
    os.symlink(roots["outside"], out / "link")
    path = {
        "outputs/../evil.mp4": out / ".." / "evil.mp4",
        "outputs/x/reel.txt": out / "x" / "reel.txt",
        "existing": out / "old" / "reel.mp4",
        "link/reel.mp4": out / "link" / "reel.mp4",
    }.get(target, Path(target))
    with pytest.raises(InputError) as caught:
        confine_output(path, settings)
    assert caught.value.field == "context.output"


def test_output_inside_the_outputs_folder_is_accepted(settings):
    target = settings.output_dir / "mine" / "reel.mp4"
    assert confine_output(target, settings) == target.resolve()
    assert confine_output(None, settings) is None


# --- the real flow on a real Prefect server ---------------------------------------------


@pytest.fixture
def flow_env(monkeypatch, tmp_path, prefix, prefect_server):
    monkeypatch.setenv("REELFLOW_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("REELFLOW_REDIS_KEY_PREFIX", prefix)
    monkeypatch.setenv("REELFLOW_ENABLE_GPU_ACCELERATION", "false")
    monkeypatch.setenv("REELFLOW_PROGRESS_FLUSH_TIMEOUT_S", "5")
    secret = tmp_path / "secret.png"
    mediatools.solid_image(secret, "blue")
    return tmp_path


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize(
    "field, spec, context",
    [
        ("background.path", "secret", {}),
        ("context.output", None, {"output": "escape"}),
        ("context.user_id", None, {"user_id": ".."}),
    ],
)
def test_crafted_flow_run_fails_cleanly(flow_env, field, spec, context):
    from reelflow.flows.reel import generate_reel
    from reelflow.flows.runtime import RunContext

    tmp = flow_env
    data = _background(tmp / "secret.png") if spec == "secret" else SCRIPT
    if context.get("output") == "escape":
        context = {"output": tmp / "escaped" / "reel.mp4"}
    context = {"user_id": "u1", **context}
    before = _files(tmp)
    state = generate_reel(parse_spec(data), RunContext(**context), return_state=True)
    assert state.is_failed()
    error = state.result(raise_on_failure=False)
    assert isinstance(error, InputError) and error.field == field
    written = _files(tmp) - before
    data_dir = (tmp / "data").resolve()
    assert all(p.resolve().is_relative_to(data_dir) for p in written), written
    assert not (tmp / "escaped").exists()
