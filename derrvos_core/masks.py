"""Mask formats: COCO RLE, DAVIS palette PNGs, binary PNGs, and coloured overlays for display."""
from __future__ import annotations

import colorsys
import os
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image
from pycocotools import mask as mask_utils

from derrvos_core.errors import InputError
from derrvos_core.result import decode_rle as _decode_compressed_rle


def encode_rle(mask: np.ndarray) -> dict:
    """COCO RLE of a bool [H, W] mask as a JSON-friendly dict {"size": [H, W], "counts": str}."""
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise InputError(f"encode_rle expects one [H, W] mask, got shape {mask.shape}")
    rle = mask_utils.encode(np.asfortranarray(mask != 0, dtype=np.uint8))
    return {"size": [int(s) for s in rle["size"]], "counts": rle["counts"].decode("ascii")}


def decode_rle(rle: dict) -> np.ndarray:
    """bool [H, W] from a COCO RLE dict: compressed counts (str or bytes) or uncompressed (list of ints)."""
    if not isinstance(rle, dict) or "size" not in rle or "counts" not in rle:
        raise InputError(f"not a COCO RLE dict (needs 'size' and 'counts'): {str(rle)[:80]}")
    counts = rle["counts"]
    if isinstance(counts, list):  # uncompressed RLE, as some COCO files store crowd masks
        height, width = (int(s) for s in rle["size"])
        return mask_utils.decode(mask_utils.frPyObjects(rle, height, width)).astype(bool)
    if not isinstance(counts, (str, bytes)):
        raise InputError(f"RLE counts must be str, bytes or a list, got {type(counts).__name__}")
    # One decoder for the whole project: results and datasets must agree bit for bit.
    return _decode_compressed_rle(rle)


def davis_palette() -> np.ndarray:
    """uint8 [256, 3]: the DAVIS / PASCAL VOC colour map (index 1 dark red, 2 green, 3 olive, ...)."""
    index = np.arange(256)
    palette = np.zeros((256, 3), dtype=np.int64)
    for bit in range(8):  # the VOC map spreads the bits of the index over R, G, B from the top bit down
        for channel in range(3):
            palette[:, channel] |= ((index >> (3 * bit + channel)) & 1) << (7 - bit)
    return palette.astype(np.uint8)


def read_palette_png(path: str | os.PathLike) -> np.ndarray:
    """uint8 [H, W] object ids of a palette ("P") or grayscale ("L") PNG, such as a DAVIS annotation."""
    with _open_image(path) as image:
        if image.mode not in ("P", "L"):
            raise InputError(f"{path}: expected a palette or grayscale PNG of object ids, "
                             f"got mode {image.mode}")
        return np.array(image, dtype=np.uint8)


def write_palette_png(path: str | os.PathLike, ids: np.ndarray) -> Path:
    """Write object ids (ints in 0..255, [H, W]) as a palette PNG with the DAVIS colours."""
    ids = np.asarray(ids)
    if ids.ndim != 2:
        raise InputError(f"write_palette_png expects [H, W] ids, got shape {ids.shape}")
    if ids.size and (ids.min() < 0 or ids.max() > 255):
        raise InputError(f"object ids must be in 0..255 for a palette PNG, got {ids.min()}..{ids.max()}")
    image = Image.fromarray(ids.astype(np.uint8), mode="L").convert("P")
    image.putpalette(davis_palette().reshape(-1).tolist())
    return _save(image, path)


def read_binary_png(path: str | os.PathLike) -> np.ndarray:
    """bool [H, W]: True where a mask PNG is non-zero (any channel, ignoring alpha)."""
    with _open_image(path) as image:
        if image.mode in ("RGBA", "LA"):
            image = image.convert(image.mode[:-1])
        array = np.array(image)
    return array.any(axis=-1) if array.ndim == 3 else array != 0


def write_binary_png(path: str | os.PathLike, mask: np.ndarray) -> Path:
    """Write a [H, W] mask as an 8-bit grayscale PNG with 0 and 255 (the Ref-YouTube-VOS submission form)."""
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise InputError(f"write_binary_png expects one [H, W] mask, got shape {mask.shape}")
    return _save(Image.fromarray(np.where(mask != 0, 255, 0).astype(np.uint8), mode="L"), path)


def trajectory_colors(n: int) -> list[tuple[int, int, int]]:
    """n distinct RGB colours, the same for the same n: a hand-picked set, then golden-ratio hues."""
    base = [(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
            (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212),
            (0, 128, 128), (170, 110, 40), (128, 0, 0), (170, 255, 195), (0, 0, 128), (128, 128, 0)]
    colors = base[:n]
    for i in range(len(base), n):
        # Golden-ratio steps keep consecutive hues far apart; value alternates to split near hues.
        hue = (0.13 + i * 0.618033988749895) % 1.0
        r, g, b = colorsys.hsv_to_rgb(hue, 0.75, 1.0 if i % 2 else 0.7)
        colors.append((round(r * 255), round(g * 255), round(b * 255)))
    return colors


def overlay_masks(frame: np.ndarray, masks: Sequence[np.ndarray | None], colors: Sequence[tuple],
                  alpha: float = 0.5) -> np.ndarray:
    """uint8 [H, W, 3]: `frame` with each mask blended in its colour and outlined at full colour.

    Later masks are drawn over earlier ones; a None mask is skipped (empty in this frame).
    """
    frame = np.asarray(frame)
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise InputError(f"overlay_masks expects an RGB frame [H, W, 3], got shape {frame.shape}")
    if len(colors) < len(masks):
        raise InputError(f"{len(masks)} masks but only {len(colors)} colours")
    out = frame.astype(np.float32)
    for mask, color in zip(masks, colors):
        if mask is None:
            continue
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != frame.shape[:2]:
            raise InputError(f"mask of shape {mask.shape} does not match frame of shape {frame.shape[:2]}")
        rgb = np.asarray(color, dtype=np.float32)
        out[mask] = (1.0 - alpha) * out[mask] + alpha * rgb
        out[_outline(mask)] = rgb  # the outline keeps thin or faint masks visible at any alpha
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _outline(mask: np.ndarray) -> np.ndarray:
    """Pixels of `mask` with a 4-neighbour outside it (image borders count as outside)."""
    padded = np.pad(mask, 1, constant_values=False)
    inner = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    return mask & ~inner


def _open_image(path: str | os.PathLike) -> Image.Image:
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such file")
    try:
        image = Image.open(p)
        image.load()
    except (OSError, SyntaxError, ValueError) as exc:  # PIL signals truncated or foreign data this way
        raise InputError(f"{p}: cannot read as an image ({exc})") from exc
    return image


def _save(image: Image.Image, path: str | os.PathLike) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    image.save(p, format="PNG")
    return p
