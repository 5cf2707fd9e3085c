"""Sizes of what the service caches: decoded frames and model results, each in a `derrvos_core.lru.LRUCache`.

Budgets (`StudioConfig`): `frame_cache_mb` of decoded frames, `result_cache_mb` of model results, both
over all sessions; the model's own per-frame cache is `segment_cache_mb` (`derrvos_core.model.SegmentCache`,
bounded the same way). What a session alone used is dropped when it ends (`LRUCache.discard`).
"""
from __future__ import annotations

import sys

import numpy as np

from derrvos_core.lru import LRUCache
from derrvos_core.result import SegmentationResult

__all__ = ["LRUCache", "frame_bytes", "result_bytes"]


def frame_bytes(frame: np.ndarray) -> int:
    return int(frame.nbytes)


_RLE_OVERHEAD = sys.getsizeof({}) + sys.getsizeof([0, 0]) + 2 * sys.getsizeof(0)
"""A COCO RLE dict's own bytes beside its counts string (the dict, its "size" list and two ints)."""
_TRAJECTORY_OVERHEAD = 400
"""A TrajectoryResult's fields and its tuple of per-frame RLEs, beside the RLEs themselves."""


def result_bytes(result: SegmentationResult) -> int:
    """Approximate bytes a model result holds in memory: its RLE strings and the objects around them."""
    total = sys.getsizeof(result.trajectories)
    for t in result.trajectories:
        total += _TRAJECTORY_OVERHEAD + 8 * len(t.rles)
        for rle in t.rles:
            if rle is not None:
                total += _RLE_OVERHEAD + sys.getsizeof(rle["counts"])
    return total
