"""Ref-YouTube-VOS reader (also the layout RVOS codebases convert Ref-DAVIS17 into).

    <root>/meta_expressions/<split>/meta_expressions.json
        {"videos": {vid: {"frames": [...], "expressions": {exp_id: {"exp": str, "obj_id": "1"}}}}}
    <root>/<split>/JPEGImages/<video>/<frame>.jpg
    <root>/<split>/Annotations/<video>/<frame>.png   palette PNG of object ids (train only)
    <root>/<split>/meta.json                         {"videos": {vid: {"objects": {"1": {"category": ...}}}}}

A split without Annotations (the server-evaluated "valid" / "test") yields all-empty targets
with extra["has_annotations"] = False.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from derrvos_core.datasets.common import (RVOSDataset, find_frame, frame_loader, get, image_size, load_json,
                                          read_id_png)
from derrvos_core.datasets.types import RVOSSample
from derrvos_core.errors import DatasetError


@dataclass(frozen=True)
class YtvosEntry:
    video_id: str
    expression_id: str
    expression: str
    frames: tuple
    obj_id: int
    extra: dict


def read_refytvos(root, split: str) -> RVOSDataset:
    """One sample per expression of Ref-YouTube-VOS split `split` ("train", "valid", "test")."""
    return read_ytvos_layout(root, split, "refytvos")


def read_ytvos_layout(root, split: str, name: str, extra_of=None) -> RVOSDataset:
    """The Ref-YouTube-VOS layout under `root`; `extra_of(exp_id) -> dict` adds reader-specific extras."""
    root = Path(root)
    meta_path = root / "meta_expressions" / split / "meta_expressions.json"
    videos = get(load_json(meta_path), "videos", meta_path, "the top level", dict)
    folder = root / split
    objects = _object_categories(folder / "meta.json")
    annotated = (folder / "Annotations").is_dir()
    entries = []
    for vid, video in videos.items():
        where = f"videos['{vid}']"
        frames = tuple(get(video, "frames", meta_path, where, list))
        if not frames or not all(isinstance(f, str) for f in frames):
            raise DatasetError(f"{meta_path}: {where} key 'frames' should be a non-empty list of frame names")
        for exp_id, exp in get(video, "expressions", meta_path, where, dict).items():
            ewhere = f"{where} expression '{exp_id}'"
            text = get(exp, "exp", meta_path, ewhere, str)
            obj = get(exp, "obj_id", meta_path, ewhere, (str, int))
            try:
                obj_id = int(obj)
            except ValueError:
                raise DatasetError(f"{meta_path}: {ewhere} key 'obj_id' should be an integer id, "
                                   f"got {obj!r}") from None
            extra = {"has_annotations": annotated, "object_category": objects.get((vid, str(obj_id)))}
            extra.update(extra_of(str(exp_id)) if extra_of else {})
            entries.append(YtvosEntry(vid, str(exp_id), text, frames, obj_id, extra))
    frames_dir, masks_dir = folder / "JPEGImages", folder / "Annotations"
    return RVOSDataset(name, split, entries,
                       lambda e: build_ytvos_sample(e, frames_dir, masks_dir, name, annotated))


def _object_categories(path: Path) -> dict:
    """(video, obj_id) -> category from meta.json when the split ships one."""
    if not path.is_file():
        return {}
    videos = get(load_json(path), "videos", path, "the top level", dict)
    out = {}
    for vid, video in videos.items():
        for obj_id, obj in get(video, "objects", path, f"videos['{vid}']", dict).items():
            out[(vid, str(obj_id))] = obj.get("category") if isinstance(obj, dict) else None
    return out


def build_ytvos_sample(entry: YtvosEntry, frames_dir: Path, masks_dir: Path, name: str,
                       annotated: bool) -> RVOSSample:
    """Frames from frames_dir/<vid>/, target = (palette id == obj_id) from masks_dir/<vid>/<frame>.png."""
    paths = [find_frame(frames_dir / entry.video_id, f) for f in entry.frames]
    h, w = image_size(paths[0])
    target = np.zeros((len(paths), h, w), dtype=bool)
    if annotated:
        for t, frame in enumerate(entry.frames):
            png = masks_dir / entry.video_id / f"{frame}.png"
            if png.is_file():  # frames without a PNG are unannotated: empty target
                ids = read_id_png(png)
                if ids.shape != (h, w):
                    raise DatasetError(f"{png}: mask is {ids.shape}, frame is {(h, w)}")
                target[t] = ids == entry.obj_id
    return RVOSSample(dataset=name, video_id=entry.video_id, expression_id=entry.expression_id,
                      expression=entry.expression, frame_names=list(entry.frames),
                      load_frames=frame_loader(paths),
                      target_masks=target, object_ids=(entry.obj_id,), category=None, extra=dict(entry.extra))
