"""Per-frame output of the `detector` branch: detections with their mask patches and colour statistics."""
from __future__ import annotations

from dataclasses import dataclass, fields

import torch

from derrvos_core.errors import InputError


@dataclass
class DetectionFeatures:
    """The detections of t frames, flattened; each frame's rows depend on that frame alone.

    Attributes:
        frame_index: int64 [D]; the frame (0..t-1) of each detection, non-decreasing.
        boxes: float32 [D, 4]; (x0, y0, x1, y1) in [0, 1].
        scores: float32 [D]; detection confidence.
        class_probs: float32 [D, 80]; COCO-80 class distribution.
        patches: uint8 [D, P, P]; foreground probability x 255 over the box (see `masks.py`).
        sources: int64 [D]; mask source code (`features.SOURCE_*`).
        appearance: float32 [D, APPEARANCE_DIM]; colour statistics of the mask (see `features.py`).
        detected: bool [t]; whether the detector ran on the frame (False on frames skipped by the stride).
        image_size: (H, W) of the frames.
    """

    frame_index: torch.Tensor
    boxes: torch.Tensor
    scores: torch.Tensor
    class_probs: torch.Tensor
    patches: torch.Tensor
    sources: torch.Tensor
    appearance: torch.Tensor
    detected: torch.Tensor
    image_size: tuple[int, int]

    @property
    def num_frames(self) -> int:
        return int(self.detected.shape[0])

    def rows(self, index: int) -> slice:
        """The rows of frame `index` (a slice: rows are sorted by frame)."""
        lo = int(torch.searchsorted(self.frame_index, index, side="left"))
        hi = int(torch.searchsorted(self.frame_index, index, side="right"))
        return slice(lo, hi)

    def frame(self, index: int) -> DetectionFeatures:
        """Frame `index` alone, in copies (a cached frame must not keep the whole crop's storage alive)."""
        if not 0 <= index < self.num_frames:
            raise InputError(f"frame {index} out of range for {self.num_frames} frames")
        r = self.rows(index)
        return DetectionFeatures(
            frame_index=torch.zeros_like(self.frame_index[r]), boxes=self.boxes[r].clone(),
            scores=self.scores[r].clone(), class_probs=self.class_probs[r].clone(),
            patches=self.patches[r].clone(), sources=self.sources[r].clone(),
            appearance=self.appearance[r].clone(), detected=self.detected[index:index + 1].clone(),
            image_size=self.image_size)

    @staticmethod
    def concat(parts: list[DetectionFeatures]) -> DetectionFeatures:
        if not parts:
            raise InputError("concat needs at least one part")
        sizes = {p.image_size for p in parts}
        if len(sizes) > 1:
            raise InputError(f"frames differ in size: {sorted(sizes)}")
        offsets, total = [], 0
        for p in parts:
            offsets.append(total)
            total += p.num_frames
        cat = {f.name: torch.cat([getattr(p, f.name) for p in parts]) for f in fields(DetectionFeatures)
               if f.name not in ("frame_index", "image_size")}
        index = torch.cat([p.frame_index + o for p, o in zip(parts, offsets)])
        return DetectionFeatures(frame_index=index, image_size=parts[0].image_size, **cat)

    @property
    def nbytes(self) -> int:
        return sum(t.element_size() * t.nelement() for t in (getattr(self, f.name) for f in fields(self))
                   if isinstance(t, torch.Tensor))
