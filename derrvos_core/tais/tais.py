"""TAIS: aligns each trajectory with the expression frame by frame and scores it (N_d supervised layers)."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from derrvos_core.errors import InputError
from derrvos_core.multimodal.types import MultimodalTokens
from derrvos_core.trajectory.types import Trajectories

from .aligner import AlignerLayer, time_positions
from .config import TAISConfig
from .motion import MotionEncoder, crop_motion
from .region import RegionPooling
from .selector import ImplicitSelector


@dataclass
class TAISOutput:
    """Selection logits of N trajectories of one crop of T frames.

    Attributes:
        logits: float [N]; the last layer's trajectory logits (sigmoid = DeRVOS confidence).
        layer_logits: float [N_d, N]; trajectory logits after every layer (deep supervision).
        frame_logits: float [N_d, N, T]; per-frame relevance logits after every layer.
        frame_weights: float [N_d, N, T]; softmax-over-time weights that pooled `frame_logits`.
    """

    logits: torch.Tensor
    layer_logits: torch.Tensor
    frame_logits: torch.Tensor
    frame_weights: torch.Tensor

    @property
    def scores(self) -> torch.Tensor:
        """float [N] in [0, 1]: sigmoid of the final logits."""
        return self.logits.float().sigmoid()


class TAIS(nn.Module):
    """Cross-frame multimodal aligner + motion-guided implicit selector. Stateless.

    trajectories [N, T, C] -> LayerNorm + Linear -> + motion features (+ mask-pooled tokens) -> N_d x (AlignerLayer,
    ImplicitSelector); the multimodal tokens [T, S, D] are projected once to the same width W.
    """

    def __init__(self, cfg: TAISConfig):
        super().__init__()
        self.cfg = cfg
        w = cfg.width
        c = cfg.trajectory_dim
        self.trajectory_proj = nn.Sequential(nn.LayerNorm(c), nn.Linear(c, w))
        self.token_proj = nn.Sequential(nn.LayerNorm(cfg.token_dim), nn.Linear(cfg.token_dim, w))
        self.motion = MotionEncoder(w, cfg.motion_kernel, summary=cfg.motion_summary) if cfg.motion_stream else None
        self.region = RegionPooling(w) if cfg.region_pooling else None
        self.sentence_proj = nn.Sequential(nn.LayerNorm(cfg.token_dim), nn.Linear(cfg.token_dim, w)) \
            if cfg.text_matching else None
        self.layers = nn.ModuleList(
            AlignerLayer(w, cfg.num_heads, cfg.ffn_dim, cfg.dropout) for _ in range(cfg.num_layers))
        # one selector per layer: each layer is supervised on its own (deep supervision)
        self.selectors = nn.ModuleList(ImplicitSelector(w, cfg.text_matching) for _ in range(cfg.num_layers))

    @classmethod
    def from_config(cls, cfg: TAISConfig) -> TAIS:
        return cls(cfg)

    def forward(self, trajectories: Trajectories, tokens: MultimodalTokens, crop: Trajectories | None = None,
                frame_index: torch.Tensor | None = None) -> TAISOutput:
        """`crop` and `frame_index`: when `trajectories` are T frames sampled from a crop (training),
        the whole crop and the sampled frames' indices in it, so motion is read over the crop's
        consecutive frames as inference reads it (`motion.crop_motion`)."""
        self._check(trajectories, tokens)
        queries = self.trajectory_proj(trajectories.embeddings)
        x = queries
        if self.motion is not None:
            x = x + self.motion(queries, *crop_motion(trajectories if crop is None else crop, frame_index,
                                                      summary=self.cfg.motion_summary))
        memory = self.token_proj(tokens.tokens)
        if self.region is not None:
            x = x + self.region(trajectories.mask_logits, memory, tokens.num_vision_tokens)
        padding = tokens.padding_mask.to(memory.device).bool()
        pos = time_positions(x.shape[1], self.cfg.width, device=x.device, dtype=x.dtype)
        sentence = self._sentence(tokens, x.shape[1]) if self.sentence_proj is not None else None
        frame_logits, frame_weights, logits = [], [], []
        for layer, selector in zip(self.layers, self.selectors):
            x = layer(x, memory, padding, pos)
            f, w, lg = selector(x, sentence)
            frame_logits.append(f)
            frame_weights.append(w)
            logits.append(lg)
        layer_logits = torch.stack(logits)
        return TAISOutput(logits=layer_logits[-1], layer_logits=layer_logits,
                          frame_logits=torch.stack(frame_logits), frame_weights=torch.stack(frame_weights))

    def scores(self, trajectories: Trajectories, tokens: MultimodalTokens, expression=None) -> torch.Tensor:
        """The `Selector` contract: float [N] confidences in [0, 1] (the expression is already in `tokens`)."""
        return self(trajectories, tokens).scores

    def _sentence(self, tokens: MultimodalTokens, num_frames: int) -> torch.Tensor:
        """float [T, W]: the projected mean of the expression's input embeddings (not BEiT-3's text
        outputs: trained from scratch, its joint layers learned to wash the words out of them)."""
        if tokens.text_embeddings is None:
            raise InputError("TAIS text matching needs MultimodalTokens.text_embeddings "
                             "(MultimodalEncoder.encode fills it)")
        keep = (~tokens.padding_mask[0, tokens.num_vision_tokens:]).to(tokens.text_embeddings.dtype)
        if keep.shape[0] != tokens.text_embeddings.shape[0]:
            raise InputError(f"text_embeddings has {tokens.text_embeddings.shape[0]} tokens, the "
                             f"padding mask {keep.shape[0]}")
        mean = (tokens.text_embeddings * keep.unsqueeze(-1)).sum(0) / keep.sum().clamp_min(1.0)
        return self.sentence_proj(mean).unsqueeze(0).expand(num_frames, -1)

    def _check(self, trajectories: Trajectories, tokens: MultimodalTokens) -> None:
        emb, tok = trajectories.embeddings, tokens.tokens
        if emb.dim() != 3 or emb.shape[-1] != self.cfg.trajectory_dim:
            raise InputError(f"TAIS expects trajectory embeddings [N, T, {self.cfg.trajectory_dim}], "
                             f"got {tuple(emb.shape)}")
        if emb.shape[0] == 0:
            raise InputError("TAIS got no trajectories (N = 0)")
        if tok.dim() != 3 or tok.shape[-1] != self.cfg.token_dim:
            raise InputError(f"TAIS expects multimodal tokens [T, S, {self.cfg.token_dim}], "
                             f"got {tuple(tok.shape)}")
        if tok.shape[0] != emb.shape[1]:
            raise InputError(f"trajectories cover {emb.shape[1]} frames but the multimodal tokens "
                             f"{tok.shape[0]}")
        if tokens.padding_mask.shape != tok.shape[:2]:
            raise InputError(f"padding_mask {tuple(tokens.padding_mask.shape)} does not match tokens "
                             f"{tuple(tok.shape[:2])}")

