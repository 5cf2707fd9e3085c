"""A cache of per-frame work, so a second query on the same video skips what does not change.

A trajectory branch's `frame_features` and a multimodal branch's `frame_tokens` treat each frame on its
own (see `branches`), so both are kept per frame: a new crop size re-runs only the per-crop steps
(`trajectories`, the selector), and a new expression re-runs `frame_tokens` but not `frame_features`.
The frames a branch's output masks read (`MaskOutput.mask_guide`, the upsampler's small copy of
each frame) are kept per frame too, so a new crop size does not decode the video again.
A new threshold needs no model at all (`SegmentationResult.select`).

Entries are keyed by the video's content (a hash of its bytes, not its name), the model's version,
the branch's `key` (input size, device), the frame index and, for tokens, the expression as read. The
caller owns the cache object (one per app or process); it is never global. Least recently used frames
are dropped once the held bytes pass `max_bytes`.
"""
from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from derrvos_core.errors import InputError
from derrvos_core.lru import LRUCache

from .branches import Expression, FrameFeatures, SegmentationModel


@dataclass
class CacheStats:
    """Counts since the cache was made, per frame (a 36-frame crop served from the cache = 36 hits)."""

    feature_hits: int = 0
    feature_misses: int = 0
    token_hits: int = 0
    token_misses: int = 0
    guide_hits: int = 0
    guide_misses: int = 0
    evictions: int = 0


class SegmentCache:
    """LRU of per-frame features and tokens, bounded in bytes.

    What is kept of a frame is what its `frame(i)` returns (DVIS++: the query embeddings and mask
    features the tracker and refiner read, not the segmenter's own logits). Tensors stay on the
    model's device. Not thread-safe: use it where the model is used (under the service's model lock).

    Args:
        max_bytes: bound on the tensors held (the tiny model at 128 px: ~0.3 MB per frame for the
            segmenter and ~50 kB per frame and expression for tokens; the full model: ~10 MB per frame).
    """

    def __init__(self, max_bytes: int = 1 << 30):
        if max_bytes < 0:
            raise InputError(f"max_bytes must be >= 0, got {max_bytes}")
        self.max_bytes = int(max_bytes)
        self.stats = CacheStats()
        self._entries: LRUCache[FrameFeatures | None] = LRUCache(
            self.max_bytes, size=lambda value: 0 if value is None else value.nbytes)
        self._file_hashes: dict[tuple, str] = {}

    @property
    def nbytes(self) -> int:
        return self._entries.nbytes

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()

    # -- keys ---------------------------------------------------------------------------------------
    def video_key(self, video) -> str:
        """Content hash of a video (path, frame folder, uint8 array or VideoReader); files are hashed
        once per (path, size, modification time)."""
        if isinstance(video, np.ndarray):
            digest = hashlib.blake2b(digest_size=16)
            digest.update(repr((video.shape, video.dtype.str)).encode())
            digest.update(np.ascontiguousarray(video).data)
            return "array:" + digest.hexdigest()
        path = Path(video if isinstance(video, (str, os.PathLike)) else video.info.path).resolve()
        files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
        stamp = (str(path), tuple((f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in files))
        if stamp not in self._file_hashes:
            digest = hashlib.blake2b(digest_size=16)
            for f in files:
                digest.update(f.name.encode() if path.is_dir() else b"")
                with open(f, "rb") as handle:
                    for block in iter(lambda: handle.read(1 << 20), b""):
                        digest.update(block)
            self._file_hashes[stamp] = "file:" + digest.hexdigest()
        return self._file_hashes[stamp]

    # -- per-frame steps ----------------------------------------------------------------------------
    def frame_features(self, model: SegmentationModel, video_key: str, start: int, stop: int,
                       prepared: Callable[[], Any]) -> FrameFeatures:
        """`model.trajectory.frame_features` of frames [start, stop): from the cache, or computed on
        `prepared()` when any frame is missing (then all of them are stored)."""
        branch = model.trajectory
        keys = [("features", model.version, branch.key, video_key, i) for i in range(start, stop)]
        return self._per_frame("feature", keys, lambda: branch.frame_features(prepared()))

    def frame_tokens(self, model: SegmentationModel, video_key: str, start: int, stop: int,
                     expression: Expression, prepared: Callable[[], Any]) -> FrameFeatures | None:
        """`model.multimodal.frame_tokens` of frames [start, stop) with `expression` (None is kept too:
        a branch without per-frame tokens does not make the frames be decoded again)."""
        branch = model.multimodal
        reading = (expression.text, expression.truncated)
        keys = [("tokens", model.version, branch.key, model.trajectory.key, video_key, reading, i)
                for i in range(start, stop)]
        return self._per_frame("token", keys, lambda: branch.frame_tokens(prepared(), expression))

    def mask_guide(self, model: SegmentationModel, video_key: str, start: int, stop: int,
                   prepared: Callable[[], Any]) -> FrameFeatures | None:
        """`model.trajectory.mask_guide` (`MaskOutput`: what the output masks read of the frames) of
        frames [start, stop). A branch that reads nothing (None) stores nothing: it costs nothing."""
        branch = model.trajectory
        keys = [("guide", model.version, branch.key, video_key, i) for i in range(start, stop)]
        return self._per_frame("guide", keys, lambda: branch.mask_guide(prepared), keep_none=False)

    def _per_frame(self, kind: str, keys: list, compute: Callable[[], FrameFeatures | None],
                   keep_none: bool = True) -> FrameFeatures | None:
        """The entries of `keys` (one per frame) concatenated, or `compute()` when any is missing (then
        each of its frames is stored); `kind` names the stats counted."""
        hits = self._get_all(keys)
        if hits is None:
            value = compute()
            if value is None and not keep_none:
                return None
            setattr(self.stats, f"{kind}_misses", getattr(self.stats, f"{kind}_misses") + len(keys))
            for i, key in enumerate(keys):
                self._put(key, None if value is None else value.frame(i))
            return value
        setattr(self.stats, f"{kind}_hits", getattr(self.stats, f"{kind}_hits") + len(keys))
        return None if hits[0] is None else hits[0].concat(hits)

    # -- LRU ----------------------------------------------------------------------------------------
    def _get_all(self, keys: list) -> list | None:
        return self._entries.get_all(keys)

    def _put(self, key: Hashable, value: FrameFeatures | None) -> None:
        # `frame` copies: a view would keep the whole crop's storage alive behind a one-frame entry
        self._entries.put(key, value)
        self.stats.evictions = self._entries.evictions
