"""Trajectory masks at the video's size, straight to COCO RLE, upsampling only where a mask can be.

A mask is its bilinearly upsampled logits > 0 (`align_corners=False`, as `F.interpolate` and
`derrvos_core.video.resize_mask_logits` define it). Bilinear weights are >= 0, so an output pixel
can be positive only if one of its four low-resolution taps is: outside the bounding box of a
frame's positive logits (grown by one tap) the mask is empty, and a frame with no positive logit is
empty at any size. Only those boxes are computed, here in float32 with torch's tap positions and
weights and its order (width first, then height); that is cheaper than upsampling whole frames by an
order of magnitude for the small objects a trained model finds. The last float bit can differ from
torch's own kernel, so a pixel whose upsampled logit lies within ~1e-5 of 0 may fall the other way.
"""
from __future__ import annotations

import numpy as np
import torch
from pycocotools import mask as mask_utils

#: Bytes of uint8 full-size masks encoded per pycocotools call (bounds memory at any video size).
BLOCK_BYTES = 64 << 20


def linear_taps(size_in: int, size_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per output index: (first tap, second tap, their weights) of `align_corners=False` linear
    resampling, computed in float32 as torch computes them."""
    scale = np.float32(size_in) / np.float32(size_out)
    src = scale * (np.arange(size_out, dtype=np.float32) + np.float32(0.5)) - np.float32(0.5)
    src = np.maximum(src, np.float32(0))
    first = np.minimum(np.floor(src).astype(np.int64), size_in - 1)
    weight = np.clip(src - first.astype(np.float32), 0, 1).astype(np.float32)
    second = np.where(first < size_in - 1, first + 1, first)
    return first, second, (np.float32(1) - weight).astype(np.float32), weight


class _Taps:
    def __init__(self, size_in: int, size_out: int):
        self.first, self.second, self.w_first, self.w_second = linear_taps(size_in, size_out)

    def span(self, lo: int, hi: int) -> slice:
        """Output indices with a tap in [lo, hi] (taps are non-decreasing in the output index)."""
        return slice(int(np.searchsorted(self.second, lo, "left")),
                     int(np.searchsorted(self.first, hi, "right")))


def _upsampled_box(logits: np.ndarray, rows: _Taps, cols: _Taps) -> tuple[slice, slice, np.ndarray] | None:
    """(row span, column span, bool block) of one frame's mask where it can be positive, or None."""
    positive = logits > 0
    r = np.flatnonzero(positive.any(axis=1))
    c = np.flatnonzero(positive.any(axis=0))
    if r.size == 0:
        return None
    ys, xs = rows.span(r[0], r[-1]), cols.span(c[0], c[-1])
    # width first on the low-resolution rows, then rows are copied out: the same sums per pixel
    across = logits[:, cols.first[xs]] * cols.w_first[xs] + logits[:, cols.second[xs]] * cols.w_second[xs]
    upper, lower = across[rows.first[ys]], across[rows.second[ys]]
    block = upper * rows.w_first[ys, None] + lower * rows.w_second[ys, None] > 0
    return (ys, xs, block) if block.any() else None


def trajectory_rles(mask_logits: torch.Tensor, size: tuple[int, int]) -> list[tuple]:
    """Per trajectory, per frame, the COCO RLE dict of its mask at `size`, or None where it is empty.

    Args:
        mask_logits: float [N, t, h, w] at the model's mask resolution (any device).
        size: (H, W) of the video.
    Returns:
        N tuples of t entries: {"size": [H, W], "counts": str} or None.
    """
    logits = mask_logits.detach().float().cpu().numpy()
    n, t, h, w = logits.shape
    if n == 0 or t == 0:  # a crop where the branch found nothing (an empty road, a black frame)
        return [tuple([None] * t) for _ in range(n)]
    height, width = int(size[0]), int(size[1])
    rows, cols = _Taps(h, height), _Taps(w, width)
    out: list[list] = [[None] * t for _ in range(n)]
    boxes = []
    for traj, frame in zip(*np.nonzero((logits > 0).reshape(n, t, -1).any(axis=2))):
        box = _upsampled_box(logits[traj, frame], rows, cols)
        if box is not None:
            boxes.append((traj, frame, box))
    per_call = max(1, BLOCK_BYTES // max(1, height * width))
    for i in range(0, len(boxes), per_call):
        part = boxes[i:i + per_call]
        # pycocotools reads column-major [H, W, B]; each mask is pasted into its zeroed slab
        masks = np.zeros((height, width, len(part)), dtype=np.uint8, order="F")
        for k, (_, _, (ys, xs, block)) in enumerate(part):
            masks[ys, xs, k] = block
        for (traj, frame, _), rle in zip(part, mask_utils.encode(masks)):
            out[traj][frame] = {"size": [height, width], "counts": rle["counts"].decode("ascii")}
    return [tuple(row) for row in out]
