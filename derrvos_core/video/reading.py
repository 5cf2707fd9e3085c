"""Reading video files (PyAV) and folders of frames, streamed.

Frames are uint8 [H, W, 3] RGB. Nothing here holds a whole video in memory unless asked (`read`).
A reader refuses videos larger than its `FrameLimits` (pixels per frame, frame count) when it opens,
from the container's or the images' headers, before anything is decoded; with `max_side` it hands out
frames downscaled while decoding (FFmpeg's area filter, PIL's draft mode for JPEG), so a crop costs what
the caller needs, not what the file declares. `VideoInfo` always reports the video's own size.
"""
from __future__ import annotations

import os
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from PIL import Image

from derrvos_core.errors import InputError, VideoError
from derrvos_core.validation import DEFAULT_MAX_PIXELS

FRAME_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
"""Image files a frame folder may hold; anything else in the folder is ignored."""

FOLDER_FPS = 30.0
"""Frame rate reported for a frame folder, which has none of its own, unless `open_video(fps=...)`."""

#: Frames a reader accepts by default (over 9 hours at 30 fps). A container may promise any count in a
#: few bytes; per-frame lists (names, RLEs) are sized from it.
DEFAULT_MAX_FRAMES = 1_000_000

_AV_ERRORS = (av.FFmpegError, OSError, ValueError, EOFError)
_IMAGE_ERRORS = (OSError, SyntaxError, ValueError, Image.DecompressionBombError)


@dataclass(frozen=True)
class FrameLimits:
    """What a reader accepts and what it hands out; the caller sizes it (the app, the CLI, inference)."""

    #: Most pixels (width x height) per frame; a larger video is refused with a VideoError naming the
    #: file and its size when it is opened. None: no budget (only for trusted files).
    max_pixels: int | None = DEFAULT_MAX_PIXELS
    #: Longest side of the frames handed out: larger frames are downscaled while decoding, aspect kept.
    #: None: the video's own size.
    max_side: int | None = None
    #: Most frames; a longer video (as its container declares it) is refused. None: no limit.
    max_frames: int | None = DEFAULT_MAX_FRAMES

    def __post_init__(self) -> None:
        for name, value in (("max_pixels", self.max_pixels), ("max_side", self.max_side),
                            ("max_frames", self.max_frames)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise InputError(f"FrameLimits.{name} must be a whole number >= 1 or None, got {value!r}")

    def frame_size(self, height: int, width: int) -> tuple[int, int]:
        """(h, w) of the frames handed out for a video of height x width."""
        longest = max(height, width)
        if self.max_side is None or longest <= self.max_side:
            return height, width
        scale = self.max_side / longest
        return max(1, round(height * scale)), max(1, round(width * scale))

    def check(self, label: str, height: int, width: int, num_frames: int | None = None) -> None:
        """VideoError naming `label` when a height x width video (of num_frames) is over the limits."""
        if self.max_pixels is not None and height * width > self.max_pixels:
            raise VideoError(
                f"{label}: the video is {width}x{height} ({height * width / 1e6:.1f} megapixels a frame); "
                f"at most {self.max_pixels / 1e6:.1f} megapixels are accepted "
                f"({_budget_example(self.max_pixels)}). Downscale it first, e.g. "
                f"ffmpeg -i INPUT -vf scale=-2:1080 OUTPUT.mp4")
        if self.max_frames is not None and num_frames is not None and num_frames > self.max_frames:
            raise VideoError(f"{label}: the video declares {num_frames} frames; at most {self.max_frames} "
                             f"are accepted. Cut it into parts first")


def _budget_example(max_pixels: int) -> str:
    return "3840x2160" if max_pixels == DEFAULT_MAX_PIXELS else f"max_pixels={max_pixels}"


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

    Args:
        path: a video file or a folder of frame images.
        fps: frame rate of a folder (which has none of its own).
        limits: what is accepted (pixel and frame budgets: VideoError at open) and the size of the frames
            handed out (`frame_size`); `info` keeps the video's own size.
        name: how errors name the video (the user's own file name when `path` is a server-side copy);
            default the path.
    """

    def __init__(self, path: str | os.PathLike, fps: float | None = None, limits: FrameLimits | None = None,
                 name: str | None = None):
        self.path = Path(path)
        self.limits = FrameLimits() if limits is None else limits
        self.label = str(path) if name is None else str(name)
        if not self.path.exists():
            raise VideoError(f"{self.label}: no such file or folder")
        self._files: list[Path] = []
        self._packet_pts: list[int] | None = None
        self._cursor: tuple[int, Iterator[np.ndarray]] | None = None
        if self.path.is_dir():
            self._files = _frame_files(self.path, self.label)
            self.limits.check(self.label, 1, 1, len(self._files))  # the frame count, before any header
            height, width = _folder_size(self._files, self.limits, self.label)
            self.info = VideoInfo(str(path), float(fps or FOLDER_FPS), len(self._files), height, width,
                                  "frames")
        else:
            self.info = _probe_file(self.path, self.limits, self.label)
        #: (h, w) of the frames `frames` and `read` hand out (`info` has the video's own size).
        self.frame_size = self.limits.frame_size(self.info.height, self.info.width)

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
        """Yield uint8 [h, w, 3] RGB frames start..stop-1 (stop clipped to the length, as a slice is);
        (h, w) is `frame_size`."""
        start, stop = self._check_range(start, stop)
        if self._files:
            return (self._folder_frame(i) for i in range(start, stop))
        return self._file_frames(start, stop)

    def read(self, start: int, stop: int) -> np.ndarray:
        """uint8 [T, h, w, 3] of frames start..stop-1; (h, w) is `frame_size`."""
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
            return np.zeros((0, *self.frame_size, 3), dtype=np.uint8)
        return np.stack(frames)

    def _check_range(self, start: int, stop: int | None) -> tuple[int, int]:
        n = self.info.num_frames
        stop = n if stop is None else min(int(stop), n)
        if not 0 <= int(start) <= n or stop < start:
            raise InputError(f"{self.label}: frame range [{start}, {stop}) is outside 0..{n}")
        return int(start), stop

    def _folder_frame(self, index: int) -> np.ndarray:
        file = self._files[index]
        height, width = self.frame_size
        try:
            with Image.open(file) as image:
                if image.size != (self.info.width, self.info.height):
                    raise VideoError(f"{self._name(file)}: frame {index} is {image.size[0]}x{image.size[1]}, "
                                     f"the folder's first frame is {self.info.width}x{self.info.height}")
                if (height, width) != (self.info.height, self.info.width):
                    image.draft("RGB", (width, height))  # JPEG decodes at 1/2, 1/4 or 1/8 scale directly
                    image = image.convert("RGB").resize((width, height), Image.Resampling.BILINEAR)
                frame = np.asarray(image.convert("RGB"))
        except _IMAGE_ERRORS as exc:
            raise VideoError(f"{self._name(file)}: cannot read frame {index} ({exc})") from exc
        return frame

    def _name(self, file: Path) -> str:
        """A frame file as errors name it: inside the video's `label`."""
        return f"{self.label}/{file.name}"

    def _file_frames(self, start: int, stop: int) -> Iterator[np.ndarray]:
        """Decode frames start..stop-1, seeking to the keyframe before `start` when the packets allow."""
        target = self._seek_target(start)
        index = yield from self._decode(start, stop, target)
        if index is None:  # the seek landed past the target: decode from the top instead
            index = yield from self._decode(start, stop, None)
        if index < stop:
            raise VideoError(f"{self.label}: decoding ended after {index} of {self.info.num_frames} frames "
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
            raise VideoError(f"{self.label}: cannot decode frame {index} ({exc})") from exc
        return None if target_pts is not None else index

    def _to_rgb(self, frame: av.VideoFrame, index: int) -> np.ndarray:
        if (frame.height, frame.width) != (self.info.height, self.info.width):
            raise VideoError(f"{self.label}: frame {index} is {frame.width}x{frame.height}, the stream "
                             f"declares {self.info.width}x{self.info.height}")
        height, width = self.frame_size
        if (height, width) == (frame.height, frame.width):
            return frame.to_ndarray(format="rgb24")
        # scaled by swscale straight from the decoder's YUV planes: no full-size RGB copy is made
        return frame.reformat(width=width, height=height, format="rgb24", interpolation="AREA").to_ndarray()

    def _seek_target(self, start: int) -> int | None:
        """Presentation timestamp of frame `start`, or None to decode from the first frame."""
        if start == 0:
            return None
        if self._packet_pts is None:
            self._packet_pts = _sorted_packet_pts(self.path, self.label)
        pts = self._packet_pts
        # Only trust the timestamps when they name every frame exactly once.
        return pts[start] if len(pts) == self.info.num_frames else None


def open_video(path: str | os.PathLike, fps: float | None = None, limits: FrameLimits | None = None,
               name: str | None = None) -> VideoReader:
    """A reader for a video file or a folder of frames; `fps` applies to folders only. `limits` (default
    `FrameLimits()`: up to 4K, native size) and `name` (how errors call the video) as in `VideoReader`."""
    return VideoReader(path, fps=fps, limits=limits, name=name)


def probe(path: str | os.PathLike, limits: FrameLimits | None = None, name: str | None = None) -> VideoInfo:
    """fps, frame count and size of a video file or frame folder; VideoError if it cannot be read or is
    over `limits` (what an upload should be checked with before it is kept)."""
    with open_video(path, limits=limits, name=name) as reader:
        return reader.info


def _probe_file(path: Path, limits: FrameLimits, label: str) -> VideoInfo:
    if path.stat().st_size == 0:
        raise VideoError(f"{label}: empty file (0 bytes)")
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise VideoError(f"{label}: no video stream (format {container.format.name})")
            stream = container.streams.video[0]
            height, width = stream.codec_context.height, stream.codec_context.width
            if not height or not width:
                raise VideoError(f"{label}: the video stream does not declare a frame size")
            limits.check(label, int(height), int(width), stream.frames or None)  # before any frame is decoded
            num_frames = stream.frames or _count_decoded(container, stream, limits.max_frames)
            fps = _stream_fps(stream, container, num_frames)
            fmt = container.format.name
    except _AV_ERRORS as exc:
        raise VideoError(f"{label}: not a readable video ({_av_reason(exc)})") from exc
    if num_frames == 0:
        raise VideoError(f"{label}: the video stream has no decodable frames")
    limits.check(label, int(height), int(width), int(num_frames))
    return VideoInfo(str(path), fps, int(num_frames), int(height), int(width), fmt)


def _av_reason(exc: Exception) -> str:
    """FFmpeg's reason without the file name it appends (a server-side path the user never chose)."""
    if isinstance(exc, av.FFmpegError) and exc.strerror:
        return str(exc.strerror)
    return str(exc)


def _count_decoded(container, stream, max_frames: int | None) -> int:
    # Matroska/WebM and some others carry no frame count: decoding is the only exact count (one frame
    # at a time; the size was checked first). Counting stops one past the budget: that is refused.
    stream.thread_type = "AUTO"
    count = 0
    for _ in container.decode(stream):
        count += 1
        if max_frames is not None and count > max_frames:
            break
    return count


def _stream_fps(stream, container, num_frames: int) -> float:
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    if rate:
        return float(rate)
    seconds = (container.duration or 0) / av.time_base
    return num_frames / seconds if seconds > 0 else 25.0


def _sorted_packet_pts(path: Path, label: str) -> list[int]:
    """Presentation timestamps of all video packets in display order ([] if any is missing)."""
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            pts = [p.pts for p in container.demux(stream) if p.size]
    except _AV_ERRORS as exc:
        raise VideoError(f"{label}: cannot read packets ({_av_reason(exc)})") from exc
    return [] if any(p is None for p in pts) else sorted(pts)


def _natural_key(name: str) -> tuple:
    return tuple(int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name))


def _frame_files(folder: Path, label: str) -> list[Path]:
    files = [f for f in folder.iterdir()
             if f.is_file() and f.suffix.lower() in FRAME_SUFFIXES and not f.name.startswith(".")]
    if not files:
        raise VideoError(f"{label}: no frame images ({', '.join(FRAME_SUFFIXES)}) in the folder")
    return sorted(files, key=lambda f: _natural_key(f.name))


def _folder_size(files: list[Path], limits: FrameLimits, label: str) -> tuple[int, int]:
    """(height, width) shared by every frame, checked against `limits`; only image headers are read."""
    size = None
    for file in files:
        try:
            with warnings.catch_warnings():  # PIL's bomb warning: `limits` decide, with a clearer message
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                with Image.open(file) as image:
                    this = image.size
        except _IMAGE_ERRORS as exc:
            raise VideoError(f"{label}/{file.name}: not a readable image ({exc})") from exc
        if size is None:
            size = this
            limits.check(f"{label}/{file.name}", this[1], this[0])
        elif this != size:
            raise VideoError(f"{label}/{file.name}: frame is {this[0]}x{this[1]} but {files[0].name} is "
                             f"{size[0]}x{size[1]}; "
                             "all frames of a folder must have one size")
    return size[1], size[0]
