"""`reelflow up` exits 1 when setup fails or a child dies, 0 on a requested stop; either way
nothing it started is left running."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reelflow.cli import app
from reelflow.deployments.stack import Stack


def started_by(data_dir: Path) -> list[int]:
    """Processes whose environment names `data_dir`: `reelflow up` and everything it started."""
    marker = f"REELFLOW_DATA_DIR={data_dir.resolve()}".encode()
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            environ = (proc / "environ").read_bytes()
        except OSError:  # gone, or not ours
            continue
        if marker in environ.split(b"\0"):
            found.append(int(proc.name))
    return found


def test_setup_failure_exits_1_and_stops_what_it_started(tmp_path):
    data = tmp_path / "data"
    env = dict(os.environ, REELFLOW_DATA_DIR=str(data), PREFECT_HOME=str(tmp_path / "home"))
    env.pop("PREFECT_API_URL", None)
    with socket.socket() as taken:  # the Prefect port is in use: the server exits at once
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        up = subprocess.run(
            [sys.executable, "-m", "reelflow.cli", "up", "--no-api", "--prefect-port", str(port)],
            env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert up.returncode == 1, up.stderr
    assert "prefect-server exited with code 1" in up.stderr
    assert time.monotonic() - started < 45  # not the 120 s health timeout
    assert "already in use" in (data / "logs" / "prefect-server.log").read_text()
    assert started_by(data) == []


@pytest.fixture
def up_with(monkeypatch, tmp_path):
    """Run `reelflow up` in this process with its children replaced by the given commands."""
    monkeypatch.setenv("REELFLOW_DATA_DIR", str(tmp_path / "data"))
    stacks: list[Stack] = []

    def invoke(**children: str):
        def start(self: Stack, log=print) -> None:
            stacks.append(self)
            for name, code in children.items():
                self._spawn(name, [sys.executable, "-c", code], self.environment())

        monkeypatch.setattr(Stack, "start", start)
        result = CliRunner().invoke(app, ["up", "--no-api"])
        return result, stacks[0].processes

    return invoke


def test_a_child_that_dies_stops_the_rest_and_exits_1(up_with):
    result, processes = up_with(
        **{"worker-cpu": "import sys, time; time.sleep(0.3); sys.exit(3)",
           "worker-gpu": "import time; time.sleep(60)"}
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "worker-cpu exited with code 3" in result.stderr
    assert processes["worker-gpu"].poll() is not None


def test_sigterm_is_a_clean_stop(up_with):
    leaked: list[int] = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: leaked.append(signum))
    try:
        started = time.monotonic()
        result, processes = up_with(
            worker="import os, signal, time; os.kill(os.getppid(), signal.SIGTERM); time.sleep(8)"
        )
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert leaked == []  # `up` handled the signal itself
    assert result.exit_code == 0, result.output
    assert "stopping" in result.stderr
    assert processes["worker"].poll() is not None
    assert time.monotonic() - started < 8  # stopped, not waited out


# A `reelflow up` whose children are stand-ins, run as its own process so that real signals
# reach it. Each child records the signal that stopped it.
_UP_SCRIPT = """
import sys, time
from reelflow.deployments.stack import Stack, StackConfig
from reelflow.settings import get_settings
CHILD = '''
import signal, sys, time
name = sys.argv[1]
def stop(signum, frame):
    open(name + ".stopped", "w").write(signal.Signals(signum).name)
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
    signal.signal(signal.SIGINT, stop)
open(name + ".ready", "w").write("")
time.sleep(120)
'''
def start(self, log=print):
    for name in ("prefect-server", "worker-cpu", "api"):
        self._spawn(name, [sys.executable, "-c", CHILD, name], self.environment())
Stack.start = start
stack = Stack(get_settings(), StackConfig(api_port=None))
print("failure:", stack.serve(log=print), flush=True)
"""


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # as a non-interactive shell starts `cmd &`


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_up_from_a_shell_that_ignores_sigint_stops_everything(tmp_path, signum):
    env = dict(
        os.environ, REELFLOW_DATA_DIR=str(tmp_path / "data"), REELFLOW_WORKER_STOP_GRACE_S="0"
    )
    up = subprocess.Popen(
        [sys.executable, "-c", _UP_SCRIPT], cwd=tmp_path, env=env, preexec_fn=_ignore_sigint,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    names = ("prefect-server", "worker-cpu", "api")
    deadline = time.monotonic() + 30
    while not all((tmp_path / f"{n}.ready").exists() for n in names):
        assert time.monotonic() < deadline and up.poll() is None, up.communicate()[0]
        time.sleep(0.1)
    started = time.monotonic()
    up.send_signal(signum)
    output, _ = up.communicate(timeout=30)
    assert up.returncode == 0, output
    assert time.monotonic() - started < 10
    assert "stopping" in output and "failure: None" in output
    # every child was stopped by a signal it handles (not left running, not killed blind)
    assert {n: (tmp_path / f"{n}.stopped").read_text() for n in names} == dict.fromkeys(
        names, "SIGTERM"
    )
    assert started_by(tmp_path / "data") == []
