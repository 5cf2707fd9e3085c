"""Reading video files (PyAV) and folders of frames, streamed.

Frames are uint8 [H, W, 3] RGB. Nothing here holds a whole video in memory unless asked (`read`).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Iterator

import av
import numpy as np
from PIL import Image

from derrvos_core.errors import InputError, VideoError

FRAME_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
"""Image files a frame folder may hold; anything else in the folder is ignored."""

FOLDER_FPS = 30.0
"""Frame rate reported for a frame folder, which has none of its own, unless `open_video(fps=...)`."""

_AV_ERRORS = (av.FFmpegError, OSError, ValueError, EOFError)


@dataclass(frozen=True)
class VideoInfo:
    """What a video is, as far as reading it goes.

    Attributes:
        path: the file or folder as given.
        fps: frames per second (container's average rate; FOLDER_FPS or the caller's for a folder).
        num_frames: frames that `frames()` yields (decoded and counted if the container does not say).
        height, width: frame size in pixels (odd sizes are fine).
        format: FFmpeg's demuxer name ("mov,mp4,m4a,3gp,3g2,mj2", "avi", "matroska,webm", "gif", ...)
            or "frames" for a folder of images.
    """

    path: str
    fps: float
    num_frames: int
    height: int
    width: int
    format: str


class VideoReader:
    """Frames of one video file or frame folder, decoded on demand; use as a context manager.

    `frames(start, stop)` streams; `read(start, stop)` returns a block and, when called for consecutive
    blocks (crop after crop), continues decoding where the last block ended instead of seeking again.
    """

    def __init__(self, path: str | os.PathLike, fps: float | None = None):
        self.path = Path(path)
        if not self.path.exists():
            raise VideoError(f"{self.path}: no such file or folder")
        self._files: list[Path] = []
        self._packet_pts: list[int] | None = None
        self._cursor: tuple[int, Iterator[np.ndarray]] | None = None
        if self.path.is_dir():
            self._files = _frame_files(self.path)
            height, width = _folder_size(self._files)
            self.info = VideoInfo(str(path), float(fps or FOLDER_FPS), len(self._files), height, width,
                                  "frames")
        else:
            self.info = _probe_file(self.path)

    def __len__(self) -> int:
        return self.info.num_frames

    def __enter__(self) -> "VideoReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Release the decoder kept for sequential `read` calls."""
        if self._cursor is not None:
            self._cursor[1].close()
            self._cursor = None

    @property
    def frame_names(self) -> list[str]:
        """Per frame, the image's file stem for a folder, else the zero-padded index ("00000")."""
        if self._files:
            return [f.stem for f in self._files]
        return [f"{i:05d}" for i in range(self.info.num_frames)]

    def frames(self, start: int = 0, stop: int | None = None) -> Iterator[np.ndarray]:
        """Yield uint8 [H, W, 3] RGB frames start..stop-1 (stop clipped to the length, as a slice is)."""
        start, stop = self._check_range(start, stop)
        if self._files:
            return (self._folder_frame(i) for i in range(start, stop))
        return self._file_frames(start, stop)

    def read(self, start: int, stop: int) -> np.ndarray:
        """uint8 [T, H, W, 3] of frames start..stop-1."""
        start, stop = self._check_range(start, stop)
        if self._files:
            return self._stack([self._folder_frame(i) for i in range(start, stop)])
        if self._cursor is None or self._cursor[0] != start:
            self.close()
            self._cursor = (start, self._file_frames(start, self.info.num_frames))
        it = self._cursor[1]
        try:
            out = [next(it) for _ in range(stop - start)]
        except BaseException:
            self.close()  # a failed decoder cannot be resumed
            raise
        self._cursor = (stop, it)
        return self._stack(out)

    def _stack(self, frames: list[np.ndarray]) -> np.ndarray:
        if not frames:
            return np.zeros((0, self.info.height, self.info.width, 3), dtype=np.uint8)
        return np.stack(frames)

    def _check_range(self, start: int, stop: int | None) -> tuple[int, int]:
        n = self.info.num_frames
        stop = n if stop is None else min(int(stop), n)
        if not 0 <= int(start) <= n or stop < start:
            raise InputError(f"{self.path}: frame range [{start}, {stop}) is outside 0..{n}")
        return int(start), stop

    def _folder_frame(self, index: int) -> np.ndarray:
        file = self._files[index]
        try:
            with Image.open(file) as image:
                frame = np.asarray(image.convert("RGB"))
        except (OSError, SyntaxError, ValueError) as exc:
            raise VideoError(f"{file}: cannot read frame {index} ({exc})") from exc
        if frame.shape[:2] != (self.info.height, self.info.width):
            raise VideoError(f"{file}: frame {index} is {frame.shape[1]}x{frame.shape[0]}, the folder's "
                             f"first frame is {self.info.width}x{self.info.height}")
        return frame

    def _file_frames(self, start: int, stop: int) -> Iterator[np.ndarray]:
        """Decode frames start..stop-1, seeking to the keyframe before `start` when the packets allow."""
        target = self._seek_target(start)
        index = yield from self._decode(start, stop, target)
        if index is None:  # the seek landed past the target: decode from the top instead
            index = yield from self._decode(start, stop, None)
        if index < stop:
            raise VideoError(f"{self.path}: decoding ended after {index} of {self.info.num_frames} frames "
                             "the container promises (truncated or corrupt file)")

    def _decode(self, start: int, stop: int, target_pts: int | None):
        """Yield frames start..stop-1; return the index reached, or None if seeking overshot."""
        index = 0 if target_pts is None else start
        try:
            with av.open(str(self.path)) as container:
                stream = container.streams.video[0]
                stream.thread_type = "AUTO"
                if target_pts is not None:
                    container.seek(target_pts, stream=stream, backward=True, any_frame=False)
                for frame in container.decode(stream):
                    if target_pts is not None:
                        if frame.pts is None or frame.pts > target_pts:
                            return None
                        if frame.pts < target_pts:
                            continue
                        target_pts = None  # found the target frame; from here on count frames
                    if index >= stop:
                        return index
                    if index >= start:
                        yield self._to_rgb(frame, index)
                    index += 1
        except _AV_ERRORS as exc:
            raise VideoError(f"{self.path}: cannot decode frame {index} ({exc})") from exc
        return None if target_pts is not None else index

    def _to_rgb(self, frame: av.VideoFrame, index: int) -> np.ndarray:
        if (frame.height, frame.width) != (self.info.height, self.info.width):
            raise VideoError(f"{self.path}: frame {index} is {frame.width}x{frame.height}, the stream "
                             f"declares {self.info.width}x{self.info.height}")
        return frame.to_ndarray(format="rgb24")

    def _seek_target(self, start: int) -> int | None:
        """Presentation timestamp of frame `start`, or None to decode from the first frame."""
        if start == 0:
            return None
        if self._packet_pts is None:
            self._packet_pts = _sorted_packet_pts(self.path)
        pts = self._packet_pts
        # Only trust the timestamps when they name every frame exactly once.
        return pts[start] if len(pts) == self.info.num_frames else None


def open_video(path: str | os.PathLike, fps: float | None = None) -> VideoReader:
    """A reader for a video file or a folder of frames; `fps` applies to folders only."""
    return VideoReader(path, fps=fps)


def probe(path: str | os.PathLike) -> VideoInfo:
    """fps, frame count and size of a video file or frame folder; VideoError if it cannot be read."""
    with open_video(path) as reader:
        return reader.info


def _probe_file(path: Path) -> VideoInfo:
    if path.stat().st_size == 0:
        raise VideoError(f"{path}: empty file (0 bytes)")
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise VideoError(f"{path}: no video stream (format {container.format.name})")
            stream = container.streams.video[0]
            height, width = stream.codec_context.height, stream.codec_context.width
            num_frames = stream.frames or _count_decoded(container, stream)
            fps = _stream_fps(stream, container, num_frames)
            fmt = container.format.name
    except _AV_ERRORS as exc:
        raise VideoError(f"{path}: not a readable video ({exc})") from exc
    if num_frames == 0:
        raise VideoError(f"{path}: the video stream has no decodable frames")
    if not height or not width:
        raise VideoError(f"{path}: the video stream does not declare a frame size")
    return VideoInfo(str(path), fps, int(num_frames), int(height), int(width), fmt)


def _count_decoded(container, stream) -> int:
    # Matroska/WebM and some others carry no frame count: decoding is the only exact count.
    stream.thread_type = "AUTO"
    return sum(1 for _ in container.decode(stream))


def _stream_fps(stream, container, num_frames: int) -> float:
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    if rate:
        return float(rate)
    seconds = (container.duration or 0) / av.time_base
    return num_frames / seconds if seconds > 0 else 25.0


def _sorted_packet_pts(path: Path) -> list[int]:
    """Presentation timestamps of all video packets in display order ([] if any is missing)."""
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            pts = [p.pts for p in container.demux(stream) if p.size]
    except _AV_ERRORS as exc:
        raise VideoError(f"{path}: cannot read packets ({exc})") from exc
    return [] if any(p is None for p in pts) else sorted(pts)


def _natural_key(name: str) -> tuple:
    return tuple(int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name))


def _frame_files(folder: Path) -> list[Path]:
    files = [f for f in folder.iterdir()
             if f.is_file() and f.suffix.lower() in FRAME_SUFFIXES and not f.name.startswith(".")]
    if not files:
        raise VideoError(f"{folder}: no frame images ({', '.join(FRAME_SUFFIXES)}) in the folder")
    return sorted(files, key=lambda f: _natural_key(f.name))


def _folder_size(files: list[Path]) -> tuple[int, int]:
    """(height, width) shared by every frame; only image headers are read."""
    size = None
    for file in files:
        try:
            with Image.open(file) as image:
                this = image.size
        except (OSError, SyntaxError, ValueError) as exc:
            raise VideoError(f"{file}: not a readable image ({exc})") from exc
        if size is None:
            size = this
        elif this != size:
            raise VideoError(f"{file}: frame is {this[0]}x{this[1]} but {files[0].name} is "
                             f"{size[0]}x{size[1]}; "
                             "all frames of a folder must have one size")
    return size[1], size[0]
