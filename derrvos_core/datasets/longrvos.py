"""Long-RVOS reader (layout of github.com/iSEE-Laboratory/Long_RVOS).

    <root>/<split>/JPEGImages/<video>/<frame>.jpg
    <root>/<split>/Annotations/<video>/<obj_id>/<frame>.png   binary mask (0 / 255) of one object;
                                                              a missing file means the object is absent
    <root>/<split>/meta_expressions.json  {"videos": {vid: {"frames": [...], "expressions": {exp_id:
                                           {"exp": str, "obj_id": int or str, "type": type}}}}}
                                           with type "static", "dynamic" or "hybrid"

Targets are often absent for long stretches; `category` carries the expression type, which the
official evaluation reports apart (and tIoU / vIoU next to J&F).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from derrvos_core.datasets.common import RVOSDataset, find_frame, frame_loader, get, image_size, load_json
from derrvos_core.datasets.types import RVOSSample
from derrvos_core.errors import DatasetError


@dataclass(frozen=True)
class _Entry:
    video_id: str
    expression_id: str
    expression: str
    frames: tuple
    obj_id: str
    category: str | None


def read_longrvos(root, split: str) -> RVOSDataset:
    """One sample per expression of root/split ("train", "valid", "test")."""
    folder = Path(root) / split
    meta_path = folder / "meta_expressions.json"
    videos = get(load_json(meta_path), "videos", meta_path, "the top level", dict)
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
            kind = exp.get("type") if isinstance(exp.get("type"), str) else None
            entries.append(_Entry(vid, str(exp_id), text, frames, str(obj), kind))
    return RVOSDataset("longrvos", split, entries, lambda e: _build(e, folder, annotated))


def _build(entry: _Entry, folder: Path, annotated: bool) -> RVOSSample:
    paths = [find_frame(folder / "JPEGImages" / entry.video_id, f) for f in entry.frames]
    h, w = image_size(paths[0])
    target = np.zeros((len(paths), h, w), dtype=bool)
    mask_dir = folder / "Annotations" / entry.video_id / entry.obj_id
    if annotated and mask_dir.is_dir():
        for t, frame in enumerate(entry.frames):
            png = mask_dir / f"{frame}.png"
            if png.is_file():
                m = _read_binary(png)
                if m.shape != (h, w):
                    raise DatasetError(f"{png}: mask is {m.shape}, frame is {(h, w)}")
                target[t] = m != 0
    obj = int(entry.obj_id) if entry.obj_id.lstrip("-").isdigit() else entry.obj_id
    return RVOSSample(dataset="longrvos", video_id=entry.video_id, expression_id=entry.expression_id,
                      expression=entry.expression, frame_names=list(entry.frames),
                      load_frames=frame_loader(paths),
                      target_masks=target, object_ids=(obj,), category=entry.category,
                      extra={"has_annotations": annotated})


def _read_binary(path: Path) -> np.ndarray:
    """bool [H, W] of a 0/255 mask PNG (grey, palette or RGB, as the official evaluation's imread accepts)."""
    try:
        with Image.open(path) as img:
            arr = np.asarray(img if img.mode in ("P", "L", "1") else img.convert("L"))
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read the PNG ({exc})") from exc
    return arr != 0
