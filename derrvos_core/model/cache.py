"""A cache of per-frame work, so a second query on the same video skips what does not change.

Frames are segmented one by one and BEiT-3 encodes each frame with the expression on its own, so
both are kept per frame: a new crop size re-runs only the tracker, the refiner and TAIS (which do
depend on the crops), and a new expression re-runs BEiT-3 but not the segmenter. A new threshold
needs no model at all (`SegmentationResult.select`).

Entries are keyed by the video's content (a hash of its bytes, not its name), the model's version
(weights) and input sizes, the frame index and, for tokens, the expression's ids. The caller owns the
cache object (one per app or process); it is never global. Least recently used frames are dropped
once the held tensors pass `max_bytes`.
"""
from __future__ import annotations

import hashlib
import os
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from derrvos_core.errors import InputError
from derrvos_core.multimodal.types import MultimodalTokens
from derrvos_core.trajectory.segmenter import SegmenterOutput


@dataclass
class CacheStats:
    """Counts since the cache was made, per frame (a 36-frame crop served from the cache = 36 hits)."""

    segmenter_hits: int = 0
    segmenter_misses: int = 0
    token_hits: int = 0
    token_misses: int = 0
    evictions: int = 0


class SegmentCache:
    """LRU of per-frame segmenter outputs and multimodal tokens, bounded in bytes.

    Only what the tracker and refiner read of the segmenter is kept (query embeddings and mask
    features); its own per-query class and mask logits are not, to fit more frames (they are empty
    tensors in a `SegmenterOutput` served from the cache). Tensors stay on the model's device.
    Not thread-safe: use it where the model is used (under the service's model lock).

    Args:
        max_bytes: bound on the tensors held (the tiny model at 128 px: ~0.3 MB per frame for the
            segmenter and ~50 kB per frame and expression for tokens; the full model: ~10 MB per frame).
    """

    def __init__(self, max_bytes: int = 1 << 30):
        if max_bytes < 0:
            raise InputError(f"max_bytes must be >= 0, got {max_bytes}")
        self.max_bytes = int(max_bytes)
        self.stats = CacheStats()
        self._entries: OrderedDict[Hashable, tuple[tuple[torch.Tensor, ...], int]] = OrderedDict()
        self._bytes = 0
        self._file_hashes: dict[tuple, str] = {}

    @property
    def nbytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()
        self._bytes = 0

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

    @staticmethod
    def model_key(model) -> str:
        """The weights' version plus the sizes frames are resized to (they change every output)."""
        cfg = model.cfg
        return f"{model.version}/{cfg.input_size}/{cfg.multimodal_image_size}/{model.device}"

    # -- per-frame steps ----------------------------------------------------------------------------
    def segmenter_outputs(self, model, video_key: str, start: int, stop: int,
                          frames: Callable[[], torch.Tensor]) -> SegmenterOutput:
        """Segmenter outputs of frames [start, stop): from the cache, or `model.segment_frames(frames())`
        when any frame is missing (then all of them are stored)."""
        keys = [("seg", self.model_key(model), video_key, i) for i in range(start, stop)]
        hits = self._get_all(keys)
        if hits is None:
            self.stats.segmenter_misses += len(keys)
            seg = model.segment_frames(frames())
            for i, key in enumerate(keys):
                self._put(key, (seg.embeddings[i], seg.raw_embeddings[i], seg.mask_features[i],
                                torch.tensor(seg.image_size)))
            return seg
        self.stats.segmenter_hits += len(keys)
        emb, raw, feat = (torch.stack([h[j] for h in hits]) for j in range(3))
        t, q = emb.shape[:2]
        return SegmenterOutput(embeddings=emb, raw_embeddings=raw, mask_features=feat,
                               class_logits=emb.new_zeros((t, q, 0)), mask_logits=emb.new_zeros((t, q, 0, 0)),
                               image_size=tuple(int(s) for s in hits[0][3]))

    def multimodal_tokens(self, model, video_key: str, start: int, stop: int, expression,
                          frames: Callable[[], torch.Tensor]) -> MultimodalTokens:
        """BEiT-3 tokens of frames [start, stop) with `expression` (an `ExpressionInput`)."""
        text = hashlib.blake2b(expression.ids[~expression.padding_mask].cpu().numpy().tobytes(),
                               digest_size=16).hexdigest()
        keys = [("tok", self.model_key(model), video_key, text, i) for i in range(start, stop)]
        hits = self._get_all(keys)
        if hits is None:
            self.stats.token_misses += len(keys)
            tokens = model.multimodal_tokens(frames(), expression)
            for i, key in enumerate(keys):
                self._put(key, (tokens.tokens[i], tokens.padding_mask[i],
                                torch.tensor(tokens.num_vision_tokens)))
            return tokens
        self.stats.token_hits += len(keys)
        return MultimodalTokens(tokens=torch.stack([h[0] for h in hits]),
                                padding_mask=torch.stack([h[1] for h in hits]),
                                num_vision_tokens=int(hits[0][2]),
                                text_embeddings=model.multimodal.text_inputs(expression.ids, expression.padding_mask))

    # -- LRU ----------------------------------------------------------------------------------------
    def _get_all(self, keys: list) -> list | None:
        if not all(k in self._entries for k in keys):
            return None
        for k in keys:
            self._entries.move_to_end(k)
        return [self._entries[k][0] for k in keys]

    def _put(self, key: Hashable, tensors: tuple[torch.Tensor, ...]) -> None:
        # clone: a view would keep the whole crop's storage alive behind a one-frame entry
        tensors = tuple(t.detach().clone() for t in tensors)
        size = sum(t.numel() * t.element_size() for t in tensors)
        if key in self._entries:
            self._bytes -= self._entries.pop(key)[1]
        if size > self.max_bytes:
            return
        self._entries[key] = (tensors, size)
        self._bytes += size
        while self._bytes > self.max_bytes:
            _, (_, dropped) = self._entries.popitem(last=False)
            self._bytes -= dropped
            self.stats.evictions += 1
