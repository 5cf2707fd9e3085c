"""The trajectory branch's output: N object trajectories over the T frames of one crop."""
from __future__ import annotations

from dataclasses import dataclass, replace

import torch


class LastLayerLogits:
    """`class_logits` and `mask_logits` of the last decoder layer, for an output that keeps every layer's
    (`layer_class_logits`, `layer_mask_logits`, layers first: the tracker's and the refiner's)."""

    layer_class_logits: torch.Tensor
    layer_mask_logits: torch.Tensor

    @property
    def class_logits(self) -> torch.Tensor:
        """The last layer's class logits (the layer axis dropped)."""
        return self.layer_class_logits[-1]

    @property
    def mask_logits(self) -> torch.Tensor:
        """[T, Q, h, w] of the last layer."""
        return self.layer_mask_logits[-1]


@dataclass
class Trajectories:
    """Object trajectories of one crop of T frames, as the trajectory branch returns them.

    Attributes:
        embeddings: float [N, T, C]; the refiner's per-frame object embeddings (C = 512 in `full`).
        mask_logits: float [N, T, h, w]; mask logits at 1/4 of the model input size (> 0 is foreground).
        scores: float [N]; trajectory score in [0, 1] (softmax-over-time pooled, max over classes).
        class_logits: float [N, K + 1]; time-pooled class logits (last column is "no object").
        boxes: float [N, T, 4]; (x0, y0, x1, y1) of the mask in [0, 1] image coordinates, zeros where empty.
        areas: float [N, T]; mask area as a fraction of the frame.
        mask_sources: LongTensor [N] or None; where each trajectory's masks came from, for branches that
            combine several mask makers (the `detector` branch: codes in `derrvos_core.real.features.
            MASK_SOURCES`); None when the branch has one (DVIS++).
    """

    embeddings: torch.Tensor
    mask_logits: torch.Tensor
    scores: torch.Tensor
    class_logits: torch.Tensor
    boxes: torch.Tensor
    areas: torch.Tensor
    mask_sources: torch.Tensor | None = None

    @property
    def num_trajectories(self) -> int:
        return self.embeddings.shape[0]

    @property
    def num_frames(self) -> int:
        return self.embeddings.shape[1]

    def index(self, idx: torch.Tensor) -> Trajectories:
        """The trajectories at `idx` (a LongTensor of indices), in that order."""
        sources = None if self.mask_sources is None else self.mask_sources[idx]
        return Trajectories(**{k: getattr(self, k)[idx] for k in _FIELDS}, mask_sources=sources)

    def top_k(self, k: int) -> Trajectories:
        """The k best-scored trajectories, best first (all of them when fewer than k)."""
        order = torch.argsort(self.scores, descending=True)[:k]
        return self.index(order)

    def to(self, device: torch.device | str) -> Trajectories:
        sources = None if self.mask_sources is None else self.mask_sources.to(device)
        return replace(self, **{k: getattr(self, k).to(device) for k in _FIELDS}, mask_sources=sources)


_FIELDS = ("embeddings", "mask_logits", "scores", "class_logits", "boxes", "areas")


def mask_kinematics(masks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Boxes and areas of binary masks.

    Args:
        masks: bool or {0,1} float [..., h, w].
    Returns:
        boxes [..., 4] as (x0, y0, x1, y1) in [0, 1] (zeros where a mask is empty) and areas [...]
        as a fraction of h * w.
    """
    m = masks.float()
    h, w = m.shape[-2:]
    areas = m.mean(dim=(-1, -2))
    rows = m.amax(dim=-1)  # [..., h]
    cols = m.amax(dim=-2)  # [..., w]
    ys = torch.arange(h, dtype=m.dtype, device=m.device)
    xs = torch.arange(w, dtype=m.dtype, device=m.device)
    big = torch.tensor(float(max(h, w) + 1), device=m.device)
    y0 = torch.where(rows > 0, ys, big).amin(dim=-1)
    x0 = torch.where(cols > 0, xs, big).amin(dim=-1)
    y1 = torch.where(rows > 0, ys + 1, torch.zeros_like(ys)).amax(dim=-1)
    x1 = torch.where(cols > 0, xs + 1, torch.zeros_like(xs)).amax(dim=-1)
    boxes = torch.stack([x0 / w, y0 / h, x1 / w, y1 / h], dim=-1)
    boxes = torch.where((areas > 0).unsqueeze(-1), boxes, torch.zeros_like(boxes))
    return boxes, areas
