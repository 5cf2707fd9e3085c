"""Video files (PyAV) and folders of frames: read streamed, resize for the model, write with overlays.

Frames are uint8 [H, W, 3] RGB. Nothing here holds a whole video in memory unless asked (`read`).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator, Sequence

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from derrvos_core.errors import InputError, VideoError
from derrvos_core.masks import overlay_masks, trajectory_colors

if TYPE_CHECKING:
    import torch

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


# ----------------------------------------------------------------------------- resizing for the model


def resize_frames(frames, size: int | tuple[int, int]) -> torch.Tensor:
    """float32 [T, 3, h, w] in 0..255 from uint8 [T, H, W, 3] frames (numpy or torch).

    `size` is h = w for an int, else (h, w). Bilinear with antialiasing, so downscaling does not alias.
    Resizing runs on the uint8 frames (PyTorch's vectorised 8-bit path: about 30x faster than in float
    at 480p, values within one grey level of the float result); only the small output is float.
    """
    import torch  # torch only when resizing: probing and reading a video stay light
    import torch.nn.functional as F

    frames = torch.as_tensor(np.asarray(frames)) if not isinstance(frames, torch.Tensor) else frames
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != torch.uint8:
        raise InputError(f"resize_frames expects uint8 [T, H, W, 3], got {tuple(frames.shape)} "
                         f"{frames.dtype}")
    h, w = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    if h <= 0 or w <= 0:
        raise InputError(f"resize_frames: size must be positive, got {size}")
    block = frames.permute(0, 3, 1, 2)
    if block.shape[-2:] != (h, w):
        if frames.shape[0] == 0:
            return torch.zeros((0, 3, h, w), dtype=torch.float32, device=frames.device)
        block = F.interpolate(block, size=(h, w), mode="bilinear", align_corners=False, antialias=True)
    return block.float().contiguous()


def resize_mask_logits(logits, size: tuple[int, int]) -> torch.Tensor:
    """[..., H, W] from mask logits [..., h, w] by bilinear interpolation (threshold after, not before)."""
    import torch
    import torch.nn.functional as F

    logits = torch.as_tensor(logits)
    if logits.ndim < 2:
        raise InputError(f"resize_mask_logits expects [..., h, w], got {tuple(logits.shape)}")
    lead, (h, w) = logits.shape[:-2], (int(size[0]), int(size[1]))
    flat = logits.reshape(-1, 1, *logits.shape[-2:]).float()
    if flat.shape[0] == 0:
        return flat.new_zeros((*lead, h, w))
    return F.interpolate(flat, size=(h, w), mode="bilinear", align_corners=False).reshape(*lead, h, w)


# ----------------------------------------------------------------------------- writing


def write_video(path: str | os.PathLike, frames: Iterable[np.ndarray], fps: float,
                codec: str | None = None) -> Path:
    """Encode uint8 [H, W, 3] RGB frames (H.264 if available, else MPEG-4 Part 2) and return the path.

    Odd sizes are padded with black to even ones (yuv420p needs even sizes). The file appears only
    when complete: it is written beside the target and moved into place.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.stem}.partial{path.suffix or '.mp4'}")
    try:
        count = _encode(partial, iter(frames), float(fps), codec or _default_codec())
        if count == 0:
            raise InputError(f"{path}: no frames to write")
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path


def write_overlay_video(path: str | os.PathLike, frames: Iterable[np.ndarray],
                        masks_per_frame: Iterable[Sequence[np.ndarray | None]], labels: list[str],
                        fps: float, alpha: float = 0.5) -> Path:
    """MP4 of `frames` with, per frame, one mask per trajectory in its own colour and a legend of `labels`."""
    colors = trajectory_colors(len(labels))

    def overlaid() -> Iterator[np.ndarray]:
        frame_it, mask_it = iter(frames), iter(masks_per_frame)
        for index, frame in enumerate(frame_it):
            masks = next(mask_it, None)
            if masks is None:
                raise InputError(f"{path}: masks_per_frame ends at frame {index}, before the frames do")
            if len(masks) != len(labels):
                raise InputError(f"{path}: frame {index} has {len(masks)} masks for {len(labels)} labels")
            yield draw_legend(overlay_masks(frame, masks, colors, alpha), labels, colors)
        if next(mask_it, None) is not None:
            raise InputError(f"{path}: masks_per_frame has more entries than there are frames")

    return write_video(path, overlaid(), fps)


def draw_legend(frame: np.ndarray, labels: Sequence[str], colors: Sequence[tuple]) -> np.ndarray:
    """uint8 [H, W, 3]: a colour swatch and its label per trajectory, top left on a darkened box."""
    if not labels:
        return frame
    height = frame.shape[0]
    font = ImageFont.load_default(size=max(8, height // 28))
    line = font.getbbox("Ag")[3] + 3
    text_w = max(font.getbbox(str(label))[2] for label in labels)
    box_w, box_h = min(frame.shape[1], line + text_w + 6), min(height, line * len(labels) + 4)
    out = frame.copy()
    out[:box_h, :box_w] = (out[:box_h, :box_w] * 0.35).astype(np.uint8)  # keeps text readable on any video
    image = Image.fromarray(out)
    draw = ImageDraw.Draw(image)
    for i, (label, color) in enumerate(zip(labels, colors)):
        top = 2 + i * line
        draw.rectangle([3, top + 1, 3 + line - 4, top + line - 3], fill=tuple(color))
        draw.text((line + 3, top), str(label), fill=(255, 255, 255), font=font)
    return np.asarray(image)


def _default_codec() -> str:
    try:
        av.codec.Codec("libx264", "w")
        return "libx264"
    except av.FFmpegError:  # PyAV built without x264: MPEG-4 Part 2 plays everywhere too
        return "mpeg4"


def _encode(path: Path, frames: Iterator[np.ndarray], fps: float, codec: str) -> int:
    first = next(frames, None)
    if first is None:
        return 0
    if first.ndim != 3 or first.shape[2] != 3 or first.dtype != np.uint8:
        raise InputError(f"{path}: frames must be uint8 [H, W, 3], got {first.shape} {first.dtype}")
    height, width = first.shape[:2]
    count = 0
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height, stream.pix_fmt = width + width % 2, height + height % 2, "yuv420p"
        if codec == "libx264":
            stream.options = {"crf": "20", "preset": "veryfast"}
        for frame in _chain(first, frames):
            if frame.shape != first.shape:
                raise InputError(f"{path}: frame {count} is {frame.shape}, the first frame is {first.shape}")
            padded = np.pad(frame, ((0, height % 2), (0, width % 2), (0, 0)))
            for packet in stream.encode(av.VideoFrame.from_ndarray(padded, format="rgb24")):
                container.mux(packet)
            count += 1
        for packet in stream.encode():
            container.mux(packet)
    return count


def _chain(first, rest):
    yield first
    yield from rest
