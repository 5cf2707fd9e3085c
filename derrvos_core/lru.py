"""A bounded-by-bytes, thread-safe least-recently-used map: the one cache helper of the project.

The app keeps decoded frames and model results in it (`app/cache.py` has their sizes), and the model's
per-frame work cache (`derrvos_core.model.SegmentCache`) keeps features and tokens in it.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

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
        self.evictions = 0
        """Entries dropped to stay within `max_bytes` since the cache was made."""
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
                self.evictions += 1

    def get_all(self, keys: list[Hashable]) -> list[V] | None:
        """The values of every key in `keys` (each marked recently used), or None if any is missing."""
        with self._lock:
            if not all(k in self._items for k in keys):
                return None
            for k in keys:
                self._items.move_to_end(k)
            return [self._items[k][0] for k in keys]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

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
