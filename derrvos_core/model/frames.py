"""Where inference reads frames from: a video path, a uint8 array, or an open VideoReader."""
from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
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


class ReadAhead:
    """Reads a video's crops in order, decoding the next crop on a worker thread meanwhile.

    PyAV (FFmpeg) and PIL decode without holding the GIL, so while the model works on crop i, crop
    i + 1 is decoded on the other core. The next crop is read ahead only after a crop was actually
    read: when a cache holds everything a crop needs, nothing is decoded at all. At most one crop is
    in flight, so memory stays flat. An error in a crop read ahead surfaces when that crop is read.
    Use as a context manager (or call `close`) before the reader closes.
    """

    def __init__(self, reader, num_frames: int, crop_size: int):
        self.reader, self.num_frames, self.crop_size = reader, int(num_frames), int(crop_size)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="derrvos-read-ahead")
        self._pending: tuple[int, int, Future] | None = None

    def read(self, start: int, stop: int) -> np.ndarray:
        """uint8 [stop - start, H, W, 3]; then starts decoding stop .. stop + crop_size."""
        frames = None
        if self._pending is not None:
            begin, end, future = self._pending
            self._pending = None
            if (begin, end) == (start, stop):
                frames = future.result()
            else:
                future.cancel()
                _wait_quietly(future)  # the reader is not shared between threads
        if frames is None:
            frames = self.reader.read(start, stop)
        if stop < self.num_frames:
            end = min(stop + self.crop_size, self.num_frames)
            self._pending = (stop, end, self._pool.submit(self.reader.read, stop, end))
        return frames

    def close(self) -> None:
        if self._pending is not None:
            self._pending[2].cancel()
            _wait_quietly(self._pending[2])
            self._pending = None
        self._pool.shutdown(wait=True)

    def __enter__(self) -> ReadAhead:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _wait_quietly(future: Future) -> None:
    """Let a read in flight finish (its error, if any, belongs to a crop nobody asked for)."""
    if not future.cancelled():
        future.exception()


@contextlib.contextmanager
def crop_reader(reader, num_frames: int, crop_size: int):
    """`reader` itself for frames already in memory, else a `ReadAhead` over it (closed on exit)."""
    if isinstance(reader, ArrayFrames):
        yield reader
        return
    with ReadAhead(reader, num_frames, crop_size) as ahead:
        yield ahead
