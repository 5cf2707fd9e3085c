"""COCO RLE helpers for the store: masks in, JSON-safe dicts out, and checks on what comes in."""
from __future__ import annotations

import numpy as np

from derrvos_core.errors import InputError
from derrvos_core.masks import decode_rle, encode_rle

__all__ = ["encode_rle", "decode_rle", "json_rle", "mask_from"]


def json_rle(rle: dict | None) -> dict | None:
    """The RLE with str counts and int sizes, as it is stored."""
    if rle is None:
        return None
    counts = rle["counts"]
    if isinstance(counts, (bytes, bytearray)):
        counts = counts.decode("ascii")
    elif not isinstance(counts, str):  # uncompressed counts list: recompress
        return encode_rle(decode_rle(rle))
    return {"size": [int(rle["size"][0]), int(rle["size"][1])], "counts": counts}


def mask_from(value, height: int, width: int, what: str) -> np.ndarray:
    """bool [H, W] from a mask array or an RLE dict, checked against the run's frame size."""
    if isinstance(value, dict):
        if "size" not in value or "counts" not in value:
            raise InputError(f"{what}: an RLE dict needs 'size' and 'counts', got keys {sorted(value)}")
        size = tuple(int(v) for v in value["size"])
        if size != (height, width):
            raise InputError(f"{what}: RLE size {list(size)} does not match the video's {[height, width]}")
        return decode_rle(value)
    array = np.asarray(value)
    if array.shape != (height, width):
        raise InputError(f"{what}: mask shape {array.shape} does not match the video's {(height, width)}")
    if array.dtype != bool:
        if not np.isin(array, (0, 1)).all():
            raise InputError(f"{what}: a mask must be bool or 0/1, got values of dtype {array.dtype}")
        array = array.astype(bool)
    return array
