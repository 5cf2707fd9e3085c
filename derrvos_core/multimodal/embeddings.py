"""BEiT-3 input embeddings: image patches with CLS and mask tokens, text tokens, and the two
learned position tables (vision `A`, text `B`) with the official offset of 2."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from derrvos_core.errors import InputError
from derrvos_core.multimodal.config import POSITION_OFFSET, BEiT3Config


class VisionEmbedding(nn.Module):
    """Patchify an image into tokens and put a CLS token first (keys `proj`, `cls_token`, `mask_token`)."""

    def __init__(self, config: BEiT3Config):
        super().__init__()
        p = config.patch_size
        self.patch_size = p
        self.proj = nn.Conv2d(3, config.embed_dim, kernel_size=p, stride=p)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, config.embed_dim))
        # Used only for masked image modelling; kept so official checkpoints load strictly.
        self.mask_token = nn.Parameter(torch.zeros(1, 1, config.embed_dim))

    def forward(self, image: torch.Tensor, masked_position: torch.Tensor | None = None) -> torch.Tensor:
        """image: float [B, 3, H, W], H and W multiples of the patch; masked_position: bool [B, P] or None.

        Returns [B, 1 + P, D] with P = (H / patch) * (W / patch), patches in row-major order.
        """
        x = self.proj(image).flatten(2).transpose(1, 2)
        if masked_position is not None:
            w = masked_position.unsqueeze(-1).to(x.dtype)
            x = x * (1 - w) + self.mask_token * w
        return torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)


class PositionTable(nn.Module):
    """A learned position table read from row POSITION_OFFSET on (key `weight`, like nn.Embedding)."""

    def __init__(self, rows: int, dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(rows, dim))

    def forward(self, length: int) -> torch.Tensor:
        """Rows for positions 0..length-1 -> [length, D]."""
        if length + POSITION_OFFSET > self.weight.shape[0]:
            raise InputError(
                f"{length} tokens do not fit the position table of {self.weight.shape[0] - POSITION_OFFSET}"
            )
        return self.weight[POSITION_OFFSET : POSITION_OFFSET + length]


class MultiwayPositions(nn.Module):
    """Vision positions `A` (offset + CLS + grid rows) and text positions `B` (max_text_positions rows)."""

    def __init__(self, config: BEiT3Config):
        super().__init__()
        self.grid_size = config.grid_size
        self.A = PositionTable(POSITION_OFFSET + config.num_vision_tokens, config.embed_dim)
        self.B = PositionTable(config.max_text_positions, config.embed_dim)

    def vision(self, grid: tuple[int, int]) -> torch.Tensor:
        """Positions of CLS + a (h, w) patch grid -> [1 + h*w, D]; bicubic-resized when (h, w)
        differs from the training grid."""
        table = self.A.weight
        if grid != (self.grid_size, self.grid_size):
            table = resize_vision_positions(table, grid)
        return table[POSITION_OFFSET:]

    def text(self, length: int) -> torch.Tensor:
        return self.B(length)


def resize_vision_positions(table: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """Resize a vision position table [2 + 1 + g*g, D] to a (h, w) grid -> [2 + 1 + h*w, D].

    The offset rows and the CLS row are kept; the square grid is resized bicubically with
    align_corners=False, as the official fine-tuning code does when the image size changes.
    """
    extra = POSITION_OFFSET + 1
    old = table.shape[0] - extra
    side = math.isqrt(old)
    if side * side != old:
        raise InputError(f"vision position table has {old} grid rows, not a square")
    grid_rows = table[extra:].reshape(1, side, side, -1).permute(0, 3, 1, 2)
    resized = F.interpolate(grid_rows.float(), size=grid, mode="bicubic", align_corners=False)
    resized = resized.to(table.dtype).permute(0, 2, 3, 1).reshape(grid[0] * grid[1], -1)
    return torch.cat([table[:extra], resized], dim=0)
