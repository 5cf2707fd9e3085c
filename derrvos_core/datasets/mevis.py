"""MeViS (and SynthRef, which uses its layout) reader.

    <root>/<split>/JPEGImages/<video>/<frame>.jpg
    <root>/<split>/meta_expressions.json  {"videos": {vid: {"frames": [...], "expressions":
                                           {exp_id: {"exp": str, "obj_id": [int], "anno_id": [int]}}}}}
    <root>/<split>/mask_dict.json         {str(anno_id): [COCO RLE or null per frame]}  (absent for "valid")

The ground truth of an expression is the union of its anno_ids' masks; an empty anno_id list
is a no-target expression. mask_dict[anno][i] belongs to frames[i] in the order given
(as the official evaluation reads it).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from derrvos_core.datasets.common import (RVOSDataset, decode_rle_checked, find_frame, frame_loader, get,
                                          image_size, load_json)
from derrvos_core.datasets.types import RVOSSample
from derrvos_core.errors import DatasetError, InputError
from derrvos_core.validation import DEFAULT_MAX_PIXELS, path_component


@dataclass(frozen=True)
class _Entry:
    video_id: str
    expression_id: str
    expression: str
    frames: tuple
    object_ids: tuple
    anno_ids: tuple
    category: str | None
    extra: dict


def read_mevis(root, split: str, name: str = "mevis") -> RVOSDataset:
    """One sample per expression of root/split (lazy frames and masks)."""
    folder = Path(root) / split
    meta_path, mask_path = folder / "meta_expressions.json", folder / "mask_dict.json"
    videos = get(load_json(meta_path), "videos", meta_path, "the top level", dict)
    masks = load_json(mask_path) if mask_path.is_file() else None
    if masks is not None and not isinstance(masks, dict):
        raise DatasetError(f"{mask_path}: the top level should map anno_id to per-frame masks")
    entries = []
    for vid, video in videos.items():
        where = f"videos['{vid}']"
        _plain_name(vid, "video id", meta_path, where)
        frames = tuple(get(video, "frames", meta_path, where, list))
        if not frames or not all(isinstance(f, str) for f in frames):
            raise DatasetError(f"{meta_path}: {where} key 'frames' should be a non-empty list of frame names")
        for frame in frames:
            _plain_name(frame, "frame name", meta_path, where)
        for exp_id, exp in get(video, "expressions", meta_path, where, dict).items():
            entries.append(_parse_expression(vid, str(exp_id), exp, frames, masks, meta_path, mask_path))
    return RVOSDataset(name, split, entries, lambda e: _build(e, folder, masks, mask_path, name))


def read_synthref(root, split: str) -> RVOSDataset:
    """SynthRef split (MeViS layout); adds `category` and extra["held_out"] from synthref_meta.json."""
    dataset = read_mevis(root, split, name="synthref")
    extra_path = Path(root) / split / "synthref_meta.json"
    if extra_path.is_file():
        videos = get(load_json(extra_path), "videos", extra_path, "the top level", dict)
        held = {(vid, str(e)) for vid, v in videos.items() for e in v.get("held_out_expressions", [])}
        dataset.entries = [_with_extra(e, held_out=(e.video_id, e.expression_id) in held)
                           for e in dataset.entries]
    return dataset


def _plain_name(name: str, what: str, meta_path: Path, where: str) -> None:
    """DatasetError when a video id or frame name would lead out of the dataset ("../", "/abs", "a/b")."""
    try:
        path_component(name, what)
    except InputError as err:
        raise DatasetError(f"{meta_path}: {where}: {err}; refused") from None


def _check_rle_size(rle, mask_path: Path, where: str) -> None:
    """DatasetError for an RLE whose declared size would make a mask over the pixel budget (a few bytes of
    JSON can declare 100000 x 100000)."""
    size = rle.get("size") if isinstance(rle, dict) else None
    if isinstance(size, list) and len(size) == 2 and all(isinstance(v, int) for v in size) and \
            size[0] * size[1] > DEFAULT_MAX_PIXELS:
        raise DatasetError(f"{mask_path}: {where} declares a {size[1]}x{size[0]} mask; at most "
                           f"{DEFAULT_MAX_PIXELS} pixels (3840x2160) are accepted")


def _with_extra(entry: _Entry, **extra) -> _Entry:
    return _Entry(**{**entry.__dict__, "extra": {**entry.extra, **extra}})


def _parse_expression(vid, exp_id, exp, frames, masks, meta_path, mask_path) -> _Entry:
    where = f"videos['{vid}'] expression '{exp_id}'"
    text = get(exp, "exp", meta_path, where, str)
    obj_ids = exp.get("obj_id", [])
    obj_ids = [obj_ids] if isinstance(obj_ids, (int, str)) else obj_ids
    anno_ids: list = []
    if masks is not None:
        anno_ids = get(exp, "anno_id", meta_path, where, list)
        for a in anno_ids:
            track = masks.get(str(a))
            if not isinstance(track, list):
                raise DatasetError(f"{mask_path}: key '{a}' (anno_id of {where}) is missing or not a list")
            if len(track) != len(frames):
                raise DatasetError(f"{mask_path}: key '{a}' has {len(track)} masks but {meta_path} lists "
                                   f"{len(frames)} frames for video '{vid}'")
    category = exp.get("category") if isinstance(exp.get("category"), str) else None
    return _Entry(vid, exp_id, text, frames, tuple(int(o) for o in obj_ids), tuple(str(a) for a in anno_ids),
                  category, {"has_annotations": masks is not None})


def _build(entry: _Entry, folder: Path, masks, mask_path: Path, name: str) -> RVOSSample:
    frame_dir = folder / "JPEGImages" / entry.video_id
    paths = [find_frame(frame_dir, f) for f in entry.frames]
    target = _union_masks(entry, masks, mask_path) if masks is not None else None
    if target is None:
        h, w = image_size(paths[0])
        target = np.zeros((len(paths), h, w), dtype=bool)
    return RVOSSample(dataset=name, video_id=entry.video_id, expression_id=entry.expression_id,
                      expression=entry.expression, frame_names=list(entry.frames),
                      load_frames=frame_loader(paths),
                      target_masks=target, object_ids=entry.object_ids, category=entry.category,
                      extra={**entry.extra, "anno_ids": list(entry.anno_ids)},
                      load_object_masks=None if masks is None else
                      lambda: _object_masks(entry, masks, mask_path, target.shape))


def _object_masks(entry: _Entry, masks: dict, mask_path: Path, shape: tuple) -> np.ndarray:
    """bool [K, T, H, W]: each anno_id's mask track (all False where its mask is null)."""
    out = np.zeros((len(entry.anno_ids),) + tuple(shape), dtype=bool)
    for k, a in enumerate(entry.anno_ids):
        for t, rle in enumerate(masks[a]):
            if rle is not None:
                _check_rle_size(rle, mask_path, f"key '{a}' frame {t}")
                out[k, t] = decode_rle_checked(rle, mask_path, f"key '{a}' frame {t}")
    return out


def _union_masks(entry: _Entry, masks: dict, mask_path: Path):
    """bool [T, H, W] union of the anno_ids' masks, or None when no frame has any mask to size it."""
    out = None
    for a in entry.anno_ids:
        for t, rle in enumerate(masks[a]):
            if rle is None:
                continue
            _check_rle_size(rle, mask_path, f"key '{a}' frame {t}")
            m = decode_rle_checked(rle, mask_path, f"key '{a}' frame {t}")
            if out is None:
                out = np.zeros((len(entry.frames),) + m.shape, dtype=bool)
            if m.shape != out.shape[1:]:
                raise DatasetError(f"{mask_path}: key '{a}' frame {t} is {m.shape}, "
                                   f"other masks are {out.shape[1:]}")
            out[t] |= m
    return out
