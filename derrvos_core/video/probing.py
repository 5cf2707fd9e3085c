"""What a video file is (`VideoInfo`): size, rate, and how many frames it really decodes.

A container's frame count is a promise written in its header: a truncated or damaged file (Debian's
opencv-doc `tree.avi` declares 444 frames and holds 68) keeps the promise it can no longer honour.
Probing demuxes the video packets (no decoding: about 1 ms per MB of file) and trusts the declared
count when the packets are all there; otherwise, and for containers that declare no count
(Matroska/WebM), it decodes once and counts the frames the decoder gives before it ends or fails.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av

from derrvos_core.errors import VideoError
from derrvos_core.video.limits import FrameLimits

AV_ERRORS = (av.FFmpegError, OSError, ValueError, EOFError)
"""What PyAV raises on a broken, truncated or hostile file."""


@dataclass(frozen=True)
class VideoInfo:
    """What a video is, as far as reading it goes.

    Attributes:
        path: the file or folder as given.
        fps: frames per second (container's average rate; FOLDER_FPS or the caller's for a folder).
        num_frames: frames that `frames()` yields: the frames the file decodes, which a truncated or
            damaged file has fewer of than it declares.
        height, width: frame size in pixels (odd sizes are fine).
        format: FFmpeg's demuxer name ("mov,mp4,m4a,3gp,3g2,mj2", "avi", "matroska,webm", "gif", ...)
            or "frames" for a folder of images.
        declared_frames: the count the container's header declares; None when it declares none (and for
            folders). `num_frames < declared_frames` means the end of the file is missing or damaged.
    """

    path: str
    fps: float
    num_frames: int
    height: int
    width: int
    format: str
    declared_frames: int | None = None

    @property
    def truncated(self) -> bool:
        """The file decodes fewer frames than its container declares."""
        return self.declared_frames is not None and self.num_frames < self.declared_frames


def probe_file(path: Path, limits: FrameLimits, label: str) -> VideoInfo:
    """`VideoInfo` of a video file; VideoError naming `label` if it is unreadable or over `limits`."""
    if path.stat().st_size == 0:
        raise VideoError(f"{label}: empty file (0 bytes)")
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise VideoError(f"{label}: no video stream (format {container.format.name})")
            stream = container.streams.video[0]
            height, width = int(stream.codec_context.height or 0), int(stream.codec_context.width or 0)
            if not height or not width:
                raise VideoError(f"{label}: the video stream does not declare a frame size")
            declared = int(stream.frames) or None
            limits.check(label, height, width, declared)  # before any frame is decoded
            complete = declared is not None and _packets_complete(container, stream, declared)
            rate, duration, fmt = _stream_rate(stream), container.duration, container.format.name
    except AV_ERRORS as exc:
        raise VideoError(f"{label}: not a readable video ({av_reason(exc)})") from exc
    num_frames = declared if complete else count_decoded(path, limits.max_frames)
    if num_frames == 0:
        raise VideoError(f"{label}: the video stream has no decodable frames")
    limits.check(label, height, width, num_frames)
    fps = rate or (num_frames * av.time_base / duration if duration else 25.0)
    return VideoInfo(str(path), float(fps), num_frames, height, width, fmt, declared)


def count_decoded(path: Path, max_frames: int | None) -> int:
    """Frames the decoder gives from the first until the stream ends or fails (a damaged tail is not a
    frame). Counting stops one past `max_frames`: that is refused by the caller."""
    count = 0
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for _ in container.decode(stream):
                count += 1
                if max_frames is not None and count > max_frames:
                    break
    except AV_ERRORS:
        pass  # the frames before the failure are what the file holds
    return count


def av_reason(exc: Exception) -> str:
    """FFmpeg's reason without the file name it appends (a server-side path the user never chose)."""
    if isinstance(exc, av.FFmpegError) and exc.strerror:
        return str(exc.strerror)
    return str(exc)


def _packets_complete(container, stream, declared: int) -> bool:
    """Whether the demuxer reads at least `declared` non-empty video packets without an error."""
    count = 0
    try:
        for packet in container.demux(stream):
            count += packet.size > 0
            if count >= declared:
                return True
    except AV_ERRORS:
        return False
    return False


def _stream_rate(stream) -> float | None:
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    return float(rate) if rate else None
