"""Writing videos: plain, or with masks overlaid and a legend; either can carry a source's audio.

Overlay colours come from the caller, one per legend entry: the caller decides what an object is (a link
id or a trajectory id) and gives each identity its colour, so the CLI, the API and the app colour the
same object alike. Only a caller with no identities to offer leaves `colors` out.
"""
from __future__ import annotations

import os
from fractions import Fraction
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from derrvos_core.errors import InputError
from derrvos_core.masks import overlay_masks, trajectory_colors
from derrvos_core.video.audio import open_audio_carry


def write_video(path: str | os.PathLike, frames: Iterable[np.ndarray], fps: float,
                codec: str | None = None, audio_from: str | os.PathLike | None = None) -> Path:
    """Encode uint8 [H, W, 3] RGB frames (H.264 if available, else MPEG-4 Part 2) and return the path.

    Odd sizes are padded with black to even ones (yuv420p needs even sizes). The file appears only
    when complete: it is written beside the target and moved into place. `audio_from`: a video file
    whose first audio stream is carried over, interleaved and cut at the last frame (`audio`); a
    source without audio (or a frame folder) gives a silent video.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.stem}.partial{path.suffix or '.mp4'}")
    try:
        count = _encode(partial, iter(frames), float(fps), codec or _default_codec(), audio_from)
        if count == 0:
            raise InputError(f"{path}: no frames to write")
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path


def write_overlay_video(path: str | os.PathLike, frames: Iterable[np.ndarray],
                        masks_per_frame: Iterable[Sequence[np.ndarray | None]], labels: Sequence[str],
                        fps: float, alpha: float = 0.5, *,
                        colors: Sequence[tuple[int, int, int]] | None = None,
                        audio_from: str | os.PathLike | None = None) -> Path:
    """MP4 of `frames` with, per frame, one mask per object in its colour and a legend of `labels`.

    Args:
        masks_per_frame: per frame, one bool [H, W] mask (None: absent in that frame) per object, in the
            order of `labels`; an object that is several trajectories (linked across crops) is one mask.
        labels: the legend, one entry per object.
        colors: RGB per object, in the order of `labels`: the object's identity colour, the same one the
            caller shows elsewhere. None: `trajectory_colors` by position (only for callers that have no
            identities, such as benchmarks).
        audio_from: a video file whose audio the overlay keeps (`write_video`).
    """
    colors = trajectory_colors(len(labels)) if colors is None else [tuple(c) for c in colors]
    if len(colors) != len(labels):
        raise InputError(f"{path}: {len(colors)} colours for {len(labels)} labels")

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

    return write_video(path, overlaid(), fps, audio_from=audio_from)


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


def _encode(path: Path, frames: Iterator[np.ndarray], fps: float, codec: str,
            audio_from: str | os.PathLike | None) -> int:
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
        audio = None if audio_from is None else open_audio_carry(Path(audio_from), container)
        try:
            for frame in _chain(first, frames):
                if frame.shape != first.shape:
                    raise InputError(f"{path}: frame {count} is {frame.shape}, "
                                     f"the first frame is {first.shape}")
                padded = np.pad(frame, ((0, height % 2), (0, width % 2), (0, 0)))
                for packet in stream.encode(av.VideoFrame.from_ndarray(padded, format="rgb24")):
                    container.mux(packet)
                count += 1
                if audio is not None:
                    audio.mux_until(count / fps)
            for packet in stream.encode():
                container.mux(packet)
            if audio is not None:
                audio.finish(count / fps)
        finally:
            if audio is not None:
                audio.close()
    return count


def _chain(first, rest):
    yield first
    yield from rest
