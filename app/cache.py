"""Bounded in-memory caches of the service: model results by `ResultKey`, decoded frames by video."""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np

from derrvos_core.result import SegmentationResult

V = TypeVar("V")


class LRUCache(Generic[V]):
    """A thread-safe least-recently-used map bounded by a total cost (entries, or bytes)."""

    def __init__(self, capacity: float, cost=lambda value: 1):
        self.capacity = capacity
        self._cost = cost
        self._items: OrderedDict[Hashable, V] = OrderedDict()
        self._total = 0.0
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key: Hashable, value: V) -> None:
        with self._lock:
            if key in self._items:
                self._total -= self._cost(self._items.pop(key))
            self._items[key] = value
            self._total += self._cost(value)
            while self._total > self.capacity and len(self._items) > 1:
                _, dropped = self._items.popitem(last=False)
                self._total -= self._cost(dropped)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._items


@dataclass(frozen=True)
class CachedResult:
    """A model result and the run it was stored as (a cache hit reuses that run and its corrections)."""

    result: SegmentationResult
    run_id: int


def frame_bytes(frame: np.ndarray) -> int:
    return int(frame.nbytes)
