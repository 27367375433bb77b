"""`@step`: a pure reel step, written once, that runs as a cached, retryable task.

A step is a plain function of keyword arguments. Declaring ``out_dir`` in its signature asks for
a content-addressed work folder (``<data>/cache/[users/<user>/]<step>/<key>/``), handed to it by
whoever runs it. The same `Step` object runs in two ways without a line of its own repeated:

* `Step.task` is the Prefect task (built on first use, so importing steps never imports
  Prefect): caching by `cache_key`, retries of transient failures, result persistence.
* `reelflow.flows.local` calls `Step.fn` in this process with the same key, folder, retry
  policy and failure rules, for CLI runs that have no Prefect server to report to.

The key covers the step's name, its content parameters (files by their bytes), the user the run
is for (`CacheScope`: one user's results, paths and ids never reach another's runs) and the
digest of the code it can run (`code_digest`), so results made by older code are never reused.
"""

from __future__ import annotations

import functools
import inspect
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reelflow.engine.ffmpeg import atomic_output
from reelflow.settings import Settings
from reelflow.tasks.caching import LOCAL, CacheScope, content_key, mark_complete, mark_used
from reelflow.tasks.code_digest import code_digest
from reelflow.tasks.faults import maybe_fail
from reelflow.tasks.retries import RETRIES, RETRY_DELAYS_S, RETRY_JITTER, is_transient_error

RESULT_FILE = "result.pickle"


class Step:
    """One node of the reel's DAG: a pure function plus how it is cached and retried."""

    def __init__(self, name: str, fn: Callable[..., Any], *, cached: bool, retries: int) -> None:
        self.name = name
        self.fn = fn
        self.cached = cached
        self.retries = retries
        self.retry_delays_s = tuple(RETRY_DELAYS_S[:retries])
        self.retry_jitter = RETRY_JITTER
        self.__doc__ = fn.__doc__
        self.__wrapped__ = fn
        self._task = None

    def __repr__(self) -> str:
        return f"Step({self.name!r})"

    def wants(self, parameter: str) -> bool:
        """Whether the step asks for `parameter` (``out_dir`` or ``settings``) from its runner."""
        return parameter in inspect.signature(self.fn).parameters

    @functools.cached_property
    def code(self) -> str:
        """Digest of the code this step runs (see `code_digest`)."""
        return code_digest(self.fn)

    def cache_key(self, parameters: dict[str, Any], scope: CacheScope = LOCAL) -> str:
        """The key of this step's result for `parameters` in `scope` (the run's user):
        content digests + namespace + code digest."""
        return f"{content_key(self.name, parameters, namespace=scope.namespace)}{self.code}"

    def folder(
        self, settings: Settings, parameters: dict[str, Any], scope: CacheScope = LOCAL
    ) -> Path:
        """The step's work folder for `parameters` in `scope`: one per key, so code changes
        get new ones, and under the user's own cache folder."""
        return scope.root(settings.cache_dir) / self.name / self.cache_key(parameters, scope)

    def call(
        self,
        settings: Settings,
        parameters: dict[str, Any],
        *,
        attempt: int = 1,
        scope: CacheScope = LOCAL,
    ) -> Any:
        """Run the step once (the body of both runners); a cached step keeps its result in
        its work folder, which a step that writes files also gets as ``out_dir``."""
        maybe_fail(settings, self.name, attempt)
        extra = {"settings": settings} if self.wants("settings") else {}
        if not self.cached:
            return self.fn(**parameters, **extra)
        folder = self.folder(settings, parameters, scope)
        folder.mkdir(parents=True, exist_ok=True)
        if self.wants("out_dir"):
            extra["out_dir"] = folder
        result = self.fn(**parameters, **extra)
        save_result(folder, result)
        mark_complete(folder)
        return result

    @property
    def task(self):
        """The Prefect task of this step (built once, on first use: importing a step module
        never imports Prefect)."""
        if self._task is None:
            from reelflow.tasks.prefect_task import build_task

            self._task = build_task(self)
        return self._task

    def should_retry(self, error: BaseException) -> bool:
        """Whether `error` is worth another attempt (transient I/O or media trouble)."""
        return self.retries > 0 and is_transient_error(error)


def step(name: str, *, cached: bool = True, retries: int = RETRIES) -> Callable[..., Step]:
    """Make a pure function a reel step: ``@step("align-words")``."""

    def wrap(fn: Callable[..., Any]) -> Step:
        params = inspect.signature(fn).parameters.values()
        positional = [p.name for p in params if p.kind is not inspect.Parameter.KEYWORD_ONLY]
        if positional:
            raise TypeError(f"step {name}: parameters must be keyword-only: {positional}")
        return Step(name, fn, cached=cached, retries=retries)

    return wrap


def save_result(folder: Path, result: Any) -> None:
    """Keep `result` beside the step's files, so a run without Prefect can reuse it."""
    with atomic_output(folder / RESULT_FILE) as tmp:
        tmp.write_bytes(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))


def load_result(folder: Path) -> tuple[bool, Any]:
    """(True, result) if `folder` holds a complete, readable result; (False, None) otherwise."""
    if not mark_used(folder):
        return False, None
    try:
        return True, pickle.loads((folder / RESULT_FILE).read_bytes())
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
        return False, None  # written by other code, or damaged: compute again
