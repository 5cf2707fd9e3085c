"""The DVIS++ referring tracker: online, frame by frame, with its per-video state in a session.

Per frame: Hungarian-match this frame's segmenter queries to the previous frame (cosine), then
each layer runs referring cross-attention (query = `ref_proj` reference, key/value = this frame's
queries, residual = the matched queries or the previous layer's output), self-attention and an FFN.
On a video's first frame each layer's reference is `ref_proj` of the previous layer's output (layer
0: of the frame's own queries); on later frames every layer uses `ref_proj` of the last frame's
final output. Heads: class on [reference || LayerNorm(output)], masks from `mask_embed` x projected
mask features. The output embeddings are the raw last-layer output (no LayerNorm).
"""
from __future__ import annotations

import random
from dataclasses import dataclass

import torch
from torch import nn

from .config import TrackerConfig
from .layers import MLP, FFNLayer, ReferringCrossAttentionLayer, SelfAttentionLayer, c2_xavier_fill_
from .matching import match_embeddings, weighted_average_noise
from .segmenter import SegmenterOutput
from .types import LastLayerLogits


@dataclass
class TrackerSession:
    """Online state of one video (one crop unless crops are linked). Start each crop with `new()`.

    Attributes:
        last_output: float [Q, C] or None; the previous frame's final-layer tracker output.
        last_frame_embeddings: float [Q, C] or None; the previous frame's matched (LayerNorm'd) segmenter
            embeddings, the reference for the next Hungarian match.
        frames_seen: frames processed so far.
    """

    last_output: torch.Tensor | None = None
    last_frame_embeddings: torch.Tensor | None = None
    frames_seen: int = 0

    @staticmethod
    def new() -> TrackerSession:
        return TrackerSession()

    @property
    def started(self) -> bool:
        return self.last_output is not None


@dataclass
class TrackerOutput(LastLayerLogits):
    """Tracker results for T frames; queries are in track order (slot i is one object throughout).

    Attributes:
        embeddings: float [T, Q, C]; raw last-layer output per frame.
        references: float [T, Q, C]; the `ref_proj` reference each frame was queried with.
        layer_class_logits: float [L', T, Q, K + 1]; L' = 1 (last layer) in eval, all layers in training.
        layer_mask_logits: float [L', T, Q, h, w].
        indices: LongTensor [T, Q]; segmenter query that seeded slot i in frame t.
    """

    embeddings: torch.Tensor
    references: torch.Tensor
    layer_class_logits: torch.Tensor
    layer_mask_logits: torch.Tensor
    indices: torch.Tensor


class ReferringTracker(nn.Module):
    def __init__(self, cfg: TrackerConfig, hidden: int, mask_dim: int, num_classes: int):
        super().__init__()
        self.cfg = cfg
        n = cfg.num_layers
        self.transformer_self_attention_layers = nn.ModuleList(
            SelfAttentionLayer(hidden, cfg.num_heads) for _ in range(n))
        self.transformer_cross_attention_layers = nn.ModuleList(
            ReferringCrossAttentionLayer(hidden, cfg.num_heads) for _ in range(n))
        self.transformer_ffn_layers = nn.ModuleList(FFNLayer(hidden, cfg.dim_feedforward) for _ in range(n))
        self.decoder_norm = nn.LayerNorm(hidden)
        self.class_embed = nn.Linear(2 * hidden, num_classes + 1)
        self.mask_embed = MLP(hidden, hidden, mask_dim, 3)
        self.ref_proj = MLP(hidden, hidden, hidden, 3)
        c2_xavier_fill_(self.ref_proj)
        self.mask_feature_proj = nn.Conv2d(mask_dim, mask_dim, kernel_size=1)

    def _layer(self, j: int, identity: torch.Tensor, reference: torch.Tensor,
               frame: torch.Tensor) -> torch.Tensor:
        """One tracker layer on one frame; tensors [Q, C] (a batch of one is added for attention)."""
        x = self.transformer_cross_attention_layers[j](
            identity[:, None], reference[:, None], frame[:, None], frame[:, None])
        x = self.transformer_self_attention_layers[j](x)
        return self.transformer_ffn_layers[j](x)[:, 0]

    def _seed(self, session: TrackerSession, embeds: torch.Tensor,
              raw: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Match (and in training, maybe noise) this frame's queries; returns (indices, initial queries)."""
        if not session.started:
            indices = match_embeddings(embeds, embeds)
            return indices, raw[indices]
        indices = match_embeddings(session.last_frame_embeddings, embeds)
        if self.training and self.cfg.noise_mode == "wa" and random.random() < self.cfg.noise_ratio:
            return weighted_average_noise(raw)
        return indices, raw[indices]

    def forward_frame(self, embeds: torch.Tensor, raw: torch.Tensor,
                      session: TrackerSession) -> tuple[list[torch.Tensor], torch.Tensor, torch.Tensor]:
        """Track one frame (embeds/raw: [Q, C]); updates `session`.

        Returns (per-layer outputs, the reference used, matching indices).
        """
        first = not session.started
        indices, identity = self._seed(session, embeds, raw)
        reference = self.ref_proj(raw) if first else self.ref_proj(session.last_output)
        outputs = []
        x = identity
        for j in range(self.cfg.num_layers):
            ref_j = reference if (j == 0 or not first) else self.ref_proj(x)
            x = self._layer(j, x, ref_j, raw)
            outputs.append(x)
        session.last_output = x
        session.last_frame_embeddings = embeds[indices]
        session.frames_seen += 1
        return outputs, reference, indices

    def forward(self, seg: SegmenterOutput, session: TrackerSession | None = None) -> TrackerOutput:
        """Track T frames of one video, continuing `session` if it has already started (resume)."""
        session = session if session is not None else TrackerSession.new()
        layer_outputs, references, indices = [], [], []
        for t in range(seg.num_frames):
            outs, ref, idx = self.forward_frame(seg.embeddings[t], seg.raw_embeddings[t], session)
            layer_outputs.append(torch.stack(outs))
            references.append(ref)
            indices.append(idx)
        outputs = torch.stack(layer_outputs, dim=1)  # [L, T, Q, C]
        references = torch.stack(references)  # [T, Q, C]
        heads_on = outputs if self.training else outputs[-1:]
        cls, masks = self.prediction(heads_on, references, seg.mask_features)
        return TrackerOutput(embeddings=outputs[-1], references=references, layer_class_logits=cls,
                             layer_mask_logits=masks, indices=torch.stack(indices))

    def prediction(self, outputs: torch.Tensor, references: torch.Tensor,
                   mask_features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Heads. outputs [L, T, Q, C], references [T, Q, C], mask_features [T, D, h, w]."""
        normed = self.decoder_norm(outputs)
        refs = references.expand(outputs.shape[0], -1, -1, -1)
        class_logits = self.class_embed(torch.cat([refs, normed], dim=-1))
        features = self.mask_feature_proj(mask_features)
        mask_logits = torch.einsum("ltqc,tchw->ltqhw", self.mask_embed(normed), features)
        return class_logits, mask_logits
