"""Run one engine function in a child Python process: ``call_in_child(align_file, path, text)``.

Why a process and not a thread: pocketsphinx's decoder holds Python's GIL for a whole call
(about 0.5 s for 30 s of speech), so on a thread it stalls every step running beside it (music
analysis, voice analysis, the mix's bookkeeping). In a child it runs on the other core. The
child costs a Python start-up (~0.25 s, off the critical path while the music is analysed).

The function is named by module and qualified name; arguments, the result and any exception
travel pickled over the child's stdin and stdout (our own process, so pickle is safe). The
child's stdout is kept for the result: anything the function prints goes to its stderr.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from reelflow.engine.errors import MediaError

T = TypeVar("T")
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


def call_in_child(
    fn: Callable[..., T], /, *args: Any, timeout_s: float = 600.0, **kwargs: Any
) -> T:
    """`fn(*args, **kwargs)` in a fresh Python process; return its result or raise its error.

    Raises `MediaError` when the child dies without an answer (killed, out of memory) or
    takes longer than `timeout_s`.
    """
    payload = pickle.dumps((fn.__module__, fn.__qualname__, args, kwargs), pickle.HIGHEST_PROTOCOL)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH")) if p)
    proc = subprocess.Popen(
        [sys.executable, "-m", "reelflow.engine.child"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        out, err = proc.communicate(payload, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise MediaError(f"{fn.__qualname__} took longer than {timeout_s:.0f} s") from None
    finally:
        if proc.poll() is None:  # interrupted or timed out: never leave the child running
            proc.kill()
            proc.wait()
    try:
        ok, value = pickle.loads(out)
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError):
        last = err.decode(errors="replace").strip().splitlines()[-1:] or [""]
        raise MediaError(
            f"{fn.__qualname__} stopped without an answer (exit {proc.returncode}) {last[0]}"
        ) from None
    if ok:
        return value
    raise value


def _serve() -> None:
    """The child's side: read the call from stdin, write (ok, result or error) to stdout."""
    import importlib

    out = sys.stdout.buffer
    sys.stdout = sys.stderr  # keep stdout for the answer alone
    module, qualname, args, kwargs = pickle.loads(sys.stdin.buffer.read())
    fn: Any = importlib.import_module(module)
    for part in qualname.split("."):
        fn = getattr(fn, part)
    try:
        answer = (True, fn(*args, **kwargs))
    except Exception as exc:
        answer = (False, exc)
    try:
        data = pickle.dumps(answer, pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # an unpicklable result or error: report it as text
        data = pickle.dumps((False, MediaError(f"{qualname}: {answer[1]!r} ({exc})")))
    out.write(data)
    out.flush()


if __name__ == "__main__":
    _serve()
