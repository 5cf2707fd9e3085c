"""Frame folders (JPEG/PNG, as DAVIS and Ref-YouTube-VOS store videos): listing, sizes, decoding.

Frames are decoded with imageio's Pillow plugin. When the frames handed out are smaller than the
images, a JPEG is decoded at 1/2, 1/4 or 1/8 scale straight away with PIL's draft mode (imageio exposes
no reduced decode), so a downscaled read of a large folder never holds a full-size frame.
"""
from __future__ import annotations

import re
import warnings
from pathlib import Path

import imageio.v3 as iio
import numpy as np
from PIL import Image

from derrvos_core.errors import VideoError
from derrvos_core.video.limits import FrameLimits

FRAME_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
"""Image files a frame folder may hold; anything else in the folder is ignored."""

FOLDER_FPS = 30.0
"""Frame rate reported for a frame folder, which has none of its own, unless `open_video(fps=...)`."""

IMAGE_ERRORS = (OSError, SyntaxError, ValueError, Image.DecompressionBombError)
"""What decoding a broken or hostile image raises (imageio and PIL)."""


def is_frame_name(name: str) -> bool:
    """A file name a frame folder reads (an image suffix, not hidden)."""
    return not name.startswith(".") and Path(name).suffix.lower() in FRAME_SUFFIXES


def frame_files(folder: Path, label: str) -> list[Path]:
    """The folder's frame images in natural order (frame2 before frame10); VideoError if none."""
    files = [f for f in folder.iterdir() if f.is_file() and is_frame_name(f.name)]
    if not files:
        raise VideoError(f"{label}: no frame images ({', '.join(FRAME_SUFFIXES)}) in the folder")
    return sorted(files, key=lambda f: _natural_key(f.name))


def folder_size(files: list[Path], limits: FrameLimits, label: str) -> tuple[int, int]:
    """(height, width) shared by every frame, checked against `limits`; only image headers are read."""
    size = None
    for file in files:
        this = image_size(file, f"{label}/{file.name}")
        if size is None:
            size = this
            limits.check(f"{label}/{file.name}", *this)
        elif this != size:
            raise VideoError(f"{label}/{file.name}: frame is {this[1]}x{this[0]} but {files[0].name} is "
                             f"{size[1]}x{size[0]}; all frames of a folder must have one size")
    return size


def image_size(file: Path, label: str) -> tuple[int, int]:
    """(height, width) of an image from its header; VideoError naming `label` if it is not one."""
    try:
        with warnings.catch_warnings():  # PIL's bomb warning: the caller's limits decide, more clearly
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            props = iio.improps(file, plugin="pillow")
    except IMAGE_ERRORS as exc:
        raise VideoError(f"{label}: not a readable image ({_reason(exc)})") from exc
    return int(props.shape[0]), int(props.shape[1])


def read_frame(file: Path, size: tuple[int, int], out_size: tuple[int, int], label: str) -> np.ndarray:
    """uint8 [h, w, 3] RGB of one frame image of (height, width) `size`, at (h, w) `out_size`.

    VideoError naming `label` if the image is unreadable or not of `size` (a folder has one size)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            if out_size == size:
                frame = iio.imread(file, plugin="pillow", index=0, mode="RGB")
                _check_size(frame.shape[:2], size, label)
                return frame
            with Image.open(file) as image:
                _check_size((image.height, image.width), size, label)
                image.draft("RGB", (out_size[1], out_size[0]))  # JPEG: decoded at a reduced scale
                return np.asarray(image.convert("RGB").resize((out_size[1], out_size[0]),
                                                              Image.Resampling.BILINEAR))
    except IMAGE_ERRORS as exc:
        raise VideoError(f"{label}: cannot read the frame ({_reason(exc)})") from exc


def _check_size(this: tuple[int, int], size: tuple[int, int], label: str) -> None:
    if tuple(this) != tuple(size):
        raise VideoError(f"{label}: frame is {this[1]}x{this[0]}, the folder's first frame is "
                         f"{size[1]}x{size[0]}")


def _reason(exc: Exception) -> str:
    """The cause without a path: errors name the user's file, never where the server keeps it."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = str(exc)
    return "not an image this reader knows" if "can not handle the given uri" in text else text


def _natural_key(name: str) -> tuple:
    return tuple(int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name))
