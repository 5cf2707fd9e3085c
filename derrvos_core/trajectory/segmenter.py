"""The DVIS++ segmenter: transformers' Mask2Former (ResNet backbone) plus the re-id branch.

Per frame it gives each query a 2 * hidden embedding (LayerNorm'd query || re-id MLP of it), the
same without the LayerNorm (what the tracker and refiner consume), class logits, mask logits at 1/4
resolution, and the mask features the tracker and refiner read masks from.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, fields, replace

import torch
from torch import nn
from torch.nn import functional as F
from transformers import Mask2FormerConfig, Mask2FormerForUniversalSegmentation, ResNetConfig
from transformers.utils import logging as hf_logging

from .config import SegmenterConfig
from .layers import MLP, c2_xavier_fill_


@dataclass
class SegmenterOutput:
    """Per-frame segmenter results for T frames (cacheable; frames are independent).

    Attributes:
        embeddings: float [T, Q, E]; LayerNorm'd query || re-id embedding (E = 2 * hidden), used for matching.
        raw_embeddings: float [T, Q, E]; the query before LayerNorm || re-id embedding (tracker and
            refiner input).
        class_logits: float [T, Q, K + 1]; last column is "no object".
        mask_logits: float [T, Q, h, w] at 1/4 of the padded input size.
        mask_features: float [T, D, h, w]; the pixel decoder's 1/4-resolution mask features.
        image_size: (H, W) of the frames before padding.
        aux_class_logits / aux_mask_logits: per earlier decoder layer (training only), else None.
    """

    embeddings: torch.Tensor
    raw_embeddings: torch.Tensor
    class_logits: torch.Tensor
    mask_logits: torch.Tensor
    mask_features: torch.Tensor
    image_size: tuple[int, int]
    aux_class_logits: list[torch.Tensor] | None = None
    aux_mask_logits: list[torch.Tensor] | None = None

    @property
    def num_frames(self) -> int:
        return self.embeddings.shape[0]

    def slice(self, start: int, stop: int) -> SegmenterOutput:
        """Frames [start, stop) (auxiliary outputs dropped)."""
        return replace(self, **{k: getattr(self, k)[start:stop] for k in _TENSORS},
                       aux_class_logits=None, aux_mask_logits=None)

    @staticmethod
    def cat(parts: list[SegmenterOutput]) -> SegmenterOutput:
        """Concatenate along time (auxiliary outputs dropped)."""
        return replace(parts[0], **{k: torch.cat([getattr(p, k) for p in parts]) for k in _TENSORS},
                       aux_class_logits=None, aux_mask_logits=None)

    def frame(self, index: int) -> SegmenterOutput:
        """Frame `index` as the tracker and refiner read it, copied (for the per-frame cache): the
        segmenter's own class and mask logits are left empty, to fit more frames."""
        emb = self.embeddings[index:index + 1].clone()
        q = emb.shape[1]
        return SegmenterOutput(embeddings=emb, raw_embeddings=self.raw_embeddings[index:index + 1].clone(),
                               mask_features=self.mask_features[index:index + 1].clone(),
                               class_logits=emb.new_zeros((1, q, 0)), mask_logits=emb.new_zeros((1, q, 0, 0)),
                               image_size=self.image_size)

    concat = cat

    @property
    def nbytes(self) -> int:
        return sum(getattr(self, k).numel() * getattr(self, k).element_size() for k in _TENSORS)

    def detach(self) -> SegmenterOutput:
        return replace(self, **{k: getattr(self, k).detach() for k in _TENSORS})

    def to(self, device: torch.device | str) -> SegmenterOutput:
        """Move the per-frame tensors (e.g. to CPU for a cache); auxiliary outputs are dropped."""
        return replace(self, **{k: getattr(self, k).to(device) for k in _TENSORS},
                       aux_class_logits=None, aux_mask_logits=None)


_TENSORS = tuple(f.name for f in fields(SegmenterOutput)
                 if f.name not in ("image_size", "aux_class_logits", "aux_mask_logits"))


class FrozenBatchNorm2d(nn.Module):
    """detectron2's FrozenBN: a fixed affine map; weight, bias and running stats are buffers."""

    def __init__(self, num_features: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.register_buffer("weight", torch.ones(num_features))
        self.register_buffer("bias", torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features) - eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = self.weight * (self.running_var + self.eps).rsqrt()
        shift = self.bias - self.running_mean * scale
        return x * scale[None, :, None, None] + shift[None, :, None, None]


def freeze_batchnorm_(module: nn.Module) -> None:
    """Replace every BatchNorm2d inside `module` by a FrozenBatchNorm2d (in place)."""
    for name, child in module.named_children():
        if isinstance(child, nn.BatchNorm2d):
            setattr(module, name, FrozenBatchNorm2d(child.num_features, child.eps))
        else:
            freeze_batchnorm_(child)


@contextlib.contextmanager
def _quiet_transformers():
    # transformers warns that a ResNet backbone is "not a supported model" for Mask2Former; it works.
    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)


def mask2former_config(cfg: SegmenterConfig) -> Mask2FormerConfig:
    """The transformers config equivalent to our segmenter config."""
    b = cfg.backbone
    with _quiet_transformers():
        backbone = ResNetConfig(
            embedding_size=b.embedding_size, hidden_sizes=list(b.hidden_sizes), depths=list(b.depths),
            # stride in the 3x3 conv, not the first 1x1 (detectron2 STRIDE_IN_1X1: False)
            layer_type=b.layer_type, downsample_in_bottleneck=False,
            out_features=[f"stage{i + 1}" for i in range(len(b.depths))],
        )
        return Mask2FormerConfig(
            backbone_config=backbone, use_pretrained_backbone=False, num_labels=cfg.num_classes,
            num_queries=cfg.num_queries, hidden_dim=cfg.hidden_dim, feature_size=cfg.hidden_dim,
            mask_feature_size=cfg.mask_dim, num_attention_heads=cfg.num_heads,
            dim_feedforward=cfg.dim_feedforward, decoder_layers=cfg.decoder_layers + 1,
            encoder_layers=cfg.pixel_decoder_layers, encoder_feedforward_dim=cfg.pixel_decoder_feedforward,
            class_weight=cfg.class_weight, mask_weight=cfg.mask_weight, dice_weight=cfg.dice_weight,
            no_object_weight=cfg.no_object_weight, train_num_points=cfg.train_num_points,
            dropout=0.0, use_auxiliary_loss=True,
        )


class Segmenter(nn.Module):
    """Mask2Former + re-id MLP. Input: float frames [T, 3, H, W] RGB in 0..255."""

    def __init__(self, cfg: SegmenterConfig):
        super().__init__()
        self.cfg = cfg
        with _quiet_transformers():
            self.mask2former = Mask2FormerForUniversalSegmentation(mask2former_config(cfg))
        if cfg.backbone.frozen_batchnorm:
            freeze_batchnorm_(self.mask2former.model.pixel_level_module.encoder)
        if cfg.reid_layers > 0:
            self.reid_embed = MLP(cfg.hidden_dim, cfg.reid_hidden_dim, cfg.hidden_dim, cfg.reid_layers)
            c2_xavier_fill_(self.reid_embed)
        else:
            self.reid_embed = nn.Identity()
        # Not saved in checkpoints (detectron2 registers them non-persistent too).
        self.register_buffer("pixel_mean", torch.tensor(cfg.pixel_mean).view(3, 1, 1), persistent=False)
        self.register_buffer("pixel_std", torch.tensor(cfg.pixel_std).view(3, 1, 1), persistent=False)

    def preprocess(self, frames: torch.Tensor) -> torch.Tensor:
        """Normalise, then zero-pad bottom/right to a multiple of `size_divisibility` (as ImageList)."""
        x = (frames - self.pixel_mean) / self.pixel_std
        div = self.cfg.size_divisibility
        h, w = x.shape[-2:]
        return F.pad(x, (0, (-w) % div, 0, (-h) % div))

    def forward(self, frames: torch.Tensor, with_aux: bool = False) -> SegmenterOutput:
        """Segment T frames independently. `with_aux` adds every decoder layer's heads (for the loss)."""
        m2f = self.mask2former
        out = m2f.model(pixel_values=self.preprocess(frames), output_hidden_states=with_aux, return_dict=True)
        raw = out.transformer_decoder_last_hidden_state  # [T, Q, hidden], no LayerNorm
        normed = m2f.model.transformer_module.decoder.layernorm(raw)
        reid = self.reid_embed(normed)
        aux_cls = aux_masks = None
        if with_aux:
            inter = out.transformer_decoder_intermediate_states[:-1]  # each [Q, T, hidden], LayerNorm'd
            aux_cls = [m2f.class_predictor(h.transpose(0, 1)) for h in inter]
            aux_masks = list(out.masks_queries_logits[:-1])
        return SegmenterOutput(
            embeddings=torch.cat([normed, reid], dim=-1),
            raw_embeddings=torch.cat([raw, reid], dim=-1),
            class_logits=m2f.class_predictor(normed),
            mask_logits=out.masks_queries_logits[-1],
            mask_features=out.pixel_decoder_last_hidden_state,
            image_size=(frames.shape[-2], frames.shape[-1]),
            aux_class_logits=aux_cls,
            aux_mask_logits=aux_masks,
        )
