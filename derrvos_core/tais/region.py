"""Region pooling: what the multimodal tokens say inside each trajectory's mask, frame by frame.

The aligner's cross-attention must otherwise find, from the trajectory query alone, which vision
tokens cover its object; on SynthRef a tiny TAIS trained from scratch learned objectness rather
than grounding that way (see the model card). Pooling the frame's vision tokens under the
trajectory's mask hands it the text-conditioned appearance of exactly its own region.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from derrvos_core.errors import InputError


def patch_coverage(mask_logits: torch.Tensor, grid: int) -> torch.Tensor:
    """Fraction of each vision patch covered by each mask (> 0 is foreground).

    Args:
        mask_logits: float [N, T, h, w].
        grid: patches per side of the multimodal image (g; P = g * g).
    Returns:
        float [N, T, P], rows normalised to sum 1 (all zero where the mask is empty).
    """
    n, t, h, w = mask_logits.shape
    masks = (mask_logits > 0).to(torch.float32).reshape(n * t, 1, h, w)
    cover = F.adaptive_avg_pool2d(masks, (grid, grid)).reshape(n, t, grid * grid)
    return cover / cover.sum(dim=-1, keepdim=True).clamp_min(1e-6)


class RegionPooling(nn.Module):
    """Mask-weighted mean of a frame's patch tokens per trajectory, projected into the stream.

    Inputs:
        mask_logits: float [N, T, h, w]; the trajectories' masks.
        memory: float [T, S, W]; projected multimodal tokens (CLS, P patches in raster order, text).
        num_vision_tokens: 1 + P.
    Output:
        float [N, T, W]; zero in frames where a trajectory's mask is empty.
    """

    def __init__(self, width: int):
        super().__init__()
        self.proj = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, width))

    def forward(self, mask_logits: torch.Tensor, memory: torch.Tensor, num_vision_tokens: int) -> torch.Tensor:
        patches = num_vision_tokens - 1
        grid = math.isqrt(patches)
        if grid * grid != patches:
            raise InputError(f"region pooling needs a square patch grid, got {patches} vision patches")
        weights = patch_coverage(mask_logits, grid).to(memory.dtype)  # [N, T, P]
        pooled = torch.einsum("ntp,tpw->ntw", weights, memory[:, 1:num_vision_tokens])
        present = (weights.sum(dim=-1, keepdim=True) > 0).to(memory.dtype)
        return self.proj(pooled) * present
