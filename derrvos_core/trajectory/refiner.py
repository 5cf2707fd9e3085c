"""The DVIS++ temporal refiner: offline over one crop of tracked queries.

Each layer: temporal self-attention along each trajectory, two short temporal convs (k=5, ReLU,
k=3, replicate padding) with a residual and LayerNorm, self-attention across objects within each
frame, cross-attention to that frame's segmenter queries, FFN. Class logits come from a
softmax-over-time weighted mean of the LayerNorm'd outputs (one logit vector per trajectory,
identical in every frame); masks from `mask_embed` x the raw segmenter mask features.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .config import RefinerConfig
from .layers import MLP, CrossAttentionLayer, FFNLayer, SelfAttentionLayer
from .types import LastLayerLogits


@dataclass
class RefinerOutput(LastLayerLogits):
    """Refined trajectories of one crop; slot i follows the tracker's slot i.

    Attributes:
        embeddings: float [T, Q, C]; LayerNorm'd last-layer output.
        layer_class_logits: float [L', Q, K + 1]; time-pooled, one per trajectory (L' = 1 in eval).
        layer_mask_logits: float [L', T, Q, h, w].
    """

    embeddings: torch.Tensor
    layer_class_logits: torch.Tensor
    layer_mask_logits: torch.Tensor


class ShortTemporalConv(nn.Sequential):
    """Conv1d(k=5) -> ReLU -> Conv1d(k=3) over time, 'same' length with replicate padding."""

    def __init__(self, channels: int, kernels: tuple[int, int]):
        super().__init__(
            nn.Conv1d(channels, channels, kernels[0], padding="same", padding_mode="replicate"),
            nn.ReLU(inplace=True),
            nn.Conv1d(channels, channels, kernels[1], padding="same", padding_mode="replicate"),
        )


class TemporalRefiner(nn.Module):
    def __init__(self, cfg: RefinerConfig, hidden: int, mask_dim: int, num_classes: int):
        super().__init__()
        self.cfg = cfg
        n, heads = cfg.num_layers, cfg.num_heads
        self.transformer_time_self_attention_layers = nn.ModuleList(
            SelfAttentionLayer(hidden, heads) for _ in range(n))
        self.conv_short_aggregate_layers = nn.ModuleList(
            ShortTemporalConv(hidden, cfg.short_kernels) for _ in range(n))
        self.conv_norms = nn.ModuleList(nn.LayerNorm(hidden) for _ in range(n))
        self.transformer_obj_self_attention_layers = nn.ModuleList(
            SelfAttentionLayer(hidden, heads) for _ in range(n))
        self.transformer_cross_attention_layers = nn.ModuleList(
            CrossAttentionLayer(hidden, heads) for _ in range(n))
        self.transformer_ffn_layers = nn.ModuleList(FFNLayer(hidden, cfg.dim_feedforward) for _ in range(n))
        self.decoder_norm = nn.LayerNorm(hidden)
        self.class_embed = nn.Linear(hidden, num_classes + 1)
        self.mask_embed = MLP(hidden, hidden, mask_dim, 3)
        self.activation_proj = nn.Linear(hidden, 1)

    def _layer(self, i: int, x: torch.Tensor, frame_embeds: torch.Tensor) -> torch.Tensor:
        """x: [T, Q, C] trajectories; frame_embeds: [Qs, T, C] segmenter queries. Returns [T, Q, C]."""
        x = self.transformer_time_self_attention_layers[i](x)  # sequence = time, batch = objects
        y = x.permute(1, 2, 0)  # [Q, C, T] for the temporal convs
        y = self.conv_norms[i]((self.conv_short_aggregate_layers[i](y) + y).transpose(1, 2))  # [Q, T, C]
        y = self.transformer_obj_self_attention_layers[i](y)  # sequence = objects, batch = time
        y = self.transformer_cross_attention_layers[i](y, frame_embeds)
        y = self.transformer_ffn_layers[i](y)
        return y.transpose(0, 1)

    def forward(self, instance_embeds: torch.Tensor, frame_embeds: torch.Tensor,
                mask_features: torch.Tensor) -> RefinerOutput:
        """Refine one crop.

        Args:
            instance_embeds: float [T, Q, C]; the tracker's raw output embeddings.
            frame_embeds: float [T, Qs, C]; the segmenter's un-normalised embeddings (raw query || re-id).
            mask_features: float [T, D, h, w]; the segmenter's raw mask features.
        """
        memory = frame_embeds.transpose(0, 1)  # [Qs, T, C]: per frame, attend to that frame's queries
        outputs = []
        x = instance_embeds
        for i in range(self.cfg.num_layers):
            x = self._layer(i, x, memory)
            outputs.append(x)
        stacked = torch.stack(outputs)  # [L, T, Q, C]
        heads_on = stacked if self.training else stacked[-1:]
        normed = self.decoder_norm(heads_on)
        mask_logits = torch.einsum("ltqc,tchw->ltqhw", self.mask_embed(normed), mask_features)
        return RefinerOutput(embeddings=self.decoder_norm(x), layer_class_logits=self.pool_classes(normed),
                             layer_mask_logits=mask_logits)

    def pool_classes(self, normed: torch.Tensor) -> torch.Tensor:
        """Softmax-over-time weighted mean of [L, T, Q, C] -> class logits [L, Q, K + 1]."""
        weights = self.activation_proj(normed).softmax(dim=1)  # [L, T, Q, 1]
        pooled = (normed * weights).sum(dim=1)
        return self.class_embed(pooled)
