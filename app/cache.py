"""A bounded-by-bytes, thread-safe LRU map: the service's decoded frames and model results live in two.

Budgets (`StudioConfig`): `frame_cache_mb` of decoded frames, `result_cache_mb` of model results, both
over all sessions; the model's own per-frame cache is `segment_cache_mb` (`derrvos_core.model.SegmentCache`,
bounded the same way). What a session alone used is dropped when it ends (`LRUCache.discard`).
"""
from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

import numpy as np

from derrvos_core.result import SegmentationResult

V = TypeVar("V")


class LRUCache(Generic[V]):
    """Least recently used entries are dropped once the values' bytes (`size(value)`) pass `max_bytes`.

    A value larger than `max_bytes` on its own is not kept (it would evict everything and still not fit).
    """

    def __init__(self, max_bytes: int, size: Callable[[V], int]):
        if max_bytes < 0:
            raise ValueError(f"max_bytes must be >= 0, got {max_bytes}")
        self.max_bytes = int(max_bytes)
        self._size = size
        self._items: OrderedDict[Hashable, tuple[V, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    @property
    def nbytes(self) -> int:
        """Bytes held now (at most `max_bytes`)."""
        return self._bytes

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key][0]

    def put(self, key: Hashable, value: V) -> None:
        size = int(self._size(value))
        with self._lock:
            self._pop(key)
            if size > self.max_bytes:
                return
            self._items[key] = (value, size)
            self._bytes += size
            while self._bytes > self.max_bytes:
                self._pop(next(iter(self._items)))

    def discard(self, keep: Callable[[Hashable], bool]) -> int:
        """Drop every entry whose key `keep(key)` refuses; returns the bytes freed."""
        with self._lock:
            before = self._bytes
            for key in [k for k in self._items if not keep(k)]:
                self._pop(key)
            return before - self._bytes

    def _pop(self, key: Hashable) -> None:
        if key in self._items:
            self._bytes -= self._items.pop(key)[1]

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._items


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
