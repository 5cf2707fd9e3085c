"""One BEiT-3 encoder layer: joint multiway self-attention and a multiway FFN, both with Sub-LN.

Layout (pre-LN, Magneto "Sub-LN"), for tokens x [B, S, D] whose first `split` are vision:
    x = x + out_proj(inner_attn_ln(Attention(q_proj, k_proj, v_proj of self_attn_layer_norm(x))))
    x = x + fc2(ffn_layernorm(gelu(fc1(final_layer_norm(x)))))
Every linear and LayerNorm is a `Multiway` pair (A = vision, B = text); attention itself is joint
over all S tokens, so vision and text attend to each other. Submodule names equal the official
checkpoint's (`self_attn.q_proj.A`, `ffn.B.fc1`, ...).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from derrvos_core.multimodal.config import BEiT3Config
from derrvos_core.multimodal.multiway import Multiway


class MultiwayAttention(nn.Module):
    """Joint self-attention whose projections and inner LayerNorm are multiway."""

    def __init__(self, config: BEiT3Config):
        super().__init__()
        dim = config.embed_dim
        self.num_heads = config.num_heads
        self.q_proj = Multiway(nn.Linear(dim, dim))
        self.k_proj = Multiway(nn.Linear(dim, dim))
        self.v_proj = Multiway(nn.Linear(dim, dim))
        self.out_proj = Multiway(nn.Linear(dim, dim))
        self.inner_attn_ln = Multiway(nn.LayerNorm(dim, eps=config.layernorm_eps))

    def forward(self, x: torch.Tensor, split: int, key_padding_mask: torch.Tensor | None) -> torch.Tensor:
        """x: [B, S, D]; key_padding_mask: bool [B, S], True = padding (never attended to)."""
        batch, length, dim = x.shape
        heads = self.num_heads

        def split_heads(t: torch.Tensor) -> torch.Tensor:
            return t.view(batch, length, heads, dim // heads).transpose(1, 2)

        q = split_heads(self.q_proj(x, split))
        k = split_heads(self.k_proj(x, split))
        v = split_heads(self.v_proj(x, split))
        allowed = None
        if key_padding_mask is not None:
            allowed = ~key_padding_mask[:, None, None, :]  # [B, 1, 1, S], broadcast over heads and queries
        attn = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)
        attn = attn.transpose(1, 2).reshape(batch, length, dim)
        return self.out_proj(self.inner_attn_ln(attn, split), split)


class FeedForward(nn.Module):
    """fc1 -> GELU -> LayerNorm (Sub-LN) -> fc2, one expert's FFN."""

    def __init__(self, config: BEiT3Config):
        super().__init__()
        self.fc1 = nn.Linear(config.embed_dim, config.ffn_dim)
        self.fc2 = nn.Linear(config.ffn_dim, config.embed_dim)
        self.ffn_layernorm = nn.LayerNorm(config.ffn_dim, eps=config.layernorm_eps)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.gelu(self.fc1(x).float()).type_as(x)  # GELU in float32, as the official code does
        return self.dropout(self.fc2(self.ffn_layernorm(x)))


class DropPath(nn.Module):
    """Stochastic depth: drop the whole residual branch of a sample with probability `p` in training."""

    def __init__(self, p: float):
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(1.0 - self.p)
        return x * keep / (1.0 - self.p)


class EncoderLayer(nn.Module):
    """One pre-LN multiway transformer layer (keys `self_attn.*`, `self_attn_layer_norm.*`, `ffn.*`,
    `final_layer_norm.*`)."""

    def __init__(self, config: BEiT3Config, drop_path: float = 0.0):
        super().__init__()
        dim = config.embed_dim
        self.self_attn = MultiwayAttention(config)
        self.self_attn_layer_norm = Multiway(nn.LayerNorm(dim, eps=config.layernorm_eps))
        self.ffn = Multiway(FeedForward(config))
        self.final_layer_norm = Multiway(nn.LayerNorm(dim, eps=config.layernorm_eps))
        self.dropout = nn.Dropout(config.dropout)
        self.drop_path = DropPath(drop_path)

    def forward(self, x: torch.Tensor, split: int, key_padding_mask: torch.Tensor | None) -> torch.Tensor:
        """x: [B, S, D] -> [B, S, D]."""
        h = self.self_attn(self.self_attn_layer_norm(x, split), split, key_padding_mask)
        x = x + self.drop_path(self.dropout(h))
        h = self.ffn(self.final_layer_norm(x, split), split)
        return x + self.drop_path(h)
