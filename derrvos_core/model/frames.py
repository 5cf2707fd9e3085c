"""Where inference reads frames from: a video path, a uint8 array, or an open VideoReader.

Memory is bounded by what the model needs, not by the file: a path is opened with `INFERENCE_LIMITS`
(videos over 4K refused before decoding, frames downscaled while decoding to `MODEL_MAX_SIDE`), an
array's crops are downscaled the same way as they are read, a crop whose frames would take more than
`MAX_CROP_BYTES` is refused before it is read, and the read-ahead holds at most one crop (none when a
crop is over `READ_AHEAD_BYTES`). Masks still come back at the video's own size. A caller that needs
other limits opens the reader itself (`open_video(path, limits=FrameLimits(...), name=...)`) and
passes it in.
"""
from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from derrvos_core.errors import InputError, VideoError
from derrvos_core.video import FrameLimits, VideoReader, open_video

#: Longest side of the frames a model is given: every branch resizes far below it (DVIS++ 384 px,
#: BEiT-3 224 px, the COCO detector 416 px, the person segmenter 256 px), and 1080p passes unscaled.
MODEL_MAX_SIDE = 1920
#: How inference opens a video path: up to 4K accepted, frames decoded at most MODEL_MAX_SIDE wide.
INFERENCE_LIMITS = FrameLimits(max_side=MODEL_MAX_SIDE)
#: Most bytes of decoded frames one crop may take (a 1080p crop of 36 frames is 224 MB); a larger crop
#: size is refused with the largest one that fits, before anything is read.
MAX_CROP_BYTES = 2 << 30
#: The next crop is decoded ahead only when it takes at most this many bytes (else crops are read in turn).
READ_AHEAD_BYTES = 512 << 20


class ArrayFrames:
    """uint8 [T, H, W, 3] frames already in memory, read like a VideoReader (`len`, `read`, sizes).

    Any strides are fine (a flipped view is copied crop by crop into contiguous memory); crops are
    downscaled to `limits.max_side` as they are read, as a file's frames are while decoding."""

    def __init__(self, frames: np.ndarray, limits: FrameLimits = INFERENCE_LIMITS):
        self.array = frames
        self.num_frames, self.height, self.width = frames.shape[:3]
        self.frame_size = limits.frame_size(self.height, self.width)

    def __len__(self) -> int:
        return self.num_frames

    def read(self, start: int, stop: int) -> np.ndarray:
        block = self.array[start:stop]
        if self.frame_size != (self.height, self.width):
            h, w = self.frame_size
            return np.stack([np.asarray(Image.fromarray(np.ascontiguousarray(f)).resize(
                (w, h), Image.Resampling.BILINEAR)) for f in block]) if len(block) else \
                np.zeros((0, h, w, 3), np.uint8)
        return np.ascontiguousarray(block)


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
def open_frames(video, limits: FrameLimits = INFERENCE_LIMITS) -> Iterator[tuple[object, int, int, int]]:
    """(reader, num_frames, height, width) with the video's own size; a path is opened here with
    `limits` (VideoError for a video over them) and closed on exit, a reader passed in keeps its own
    limits and is left open for its owner."""
    check_video(video)
    if isinstance(video, np.ndarray):
        yield ArrayFrames(video, limits), *video.shape[:3]
        return
    if isinstance(video, (str, os.PathLike)):
        with open_video(video, limits=limits) as reader:
            yield reader, reader.info.num_frames, reader.info.height, reader.info.width
        return
    yield video, video.info.num_frames, video.info.height, video.info.width


def crop_bytes(reader, num_frames: int, crop_size: int) -> int:
    """Bytes of one crop's decoded frames (the last crop may be shorter; none is longer)."""
    height, width = _frame_size(reader)
    return min(int(crop_size), int(num_frames)) * height * width * 3


def check_crop_memory(reader, num_frames: int, crop_size: int, max_bytes: int = MAX_CROP_BYTES) -> None:
    """InputError, before anything is read, when one crop's frames would take more than `max_bytes`:
    it names the largest crop size that fits."""
    need = crop_bytes(reader, num_frames, crop_size)
    if need > max_bytes:
        height, width = _frame_size(reader)
        fits = max(1, max_bytes // (height * width * 3))
        raise InputError(f"crop size {crop_size} needs {need / 2**30:.1f} GiB of frames at {width}x{height}; "
                         f"at most {max_bytes / 2**30:.1f} GiB are allowed: use a crop size of at most "
                         f"{fits}")


def _frame_size(reader) -> tuple[int, int]:
    """(h, w) of the frames `reader.read` hands out (another reader object: its video's own size)."""
    if isinstance(reader, (VideoReader, ArrayFrames)):
        return reader.frame_size
    return reader.info.height, reader.info.width


class ReadAhead:
    """Reads a video's crops in order, decoding the next crop on a worker thread meanwhile.

    PyAV (FFmpeg) and PIL decode without holding the GIL, so while the model works on crop i, crop
    i + 1 is decoded on the other core. The next crop is read ahead only after a crop was actually
    read: when a cache holds everything a crop needs, nothing is decoded at all. At most one crop is
    in flight, and none when a crop takes more than `max_bytes` (then crops are read in turn), so
    memory stays flat. An error in a crop read ahead surfaces when that crop is read.
    Use as a context manager (or call `close`) before the reader closes.
    """

    def __init__(self, reader, num_frames: int, crop_size: int, max_bytes: int = READ_AHEAD_BYTES):
        self.reader, self.num_frames, self.crop_size = reader, int(num_frames), int(crop_size)
        self.max_bytes = int(max_bytes)
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
        # a full crop's bytes, from the crop just read (the last one may be shorter)
        ahead = len(frames) == 0 or frames.nbytes / len(frames) * self.crop_size <= self.max_bytes
        if ahead and stop < self.num_frames:
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
    """`reader` itself for frames already in memory, else a `ReadAhead` over it (closed on exit).
    InputError first when one crop would take more than MAX_CROP_BYTES (`check_crop_memory`)."""
    check_crop_memory(reader, num_frames, crop_size)
    if isinstance(reader, ArrayFrames):
        yield reader
        return
    with ReadAhead(reader, num_frames, crop_size) as ahead:
        yield ahead
