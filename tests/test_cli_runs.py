"""The CLI as a user runs it: a real process, no Prefect server, fast start, clean Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reelflow.engine.ffmpeg import probe

BIN = Path(sys.executable).parent / "reelflow"
HEAVY = ("prefect", "numpy", "pydantic", "librosa", "scipy", "sqlalchemy", "fastapi", "redis")


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if "PREFECT_API_URL" not in k}
    return env | {"REELFLOW_DATA_DIR": str(tmp_path / "data"), "PYTHONUNBUFFERED": "1"}


def _modules_after(code: str) -> set[str]:
    probe_code = f"{code}\nimport sys\nprint('MODULES', *sorted(sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe_code], capture_output=True, text=True,
                         check=True, timeout=60)  # fmt: skip
    line = next(x for x in out.stdout.splitlines() if x.startswith("MODULES "))
    return {m.split(".")[0] for m in line.split()[1:]}


def test_help_imports_only_the_command_line():
    loaded = _modules_after("from reelflow.cli import app\napp(['--help'], standalone_mode=False)")
    assert not loaded & set(HEAVY), loaded & set(HEAVY)


def test_presets_and_align_import_only_what_they_use():
    # Running any command makes typer itself import pydantic (for its parameter types).
    heavy = set(HEAVY) - {"pydantic"}
    loaded = _modules_after("from reelflow.cli import app\napp(['presets'], standalone_mode=False)")
    assert not loaded & heavy, loaded & heavy
    align_help = "try:\n    app(['align', '--help'])\nexcept SystemExit:\n    pass"
    loaded = _modules_after(f"from reelflow.cli import app\n{align_help}")
    assert not loaded & {"prefect", "fastapi", "sqlalchemy", "librosa", "redis"}


def test_a_flow_run_process_does_not_import_what_only_some_reels_use():
    """Each flow run starts a new process: face tracking's scipy.signal and OpenCV (~0.8 s)
    load only for reels of the user's own video."""
    loaded = _modules_after("import reelflow.flows.reel")
    assert not loaded & {"scipy.signal", "scipy.ndimage", "cv2"}, loaded


def test_render_without_a_server_never_imports_prefect(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text("script: No server needed.\nquality: low\nmusic: {preset: none}\n")
    code = (
        "import sys\nfrom reelflow.cli import app\n"
        f"try:\n    app(['render', {str(spec)!r}, '-o', {str(tmp_path / 'r.mp4')!r}])\n"
        "except SystemExit as exc:\n    assert not exc.code, exc.code\n"
        "assert 'prefect' not in sys.modules, 'prefect was imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], env=_env(tmp_path), capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    info = probe(tmp_path / "r.mp4")
    assert (info.video.width, info.video.height) == (540, 960)


@pytest.mark.parametrize("after_s", [0.8, 3.0])
def test_ctrl_c_stops_with_one_line_and_no_output(tmp_path, after_s):
    out = tmp_path / "demo.mp4"
    proc = subprocess.Popen(
        [str(BIN), "demo", "--quality", "low", "-o", str(out)], env=_env(tmp_path),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    time.sleep(after_s)
    os.killpg(proc.pid, signal.SIGINT)  # as a terminal does: the whole process group
    output, _ = proc.communicate(timeout=60)
    if proc.returncode == 0:
        pytest.skip("the demo finished before the interrupt")  # a very fast machine
    assert proc.returncode == 130, output
    assert "Traceback" not in output
    assert [line for line in output.splitlines() if line.strip()][-1] == "error: interrupted"
    assert not out.exists()
