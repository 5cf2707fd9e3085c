"""Errors the project raises on bad input. Each names what was wrong and where."""


class DeRVOSError(Exception):
    """Base class of every error the project raises on purpose."""


class VideoError(DeRVOSError):
    """A video file or frame folder cannot be read: missing, empty, corrupt or not a video."""


class InputError(DeRVOSError, ValueError):
    """An argument is out of range or malformed (frames, sizes, expressions, settings)."""


class CheckpointError(DeRVOSError):
    """A checkpoint is missing, unreadable, of the wrong kind, or its keys do not match the model."""

    def __init__(self, message: str, missing: list[str] | None = None, unexpected: list[str] | None = None):
        self.missing = list(missing or [])
        self.unexpected = list(unexpected or [])
        parts = [message]
        if self.missing:
            parts.append(f"missing keys ({len(self.missing)}): {_preview(self.missing)}")
        if self.unexpected:
            parts.append(f"unexpected keys ({len(self.unexpected)}): {_preview(self.unexpected)}")
        super().__init__("; ".join(parts))


class ModelError(DeRVOSError):
    """A model produced something unusable (non-finite scores): its weights or inputs are broken."""


class StoreError(DeRVOSError):
    """The store could not save (full disk, lost connection, a value its backend cannot hold).

    Nothing of that save was written (each save is one transaction); the caller still holds what it tried
    to save and may save it again. `reason` is the short cause ("no space left on the disk")."""

    def __init__(self, message: str, reason: str = ""):
        self.reason = reason
        super().__init__(message)


class DatasetError(DeRVOSError):
    """An annotation file is malformed; the message names the file and the key."""


def _preview(keys: list[str], limit: int = 12) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f", ... (+{len(keys) - limit} more)" if len(keys) > limit else "")
