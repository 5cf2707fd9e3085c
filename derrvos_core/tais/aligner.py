"""One layer of the cross-frame multimodal aligner."""
from __future__ import annotations

import math

import torch
from torch import nn


class AlignerLayer(nn.Module):
    """Frame cross-attention -> temporal self-attention -> trajectory self-attention -> FFN (pre-norm).

    1. At frame t, every trajectory's query attends to that frame's multimodal tokens (vision and
       text tokens of BEiT-3 for (frame t, expression)); padded text tokens are masked out.
    2. Along each trajectory, its T per-frame queries attend to each other (with time positions), so
       what one frame saw reaches the others.
    3. Within each frame, the N trajectories attend to each other, so "the left one" or "the one
       that stops first" can compare objects.
    4. A feed-forward network.

    Inputs:
        x: float [N, T, W]; the trajectory stream.
        tokens: float [T, S, W]; projected multimodal tokens of each frame.
        padding_mask: bool [T, S]; True where a token is padding.
        time_pos: float [T, W]; positions of the crop's frames, added to queries and keys in step 2.
    Output:
        float [N, T, W].
    """

    def __init__(self, width: int, num_heads: int, ffn_dim: int, dropout: float):
        super().__init__()
        self.cross_attn = nn.MultiheadAttention(width, num_heads, dropout=dropout, batch_first=True)
        self.temporal_attn = nn.MultiheadAttention(width, num_heads, dropout=dropout, batch_first=True)
        self.object_attn = nn.MultiheadAttention(width, num_heads, dropout=dropout, batch_first=True)
        self.norm_cross = nn.LayerNorm(width)
        self.norm_temporal = nn.LayerNorm(width)
        self.norm_object = nn.LayerNorm(width)
        self.norm_ffn = nn.LayerNorm(width)
        self.ffn = nn.Sequential(nn.Linear(width, ffn_dim), nn.GELU(), nn.Dropout(dropout),
                                 nn.Linear(ffn_dim, width), nn.Dropout(dropout))

    def forward(self, x: torch.Tensor, tokens: torch.Tensor, padding_mask: torch.Tensor,
                time_pos: torch.Tensor) -> torch.Tensor:
        q = self.norm_cross(x).transpose(0, 1)  # [T, N, W]: one batch entry per frame
        attended, _ = self.cross_attn(q, tokens, tokens, key_padding_mask=padding_mask, need_weights=False)
        x = x + attended.transpose(0, 1)

        y = self.norm_temporal(x)  # [N, T, W]: one batch entry per trajectory
        qk = y + time_pos.unsqueeze(0)
        attended, _ = self.temporal_attn(qk, qk, y, need_weights=False)
        x = x + attended

        y = self.norm_object(x).transpose(0, 1)  # [T, N, W]: trajectories of one frame together
        attended, _ = self.object_attn(y, y, y, need_weights=False)
        x = x + attended.transpose(0, 1)
        return x + self.ffn(self.norm_ffn(x))


def time_positions(num_frames: int, width: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """Sinusoidal positions of frames 0..T-1 within a crop: float [T, W] (sin in even, cos in odd columns)."""
    t = torch.arange(num_frames, device=device, dtype=torch.float32).unsqueeze(1)
    steps = torch.arange(0, width, 2, device=device, dtype=torch.float32)
    freq = torch.exp(steps * (-math.log(10000.0) / width))
    pos = torch.zeros(num_frames, width, device=device, dtype=torch.float32)
    pos[:, 0::2] = torch.sin(t * freq)
    pos[:, 1::2] = torch.cos(t * freq)[:, : width // 2]
    return pos.to(dtype)
