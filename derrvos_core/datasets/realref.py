"""RealRef reader: real clips from packaged sample videos, box ground truth on keyframes, masks on some.

    <root>/annotations/<clip_id>.json     the shipped annotation files (realref_format.py), copied by
                                          training/realref_setup.py from assets/realref/annotations
    <root>/clips/<clip_id>/00000.jpg ...  the clip's frames, frame i = annotation frame i
    <root>/manifest.json                  what the set-up wrote and from which source file

Ground truth is a box per referred object on every keyframe (at least every 10th frame) and a drawn mask
on a few keyframes. `target_masks` therefore holds masks only on `extra["mask_frames"]` and is all False
elsewhere, which is *not* "no target": score with derrvos_core.evaluation.realref, which reads boxes on
`extra["box_frames"]` and masks on `extra["mask_frames"]`, never the other frames.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from derrvos_core.datasets.common import RVOSDataset, find_frame, frame_loader
from derrvos_core.datasets.realref_format import SPLITS, RealRefClip, RealRefExpression, load_annotations
from derrvos_core.datasets.types import RVOSSample
from derrvos_core.errors import DatasetError


def read_realref(root, split: str, annotation_dir=None) -> RVOSDataset:
    """One sample per expression of the clips in `split` ("tune", "test" or "all").

    annotation_dir: where the annotation JSONs are (default root/annotations, as the set-up writes).
    """
    if split not in SPLITS + ("all",):
        raise DatasetError(f"RealRef split '{split}' is not one of {', '.join(SPLITS + ('all',))}")
    root = Path(root)
    clips = load_annotations(annotation_dir or root / "annotations")
    entries = [(clip, exp_id) for clip in clips if split in ("all", clip.split) for exp_id in clip.expressions]
    return RVOSDataset("realref", split, entries, lambda e: _build(root / "clips", *e))


def box_frames(clip: RealRefClip, expression: RealRefExpression) -> list[int]:
    """Frames on which the expression's box ground truth is known: every target has a box entry (a box or
    null) there; for a no-target expression, every keyframe of the clip (where the answer is "nothing")."""
    if not expression.obj_ids:
        return clip.keyframes()
    return sorted(set.intersection(*(set(clip.objects[o].boxes) for o in expression.obj_ids)))


def mask_frames(clip: RealRefClip, expression: RealRefExpression) -> list[int]:
    """Frames on which every target has a drawn mask or is marked not visible, and one has a mask."""
    out = []
    drawn = {t for o in expression.obj_ids for t in clip.masks.get(o, {})}
    for t in sorted(drawn):
        if all(t in clip.masks.get(o, {}) or clip.objects[o].boxes.get(t, ()) is None
               for o in expression.obj_ids):
            out.append(t)
    return out


def object_masks(clip: RealRefClip, obj_ids) -> np.ndarray:
    """bool [K, T, H, W]: each object's drawn masks (all False on frames without one)."""
    out = np.zeros((len(obj_ids), clip.num_frames, clip.height, clip.width), dtype=bool)
    for k, obj_id in enumerate(obj_ids):
        for t in clip.masks.get(obj_id, {}):
            out[k, t] = clip.object_mask(obj_id, t)
    return out


def _build(clips_dir: Path, clip: RealRefClip, exp_id: str) -> RVOSSample:
    expression = clip.expressions[exp_id]
    folder = clips_dir / clip.clip_id
    if not folder.is_dir():
        raise DatasetError(f"{folder}: clip frames not found; run python training/realref_setup.py")
    names = [f"{i:05d}" for i in range(clip.num_frames)]
    paths = [find_frame(folder, n) for n in names]
    target = np.zeros((clip.num_frames, clip.height, clip.width), dtype=bool)
    for obj_id in expression.obj_ids:
        for t in clip.masks.get(obj_id, {}):
            target[t] |= clip.object_mask(obj_id, t)
    boxes = {o: dict(clip.objects[o].boxes) for o in expression.obj_ids}
    return RVOSSample(
        dataset="realref", video_id=clip.clip_id, expression_id=exp_id, expression=expression.text,
        frame_names=names, load_frames=frame_loader(paths), target_masks=target,
        object_ids=tuple(int(o) for o in expression.obj_ids), category=expression.category,
        extra={"split": clip.split, "boxes": boxes, "box_frames": box_frames(clip, expression),
               "mask_frames": mask_frames(clip, expression), "clip": clip, "realref_expression": expression},
        load_object_masks=lambda: object_masks(clip, expression.obj_ids))
