"""Identifying videos by content: sha256 of a file's bytes, or of a frame folder's names and bytes."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from derrvos_core.errors import VideoError

CHUNK_BYTES = 1 << 20


def content_hash(path: str | os.PathLike) -> str:
    """sha256 hex digest, streamed (flat memory for any size)."""
    path = Path(path)
    digest = hashlib.sha256()
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        if not files:
            raise VideoError(f"frame folder {path} holds no files")
        for file in files:
            # The name is hashed too, so reordering frames gives another video.
            digest.update(file.name.encode("utf-8", "surrogateescape") + b"\0")
            _update(digest, file)
    elif path.is_file():
        _update(digest, path)
    else:
        raise VideoError(f"video {path} does not exist")
    return digest.hexdigest()


def _update(digest, file: Path) -> None:
    with open(file, "rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            digest.update(chunk)


def default_frame_names(path: str | os.PathLike, num_frames: int) -> list[str]:
    """A frame folder's file stems in the order the video reader reads them, else 00000, 00001, ..."""
    if Path(path).is_dir():
        from derrvos_core.video import open_video
        with open_video(path) as reader:
            names = reader.frame_names
        if len(names) == num_frames:
            return names
    return [f"{i:05d}" for i in range(num_frames)]
