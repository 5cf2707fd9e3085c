"""RVOS metrics, value for value as the official evaluation code computes them (DESIGN.md §5).

- J and F follow davis2017-evaluation `davis2017/metrics.py` (`db_eval_iou`, `db_eval_boundary`),
  which MeViS `tools/eval_mevis.py` and Long-RVOS reuse unchanged, empty frames included.
- tIoU and vIoU follow Long-RVOS `eval/eval_long_rvos/eval_*.py`.
- mIoU and oIoU are the RefCOCO-style per-sample mean and cumulative ratio.

Everything is vectorised over frames: the official F dilates every boundary map with a disk in
OpenCV; here each boundary pixel instead asks whether the other boundary has a pixel inside the disk
around it, answered with a binary search per disk row. The answer is the same set (checked against the
official code in tests and `scripts/bench_metrics.py`) without building dilated images.
"""
from __future__ import annotations

import math
from typing import Iterable

import numpy as np

from derrvos_core.errors import InputError

BOUND_TH = 0.008
"""Boundary tolerance of DAVIS F: a fraction of the image diagonal (< 1) or whole pixels (>= 1)."""

_CHUNK_PIXELS = 1 << 22  # frames are scored in blocks of about this many pixels to bound temporaries


def region_similarity(gt: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """J per frame: float64 [T] of |G∩P| / |G∪P|, 1 where both are empty. [H, W] inputs give [1]."""
    gt, pred = _as_frames(gt, pred)
    num = gt.shape[0]
    inter = np.count_nonzero((gt & pred).reshape(num, -1), axis=1)
    union = np.count_nonzero((gt | pred).reshape(num, -1), axis=1)
    j = np.divide(inter, union, out=np.ones(num, dtype=np.float64), where=union > 0)
    return j


def boundary_f(gt: np.ndarray, pred: np.ndarray, bound_th: float = BOUND_TH) -> np.ndarray:
    """DAVIS boundary F per frame: float64 [T]. Both boundaries empty → 1, one empty → 0."""
    gt, pred = _as_frames(gt, pred)
    num, height, width = gt.shape
    radius = _tolerance_pixels(bound_th, height, width)
    rows = [(dy, math.isqrt(radius * radius - dy * dy)) for dy in _rows_nearest_first(radius)]
    n_pred, n_gt, pred_hit, gt_hit = (np.zeros(num, dtype=np.int64) for _ in range(4))
    step = max(1, _CHUNK_PIXELS // max(1, height * width))
    for start in range(0, num, step):
        chunk = slice(start, min(num, start + step))
        pred_bd = np.flatnonzero(_boundary_map(pred[chunk]))
        gt_bd = np.flatnonzero(_boundary_map(gt[chunk]))
        count = chunk.stop - chunk.start
        shape = (count, height, width)
        n_pred[chunk] = np.bincount(pred_bd // (height * width), minlength=count)
        n_gt[chunk] = np.bincount(gt_bd // (height * width), minlength=count)
        pred_hit[chunk] = _matched_per_frame(pred_bd, gt_bd, shape, rows)
        gt_hit[chunk] = _matched_per_frame(gt_bd, pred_bd, shape, rows)
    return _f_from_counts(n_pred, n_gt, pred_hit, gt_hit)


def j_and_f(gt: np.ndarray, pred: np.ndarray) -> dict:
    """One expression's video (MeViS / DAVIS style): dict(J=mean J, F=mean F, JF=(J+F)/2) as floats."""
    j = float(region_similarity(gt, pred).mean())
    f = float(boundary_f(gt, pred).mean())
    return {"J": j, "F": f, "JF": (j + f) / 2}


def mean_j_and_f(scores: Iterable[dict]) -> dict:
    """Benchmark score over expressions (eval_mevis.py): mean J, mean F, and JF = their mean."""
    scores = list(scores)
    if not scores:
        raise InputError("mean_j_and_f needs at least one expression's scores")
    j = float(np.mean([s["J"] for s in scores]))
    f = float(np.mean([s["F"] for s in scores]))
    return {"J": j, "F": f, "JF": (j + f) / 2}


def temporal_iou(gt: np.ndarray, pred: np.ndarray) -> float:
    """Long-RVOS tIoU: |frames with GT ∩ frames with a prediction| / |their union|; 1 if none."""
    gt, pred = _as_frames(gt, pred)
    gt_on, pred_on = _frames_present(gt), _frames_present(pred)
    union = np.count_nonzero(gt_on | pred_on)
    return 1.0 if union == 0 else float(np.count_nonzero(gt_on & pred_on) / union)


def video_iou(gt: np.ndarray, pred: np.ndarray) -> float:
    """Long-RVOS vIoU: Σ J_t over frames where both are present / |frames where either is|; 1 if none."""
    gt, pred = _as_frames(gt, pred)
    gt_on, pred_on = _frames_present(gt), _frames_present(pred)
    union = np.count_nonzero(gt_on | pred_on)
    if union == 0:
        return 1.0
    both = gt_on & pred_on
    if not both.any():  # present in some frames, never together: nothing overlaps
        return 0.0
    return float(region_similarity(gt[both], pred[both]).sum() / union)


def mean_iou(pairs: Iterable[tuple[np.ndarray, np.ndarray]]) -> float:
    """mIoU: mean over (gt, pred) samples of I/U; a sample with both masks empty scores 1."""
    inter, union = _pair_counts(pairs)
    return float(np.divide(inter, union, out=np.ones(len(inter)), where=union > 0).mean())


def overall_iou(pairs: Iterable[tuple[np.ndarray, np.ndarray]]) -> float:
    """oIoU: Σ I / Σ U over (gt, pred) samples (cumulative IoU); 1 when every mask is empty."""
    inter, union = _pair_counts(pairs)
    return 1.0 if union.sum() == 0 else float(inter.sum() / union.sum())


def _as_frames(gt, pred) -> tuple[np.ndarray, np.ndarray]:
    """bool [T, H, W] views of two equally shaped mask stacks (non-zero = foreground)."""
    gt, pred = np.asarray(gt), np.asarray(pred)
    if gt.shape != pred.shape:
        raise InputError(f"ground truth {gt.shape} and prediction {pred.shape} differ in shape")
    if gt.ndim == 2:
        gt, pred = gt[None], pred[None]
    elif gt.ndim != 3:
        raise InputError(f"masks must be [T, H, W] or [H, W], got shape {gt.shape}")
    if gt.shape[0] == 0 or gt.shape[1] == 0 or gt.shape[2] == 0:
        raise InputError(f"masks must not be empty, got shape {gt.shape}")
    return gt.astype(bool, copy=False), pred.astype(bool, copy=False)


def _frames_present(masks: np.ndarray) -> np.ndarray:
    return masks.reshape(masks.shape[0], -1).any(axis=1)


def _pair_counts(pairs) -> tuple[np.ndarray, np.ndarray]:
    inter, union = [], []
    for i, (gt, pred) in enumerate(pairs):
        gt, pred = np.asarray(gt).astype(bool, copy=False), np.asarray(pred).astype(bool, copy=False)
        if gt.shape != pred.shape:
            raise InputError(f"sample {i}: ground truth {gt.shape} and prediction {pred.shape} "
                             "differ in shape")
        inter.append(np.count_nonzero(gt & pred))
        union.append(np.count_nonzero(gt | pred))
    if not inter:
        raise InputError("no (gt, pred) samples given")
    return np.asarray(inter, dtype=np.int64), np.asarray(union, dtype=np.int64)


def _tolerance_pixels(bound_th: float, height: int, width: int) -> int:
    """Disk radius in pixels, as `f_measure` derives it from the frame diagonal."""
    if bound_th >= 1:
        if bound_th != int(bound_th):
            raise InputError(f"a boundary tolerance of >= 1 is in whole pixels, got {bound_th}")
        return int(bound_th)
    return int(np.ceil(bound_th * np.linalg.norm((height, width))))


def _rows_nearest_first(radius: int) -> list[int]:
    # Most boundary pixels match on their own row; trying it first lets later rows skip them.
    return [0] + [d for k in range(1, radius + 1) for d in (k, -k)]


def _boundary_map(seg: np.ndarray) -> np.ndarray:
    """bool [T, H, W]: seg2bmap of each frame, a pixel that differs from its right, lower or lower-right
    neighbour (outside counts as background); the last row compares only right, the last column only
    down, and the bottom-right pixel is never a boundary, exactly as the official `_seg2bmap`."""
    num, height, width = seg.shape
    flat = np.ascontiguousarray(seg).reshape(-1)
    # Neighbours in the flat array are contiguous slices (fast); wrong pairs that wrap around a row
    # or frame land only on the last row and column, which are recomputed below.
    bmap, scratch = np.empty_like(flat), np.empty_like(flat)
    np.bitwise_xor(flat[:-1], flat[1:], out=bmap[:-1])
    for step in (width, width + 1):
        np.bitwise_xor(flat[:-step], flat[step:], out=scratch[:-step])
        bmap[:-step] |= scratch[:-step]
    bmap = bmap.reshape(num, height, width)
    bmap[:, -1, :-1] = seg[:, -1, :-1] ^ seg[:, -1, 1:]
    bmap[:, :-1, -1] = seg[:, :-1, -1] ^ seg[:, 1:, -1]
    bmap[:, -1, -1] = False
    return bmap


def _matched_per_frame(points: np.ndarray, targets: np.ndarray, shape: tuple, rows: list) -> np.ndarray:
    """Per frame, how many `points` (sorted flat indices) lie within the disk of some `targets` pixel.

    The disk is symmetric, so "a target lies in the disk around the point" is the same test. For each
    disk row dy with half-width w, the targets on row y+dy between x-w and x+w form one contiguous run of
    the sorted flat indices, found with two binary searches.
    """
    num, height, width = shape
    frame, rem = np.divmod(points, height * width)
    y, x = np.divmod(rem, width)
    hit = np.zeros(points.shape[0], dtype=bool)
    if targets.size == 0 or points.size == 0:
        return np.zeros(num, dtype=np.int64)
    todo = np.arange(points.shape[0])
    for dy, half in rows:
        yy = y[todo] + dy
        inside = (yy >= 0) & (yy < height)
        todo, yy = todo[inside], yy[inside]
        row_start = (frame[todo] * height + yy) * width
        lo = row_start + np.maximum(x[todo] - half, 0)
        hi = row_start + np.minimum(x[todo] + half, width - 1)
        found = np.searchsorted(targets, hi, side="right") > np.searchsorted(targets, lo, side="left")
        hit[todo[found]] = True
        todo = np.flatnonzero(~hit)
    return np.bincount(frame[hit], minlength=num)


def _f_from_counts(n_pred, n_gt, pred_hit, gt_hit) -> np.ndarray:
    """F from boundary pixel counts with the official empty-case rules (precision, recall)."""
    precision = np.where(n_pred == 0, 1.0, np.where(n_gt == 0, 0.0, pred_hit / np.maximum(n_pred, 1)))
    recall = np.where(n_gt == 0, 1.0, np.where(n_pred == 0, 0.0, gt_hit / np.maximum(n_gt, 1)))
    total = precision + recall
    return np.divide(2 * precision * recall, total, out=np.zeros_like(total), where=total > 0)
