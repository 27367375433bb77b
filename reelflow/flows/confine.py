"""Flow parameters are untrusted: a run reads and writes only inside the data folder.

Anyone who can create a flow run (through the Prefect API, or a compromised API process) chooses
the `ReelSpec` paths and `RunContext.output`. Without a check, a crafted run renders any file the
worker can read (``background.path: /etc/shadow`` as an "image") and writes its video anywhere the
worker can write. So every path is resolved (following symlinks, ``..`` and all) and must land:

- inputs: inside ``<uploads>/<user_id>/`` when the run names a user (the API always does), else
  inside the data folder;
- the output: inside ``<data>/outputs/``, as a new ``.mp4`` file.

A symlink inside the folder that points out of it is refused like the path it points to. The only
runs exempt are the CLI's own in-process ones (``trusted_local``): their caller is the person at
the keyboard, who can read those files anyway; a deployment run is never exempt.
"""

from __future__ import annotations

import re
from contextvars import ContextVar
from pathlib import Path

from reelflow.engine.errors import InputError
from reelflow.models import ReelSpec
from reelflow.settings import Settings

_USER_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

# Set only by the CLI around a flow it runs in its own process, on files its user named.
trusted_local: ContextVar[bool] = ContextVar("reelflow_trusted_local", default=False)


def _inside(path: Path, root: Path, field: str, what: str) -> Path:
    try:
        resolved = path.resolve(strict=False)
    except (OSError, RuntimeError) as exc:  # a symlink loop, a name too long
        raise InputError(f"cannot resolve {path}: {exc}", field=field) from None
    if not path.is_absolute() or not resolved.is_relative_to(root):
        raise InputError(f"must be a file inside {what}", field=field)
    return resolved


def input_root(settings: Settings, user_id: str | None) -> Path:
    """The folder a run's input files must be in: the user's uploads, or the data folder."""
    if user_id is None:
        return settings.data_dir.resolve()
    if not _USER_ID.match(user_id):  # no "..", "." or separators: one folder under uploads
        raise InputError("is not a valid user id", field="context.user_id")
    return (settings.uploads_dir / user_id).resolve()


def confine_spec(spec: ReelSpec, settings: Settings, *, user_id: str | None) -> ReelSpec:
    """`spec` with every input path resolved; `InputError` naming the field if one escapes."""
    root = input_root(settings, user_id)
    what = "the user's uploads folder" if user_id is not None else "the data folder"
    fixed = {field: _inside(path, root, field, what) for field, path in spec.input_files().items()}
    if not fixed:
        return spec
    background = spec.background.model_copy(
        update={
            "path": fixed.get("background.path"),
            "paths": [fixed[f"background.paths.{i}"] for i in range(len(spec.background.paths))],
        }
    )
    return spec.model_copy(
        update={
            "voiceover": fixed.get("voiceover"),
            "music": spec.music.model_copy(update={"file": fixed.get("music.file")}),
            "background": background,
        }
    )


def confine_output(output: Path | None, settings: Settings) -> Path | None:
    """`output` resolved inside ``<data>/outputs/``; `InputError` on ``context.output`` if not.

    An existing file is refused too: a run must not overwrite what another run (or user) made.
    """
    if output is None:
        return None
    field = "context.output"
    root = settings.output_dir.resolve()
    resolved = _inside(output, root, field, "the outputs folder")
    if resolved.suffix.lower() != ".mp4":
        raise InputError("must name an .mp4 file", field=field)
    if output.is_symlink() or resolved.exists():
        raise InputError("must not name an existing file", field=field)
    return resolved


def aspect_target(main: Path, aspect: str) -> Path:
    """Where the video of a further aspect goes: beside the main one (``reel-1x1.mp4``).

    Here, not in the DAG, so the API can name renditions without importing the steps."""
    return main.with_name(f"{main.stem}-{aspect.replace(':', 'x')}{main.suffix}")
