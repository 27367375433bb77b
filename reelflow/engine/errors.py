"""The engine's one small error hierarchy.

`InputError` is the caller's fault and never worth retrying; `MediaError` is raised when a tool or
file misbehaves and may be transient. Alignment never fails on its own: where the decoder
cannot place words they are estimated from speech activity (and say so in their method).
"""


class ReelflowError(Exception):
    """Base class of every error the engine raises on purpose."""


class InputError(ReelflowError, ValueError):
    """Bad input: a missing file, an undecodable upload, an empty transcript, an unknown preset.

    `field` names the spec field at fault (dotted, e.g. ``music.file``) when there is one.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.reason = message

    def __reduce__(self):
        # Keyword-only fields survive pickling (results, child processes, Prefect states).
        return _rebuild, (type(self), (self.reason,), {"field": self.field})


class MediaError(ReelflowError):
    """A media tool failed (ffmpeg exited non-zero, was killed, or produced no output)."""

    def __init__(self, message: str, *, transient: bool = False, log_tail: str = "") -> None:
        super().__init__(message)
        self.transient = transient
        self.log_tail = log_tail

    def __reduce__(self):
        return _rebuild, (
            type(self),
            (str(self),),
            {"transient": self.transient, "log_tail": self.log_tail},
        )


def _rebuild(cls: type, args: tuple, kwargs: dict) -> Exception:
    return cls(*args, **kwargs)
