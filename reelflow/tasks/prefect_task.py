"""A `Step` as a Prefect task: its key, retries and persisted result, for the `generate-reel` flow.

No Prefect timeouts: sync tasks run in worker threads, where Prefect cannot interrupt them.
Long steps enforce their own limits where the work happens (the render's ffmpeg timeout scales
with the reel's length and quality).
"""

from __future__ import annotations

import inspect
import uuid
from typing import TYPE_CHECKING, Any

from prefect import task
from prefect.cache_policies import NO_CACHE, CacheKeyFnPolicy
from prefect.context import TaskRunContext

from reelflow.settings import Settings
from reelflow.tasks.caching import LOCAL, CacheScope, mark_used
from reelflow.tasks.retries import is_transient

if TYPE_CHECKING:
    from reelflow.tasks.step import Step


def build_task(step: Step):
    """The Prefect task that runs `step` with its content key, retries and work folder."""

    def body(**parameters: Any) -> Any:
        settings = parameters.pop("settings")
        scope = parameters.pop("cache_scope", None) or LOCAL
        ctx = TaskRunContext.get()
        attempt = ctx.task_run.run_count if ctx is not None else 1
        return step.call(settings, parameters, attempt=max(1, attempt), scope=scope)

    # Prefect binds and shows the step's own parameters, plus the settings it runs with and
    # whose cache it uses.
    params = list(inspect.signature(step.fn).parameters.values())
    params = [p for p in params if p.name not in ("out_dir", "settings")]
    params.append(
        inspect.Parameter("settings", inspect.Parameter.KEYWORD_ONLY, annotation=Settings)
    )
    params.append(
        inspect.Parameter(
            "cache_scope", inspect.Parameter.KEYWORD_ONLY, annotation=CacheScope, default=None
        )
    )
    body.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    body.__name__ = body.__qualname__ = step.fn.__name__
    body.__doc__ = step.fn.__doc__
    body.__module__ = step.fn.__module__
    options: dict[str, Any] = {"name": step.name}
    if step.cached:
        options.update(
            cache_policy=CacheKeyFnPolicy(cache_key_fn=_key_fn(step)),
            persist_result=True,
        )
    else:
        options.update(cache_policy=NO_CACHE)
    if step.retries:
        options.update(
            retries=step.retries,
            retry_delay_seconds=list(step.retry_delays_s),
            retry_jitter_factor=step.retry_jitter,
            retry_condition_fn=is_transient,
        )
    return task(**options)(body)


def _key_fn(step: Step):
    def key(context, parameters: dict[str, Any]) -> str:
        settings = parameters.get("settings")
        scope = parameters.get("cache_scope") or LOCAL
        content = {k: v for k, v in parameters.items() if k not in ("settings", "cache_scope")}
        value = step.cache_key(content, scope)
        if settings is None:
            return value
        folder = step.folder(settings, content, scope)
        scope.note_use(folder)  # hit or miss, the project now depends on this entry
        if mark_used(folder):
            return value
        from reelflow.tasks.storage import has_record

        if has_record(settings, value):
            # A result is recorded but the files behind it are gone: do not reuse it.
            return f"{value}-rebuild-{uuid.uuid4().hex}"
        return value

    return key
