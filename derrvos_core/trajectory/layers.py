"""Post-norm attention blocks shared by the tracker and the refiner.

Sub-module names (`self_attn`, `multihead_attn`, `norm`, `linear1`, `linear2`, `layers`) follow the
DVIS++ code so official checkpoints load key for key. Tensors are sequence-first: [S, B, C].
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def _xavier_(module: nn.Module) -> None:
    for p in module.parameters():
        if p.dim() > 1:
            nn.init.xavier_uniform_(p)


class SelfAttentionLayer(nn.Module):
    """x <- norm(x + SelfAttn(x + pos, x + pos, x))."""

    def __init__(self, d_model: int, num_heads: int):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(d_model, num_heads)
        self.norm = nn.LayerNorm(d_model)
        _xavier_(self)

    def forward(self, x: torch.Tensor, pos: torch.Tensor | None = None) -> torch.Tensor:
        q = x if pos is None else x + pos
        return self.norm(x + self.self_attn(q, q, x, need_weights=False)[0])


class CrossAttentionLayer(nn.Module):
    """x <- norm(x + Attn(query=x, key=memory, value=memory))."""

    def __init__(self, d_model: int, num_heads: int):
        super().__init__()
        self.multihead_attn = nn.MultiheadAttention(d_model, num_heads)
        self.norm = nn.LayerNorm(d_model)
        _xavier_(self)

    def forward(self, x: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        return self.norm(x + self.multihead_attn(x, memory, memory, need_weights=False)[0])


class ReferringCrossAttentionLayer(nn.Module):
    """The tracker's referring cross-attention: the residual comes from `identity`, not from the query.

    out = norm(identity + Attn(query=reference, key=key, value=value)).
    """

    def __init__(self, d_model: int, num_heads: int):
        super().__init__()
        self.multihead_attn = nn.MultiheadAttention(d_model, num_heads)
        self.norm = nn.LayerNorm(d_model)
        _xavier_(self)

    def forward(self, identity: torch.Tensor, reference: torch.Tensor, key: torch.Tensor,
                value: torch.Tensor) -> torch.Tensor:
        return self.norm(identity + self.multihead_attn(reference, key, value, need_weights=False)[0])


class FFNLayer(nn.Module):
    """x <- norm(x + W2 relu(W1 x))."""

    def __init__(self, d_model: int, dim_feedforward: int):
        super().__init__()
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm = nn.LayerNorm(d_model)
        _xavier_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x + self.linear2(F.relu(self.linear1(x))))


class MLP(nn.Module):
    """`num_layers` linear layers with ReLU between them."""

    def __init__(self, input_dim: int, hidden_dim: int, output_dim: int, num_layers: int):
        super().__init__()
        dims_in = [input_dim] + [hidden_dim] * (num_layers - 1)
        dims_out = [hidden_dim] * (num_layers - 1) + [output_dim]
        self.layers = nn.ModuleList(nn.Linear(i, o) for i, o in zip(dims_in, dims_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = F.relu(x)
        return x


def c2_xavier_fill_(module: nn.Module) -> None:
    """detectron2's `c2_xavier_fill` (kaiming uniform with a=1, zero bias) for Linear/Conv layers."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            nn.init.kaiming_uniform_(m.weight, a=1)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
