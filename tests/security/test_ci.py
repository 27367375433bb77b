"""CI cannot lie: under CI=true a missing service fails the test; elsewhere it skips loudly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
from tests.services import missing_service

def test_needs_a_service():
    missing_service("NOT RUN: the service is down")
"""


@pytest.mark.parametrize("ci, outcome", [("true", "1 failed"), ("", "1 skipped")])
def test_missing_service_fails_under_ci(tmp_path, ci, outcome):
    probe = ROOT / "tests" / f"test_probe_{os.getpid()}_{ci or 'local'}.py"
    probe.write_text(PROBE)
    try:
        env = {**os.environ, "CI": ci}
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(probe)],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    finally:
        probe.unlink()
    assert outcome in done.stdout, done.stdout
    assert (done.returncode != 0) == (ci == "true")


def test_ci_script_fails_rather_than_warns():
    script = (ROOT / ".ci" / "run").read_text()
    assert "WARNING" not in script and "export CI=true" in script
    assert script.count("die ") >= 5
