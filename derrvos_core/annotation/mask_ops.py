"""Small mask operations shared by propagation and picking: IoU, clean-up, components at points."""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    """|a ∩ b| / |a ∪ b| of two bool masks; 1.0 when both are empty (DESIGN.md §5's J)."""
    union = np.count_nonzero(a | b)
    return 1.0 if union == 0 else float(np.count_nonzero(a & b) / union)


def clean_radius(size: tuple[int, int]) -> int:
    """Clean-up radius in pixels for a frame of (H, W): 0.4% of the diagonal, at least 1 (4 px at 768x576)."""
    return max(1, round(0.004 * float(np.hypot(*size))))


def clean_mask(mask: np.ndarray, radius: int) -> np.ndarray:
    """bool mask closed then opened with a disc of `radius`: pin holes filled, specks and threads gone.

    A mask that the opening would erase entirely (smaller than the disc) is kept as it was: a small
    object is still the object.
    """
    if radius < 1 or not mask.any():
        return mask
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    closed = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_CLOSE, disc)
    opened = cv2.morphologyEx(closed, cv2.MORPH_OPEN, disc)
    return opened.astype(bool) if opened.any() else closed.astype(bool)


def components_at(mask: np.ndarray, points: Sequence[tuple[int, int]]) -> np.ndarray:
    """bool mask: the 8-connected components of `mask` that hold at least one (x, y) of `points`."""
    count, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    if count <= 1:
        return np.zeros_like(mask, dtype=bool)
    keep = {int(labels[y, x]) for x, y in points if labels[y, x] > 0}
    return np.isin(labels, sorted(keep)) if keep else np.zeros_like(mask, dtype=bool)
