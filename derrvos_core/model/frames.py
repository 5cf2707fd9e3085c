"""Where inference reads frames from: a video path, a uint8 array, or an open VideoReader."""
from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from derrvos_core.errors import InputError, VideoError
from derrvos_core.video import open_video


class ArrayFrames:
    """uint8 [T, H, W, 3] frames already in memory, read like a VideoReader (`len`, `read`, sizes)."""

    def __init__(self, frames: np.ndarray):
        self.array = frames
        self.num_frames, self.height, self.width = frames.shape[:3]

    def __len__(self) -> int:
        return self.num_frames

    def read(self, start: int, stop: int) -> np.ndarray:
        return self.array[start:stop]


def check_video(video) -> None:
    """Fail early, naming the cause, for a video that cannot be segmented."""
    if isinstance(video, (str, os.PathLike)):
        if not Path(video).exists():
            raise VideoError(f"{video}: no such video file or frame folder")
        return
    if isinstance(video, np.ndarray):
        if video.dtype != np.uint8 or video.ndim != 4 or video.shape[-1] != 3:
            raise InputError(f"video frames must be uint8 [T, H, W, 3] RGB, got {video.dtype} {video.shape}")
        if video.shape[0] == 0 or min(video.shape[1:3]) == 0:
            raise InputError(f"the video has no pixels: shape {video.shape}")
        return
    if not (hasattr(video, "read") and hasattr(video, "info")):
        raise InputError(f"video must be a path, a uint8 [T, H, W, 3] array or a VideoReader, "
                         f"got {type(video).__name__}")


@contextlib.contextmanager
def open_frames(video) -> Iterator[tuple[object, int, int, int]]:
    """(reader, num_frames, height, width); a path is opened here and closed on exit, a reader
    passed in is left open for its owner."""
    check_video(video)
    if isinstance(video, np.ndarray):
        yield ArrayFrames(video), *video.shape[:3]
        return
    if isinstance(video, (str, os.PathLike)):
        with open_video(video) as reader:
            yield reader, reader.info.num_frames, reader.info.height, reader.info.width
        return
    yield video, video.info.num_frames, video.info.height, video.info.width
