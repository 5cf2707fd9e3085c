"""Scores against RealRef ground truth: boxes on keyframes, drawn masks on a few (docs/realref_protocol.md).

A prediction is a plain mask stack, so any model (or baseline) can be scored: bool [T, H, W] (the answer,
the union of the selected objects) or a sequence of K bool [T, H, W], one per selected object.

Definitions, per expression (frames are clip-relative; a box is (x0, y0, x1, y1) in pixel edges; the box
of a mask is its tightest enclosing box; "empty" is no box / no mask pixel):
- box frames (realref.box_frames): the frames on which every target has a box entry (a box, or null =
  not visible); for a no-target expression, every keyframe of the clip.
- box_iou: mean over box frames of IoU(box of the predicted union mask, union box of the targets' boxes);
  a frame where both are empty scores 1, where one is empty 0.
- matched_box_iou (only for per-object predictions): each target is matched to at most one predicted
  object (Hungarian, maximising the sum of per-object box_iou over box frames, same empty rules); the score
  is the sum of matched box_iou over max(targets, predicted objects non-empty on some box frame), so a
  missing target and a spurious object both cost; 1 when both counts are 0.
- tIoU (DESIGN.md §5) on box frames: |frames with a target box ∩ frames with a prediction| / |their union|.
- J, F, JF (derrvos_core.metrics.j_and_f) on the mask frames (realref.mask_frames): the union of the targets'
  drawn masks against the predicted union; None when the expression has no mask frame.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from derrvos_core.datasets.realref import box_frames, mask_frames, object_masks
from derrvos_core.datasets.realref_format import RealRefClip
from derrvos_core.errors import InputError
from derrvos_core.metrics import j_and_f

Box = tuple  # (x0, y0, x1, y1)


@dataclass(frozen=True)
class RealRefScore:
    """One expression's scores (definitions in the module docstring); None where not defined."""

    box_iou: float
    matched_box_iou: float | None
    tIoU: float
    J: float | None
    F: float | None
    JF: float | None
    num_box_frames: int
    num_mask_frames: int

    def as_dict(self) -> dict:
        return asdict(self)


def mask_box(mask: np.ndarray) -> Box | None:
    """Tightest (x0, y0, x1, y1) around a bool [H, W] mask (x1, y1 one past the last pixel); None if empty."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return None
    return (float(cols[0]), float(rows[0]), float(cols[-1] + 1), float(rows[-1] + 1))


def union_box(boxes: Iterable[Box | None]) -> Box | None:
    """The box around every non-None box; None when there is none."""
    present = [b for b in boxes if b is not None]
    if not present:
        return None
    return (min(b[0] for b in present), min(b[1] for b in present),
            max(b[2] for b in present), max(b[3] for b in present))


def box_iou(a: Box | None, b: Box | None) -> float:
    """IoU of two boxes; 1 when both are None, 0 when one is."""
    if a is None or b is None:
        return float(a is None and b is None)
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def score_realref(pred, clip: RealRefClip, expression_id: str) -> RealRefScore:
    """Scores of a prediction (bool [T, H, W], or a sequence of K of them, one per object) for one
    expression of `clip`."""
    if expression_id not in clip.expressions:
        raise InputError(f"{clip.clip_id} has no expression '{expression_id}'")
    per_object = _per_object(pred, clip)
    union = per_object.any(axis=0) if per_object.shape[0] else np.zeros(per_object.shape[1:], dtype=bool)
    expression = clip.expressions[expression_id]
    frames = box_frames(clip, expression)
    gt_boxes = [[clip.objects[o].boxes[t] for t in frames] for o in expression.obj_ids]  # [K_gt][F]
    gt_union = [union_box(col) for col in zip(*gt_boxes)] if gt_boxes else [None] * len(frames)
    pred_union = [mask_box(union[t]) for t in frames]
    ious = [box_iou(p, g) for p, g in zip(pred_union, gt_union)]
    gt_on = np.array([g is not None for g in gt_union], dtype=bool)
    pred_on = np.array([p is not None for p in pred_union], dtype=bool)
    either = np.count_nonzero(gt_on | pred_on)
    t_iou = 1.0 if either == 0 else float(np.count_nonzero(gt_on & pred_on) / either)
    matched = None
    if not isinstance(pred, np.ndarray):
        pred_boxes = [[mask_box(m[t]) for t in frames] for m in per_object]
        matched = _matched_box_iou(gt_boxes, pred_boxes)
    j = f = jf = None
    masked = mask_frames(clip, expression)
    if masked:
        gt = object_masks(clip, expression.obj_ids)[:, masked].any(axis=0)
        score = j_and_f(gt, union[masked])
        j, f, jf = score["J"], score["F"], score["JF"]
    return RealRefScore(box_iou=float(np.mean(ious)) if ious else 1.0, matched_box_iou=matched, tIoU=t_iou,
                        J=j, F=f, JF=jf, num_box_frames=len(frames), num_mask_frames=len(masked))


def summarize_realref(scored: Iterable[tuple[str, RealRefScore]]) -> dict:
    """{"all": {...}, <category>: {...}}: count and the mean of each score over the expressions where it
    is defined (J/F/JF over masked expressions only, with their count as mask_count)."""
    groups: dict = defaultdict(list)
    for category, score in scored:
        groups["all"].append(score)
        groups[category].append(score)
    return {name: _means(scores) for name, scores in groups.items()}


def _means(scores: list) -> dict:
    out: dict = {"count": len(scores)}
    for key in ("box_iou", "matched_box_iou", "tIoU", "J", "F", "JF"):
        values = [getattr(s, key) for s in scores if getattr(s, key) is not None]
        out[key] = float(np.mean(values)) if values else None
    out["mask_count"] = sum(s.JF is not None for s in scores)
    return out


def _per_object(pred, clip: RealRefClip) -> np.ndarray:
    """bool [K, T, H, W] from either prediction form, checked against the clip's size."""
    shape = (clip.num_frames, clip.height, clip.width)
    if isinstance(pred, np.ndarray):
        stack = pred[None]
    else:
        stack = np.stack([np.asarray(m) for m in pred]) if len(pred) else np.zeros((0,) + shape, dtype=bool)
    if stack.shape[1:] != shape:
        raise InputError(f"prediction masks are {stack.shape[1:]}, clip {clip.clip_id} is [T, H, W] = {shape}")
    return stack.astype(bool, copy=False)


def _matched_box_iou(gt_boxes: Sequence[list], pred_boxes: Sequence[list]) -> float:
    present = [p for p in pred_boxes if any(b is not None for b in p)]
    denom = max(len(gt_boxes), len(present))
    if denom == 0:
        return 1.0
    if not gt_boxes or not present:
        return 0.0
    sim = np.array([[np.mean([box_iou(a, b) for a, b in zip(g, p)]) for p in present] for g in gt_boxes])
    rows, cols = linear_sum_assignment(-sim)
    return float(sim[rows, cols].sum() / denom)
