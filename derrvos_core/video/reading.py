"""Reading video files (PyAV) and folders of frames (imageio), streamed.

Frames are uint8 [H, W, 3] RGB. Nothing here holds a whole video in memory unless asked (`read`).
A reader refuses videos larger than its `FrameLimits` (pixels per frame, frame count) when it opens,
from the container's or the images' headers, before anything is decoded; with `max_side` it hands out
frames downscaled while decoding (FFmpeg's area filter, PIL's draft mode for JPEG), so a crop costs what
the caller needs, not what the file declares. `VideoInfo` always reports the video's own size, and the
frames a truncated file really decodes (`probing`): a reader hands out exactly those.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np

from derrvos_core.errors import InputError, VideoError
from derrvos_core.validation import DEFAULT_MAX_PIXELS
from derrvos_core.video.folder import FOLDER_FPS, FRAME_SUFFIXES, folder_size, frame_files, read_frame
from derrvos_core.video.limits import DEFAULT_MAX_FRAMES, FrameLimits
from derrvos_core.video.probing import AV_ERRORS, VideoInfo, av_reason, probe_file

__all__ = ["DEFAULT_MAX_FRAMES", "DEFAULT_MAX_PIXELS", "FOLDER_FPS", "FRAME_SUFFIXES", "FrameLimits",
           "VideoInfo", "VideoReader", "open_video", "probe"]


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
            self._files = frame_files(self.path, self.label)
            self.limits.check(self.label, 1, 1, len(self._files))  # the frame count, before any header
            height, width = folder_size(self._files, self.limits, self.label)
            self.info = VideoInfo(str(path), float(fps or FOLDER_FPS), len(self._files), height, width,
                                  "frames")
        else:
            self.info = probe_file(self.path, self.limits, self.label)
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
        return read_frame(file, (self.info.height, self.info.width), self.frame_size,
                          f"{self.label}/{file.name} (frame {index})")

    def _file_frames(self, start: int, stop: int) -> Iterator[np.ndarray]:
        """Decode frames start..stop-1, seeking to the keyframe before `start` when the packets allow."""
        if start >= stop:
            return
        target = self._seek_target(start)
        index = yield from self._decode(start, stop, target)
        if index is None:  # the seek landed past the target: decode from the top instead
            index = yield from self._decode(start, stop, None)
        if index < stop:
            raise VideoError(f"{self.label}: decoding ended after {index} of the {self.info.num_frames} "
                             "frames it decoded when opened (the file changed or is corrupt)")

    def _decode(self, start: int, stop: int, target_pts: int | None):
        """Yield frames start..stop-1; return the index reached, or None if seeking overshot.

        Returns as soon as frame stop-1 is out: a damaged tail past the decodable frames is never read."""
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
                    if index >= start:
                        yield self._to_rgb(frame, index)
                    index += 1
                    if index >= stop:
                        return index
        except AV_ERRORS as exc:
            raise VideoError(f"{self.label}: cannot decode frame {index} ({av_reason(exc)})") from exc
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
            self._packet_pts = _sorted_packet_pts(self.path)
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


def _sorted_packet_pts(path: Path) -> list[int]:
    """Presentation timestamps of all video packets in display order ([] if any is missing or the
    packets cannot all be read: then `read` decodes from the first frame instead of seeking)."""
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            pts = [p.pts for p in container.demux(stream) if p.size]
    except AV_ERRORS:
        return []
    return [] if any(p is None for p in pts) else sorted(pts)
