"""Pieces every dataset reader shares: a lazy list-like dataset, strict JSON access, frame and PNG loading.

Readers parse annotation files once (cheap: text and ids), keep one small entry per expression,
and decode masks and frames only when a sample is asked for, so opening MeViS-sized splits is fast
and memory stays flat.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

from derrvos_core.datasets.types import RVOSSample
from derrvos_core.errors import DatasetError

FRAME_EXTENSIONS = (".jpg", ".png", ".jpeg")


class RVOSDataset(Sequence):
    """A list of RVOSSample built on demand: `len(ds)`, `ds[i]`, iteration, `ds.entries` (parsed metadata).

    Attributes:
        name: reader name ("mevis", "refytvos", ...).
        split: the split it was opened with.
        entries: one light record per sample (whatever the reader keeps; not decoded).
    """

    def __init__(self, name: str, split: str, entries: list, build: Callable[[object], RVOSSample]):
        self.name, self.split, self.entries, self._build = name, split, list(entries), build

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        return self._build(self.entries[index])

    def __repr__(self) -> str:
        return f"RVOSDataset({self.name!r}, split={self.split!r}, samples={len(self)})"


def load_json(path: Path):
    """Parsed JSON, or DatasetError naming the file when it is missing or broken."""
    if not path.is_file():
        raise DatasetError(f"{path}: file not found")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: not valid JSON ({exc})") from exc


def get(mapping, key, path: Path, where: str, kind: type | tuple = object):
    """mapping[key] checked for presence and type; the error names the file, the place and the key."""
    if not isinstance(mapping, dict) or key not in mapping:
        raise DatasetError(f"{path}: {where} has no key '{key}'")
    value = mapping[key]
    if not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise DatasetError(f"{path}: {where} key '{key}' should be {names}, got {type(value).__name__}")
    return value


def find_frame(folder: Path, name: str) -> Path:
    """folder/name.jpg (or .png / .jpeg); DatasetError when none exists."""
    for ext in FRAME_EXTENSIONS:
        path = folder / (name + ext)
        if path.is_file():
            return path
    raise DatasetError(f"{folder}: frame '{name}' not found (tried {', '.join(FRAME_EXTENSIONS)})")


def frame_loader(paths: list) -> Callable[[], np.ndarray]:
    """A closure that reads uint8 [T, H, W, 3] RGB frames when called (never at construction)."""
    frozen = [Path(p) for p in paths]

    def load() -> np.ndarray:
        return np.stack([np.asarray(Image.open(p).convert("RGB")) for p in frozen])

    return load


def image_size(path: Path) -> tuple:
    """(height, width) from the file header only."""
    with Image.open(path) as img:
        return img.height, img.width


def read_id_png(path: Path) -> np.ndarray:
    """int [H, W] object ids of a palette (or grey) PNG; DatasetError for RGB or unreadable files."""
    try:
        with Image.open(path) as img:
            if img.mode not in ("P", "L", "1", "I", "I;16"):
                raise DatasetError(f"{path}: expected a palette or grey PNG of object ids, "
                                   f"got mode {img.mode}")
            return np.asarray(img).astype(np.int32)
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read the PNG ({exc})") from exc


def decode_rle_checked(rle, path: Path, where: str) -> np.ndarray:
    """bool [H, W] from a COCO RLE (the project's one decoder); DatasetError naming the file and the key."""
    from derrvos_core.masks import decode_rle

    if not isinstance(rle, dict) or "size" not in rle or "counts" not in rle:
        raise DatasetError(f"{path}: {where} is not a COCO RLE (needs keys 'size' and 'counts')")
    try:
        return decode_rle(rle)
    except Exception as exc:  # InputError from our decoder, bare exceptions from pycocotools
        raise DatasetError(f"{path}: {where} has corrupt RLE counts ({exc})") from exc
