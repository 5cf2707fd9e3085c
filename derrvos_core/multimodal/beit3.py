"""The BEiT-3 multiway transformer encoder.

State-dict keys equal the official checkpoint's keys without their `beit3.` prefix
(`text_embed.weight`, `vision_embed.proj.weight`, `encoder.embed_positions.A.weight`,
`encoder.layers.0.self_attn.q_proj.A.weight`, ..., `encoder.layer_norm.B.bias`), so official
weights load key for key (see `convert.load_official_beit3`).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from derrvos_core.errors import InputError
from derrvos_core.multimodal.config import BEiT3Config
from derrvos_core.multimodal.embeddings import MultiwayPositions, VisionEmbedding
from derrvos_core.multimodal.layers import EncoderLayer
from derrvos_core.multimodal.multiway import Multiway


@torch.no_grad()
def truncated_normal_(tensor: torch.Tensor, std: float) -> torch.Tensor:
    """Normal(0, std) cut at +-1 std (the official BEiT-3 init), by inverse CDF in one pass;
    torch's rejection sampler needs seconds for this narrow a cut."""
    low = 0.5 * (1 + math.erf(-1 / math.sqrt(2)))  # CDF at -1 sigma
    tensor.uniform_(2 * low - 1, 1 - 2 * low).erfinv_()
    return tensor.mul_(std * math.sqrt(2))


class Encoder(nn.Module):
    """Position tables, the layer stack and the final multiway LayerNorm (keys `encoder.*`)."""

    def __init__(self, config: BEiT3Config):
        super().__init__()
        self.embed_positions = MultiwayPositions(config)
        depth = config.num_layers
        rates = [config.drop_path_rate * i / max(depth - 1, 1) for i in range(depth)]
        self.layers = nn.ModuleList(EncoderLayer(config, drop_path=r) for r in rates)
        self.layer_norm = Multiway(nn.LayerNorm(config.embed_dim, eps=config.layernorm_eps))

    def forward(self, x: torch.Tensor, split: int, padding_mask: torch.Tensor | None) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x, split, padding_mask)
        return self.layer_norm(x, split)


class BEiT3Encoder(nn.Module):
    """Joint vision-language encoder: vision tokens (CLS + patches) then text tokens.

    forward(image [B, 3, H, W] | None, text_ids [B, L] | None, text_padding_mask bool [B, L] | None)
        -> tokens float [B, 1 + P + L, D] (P = 0 without an image, L = 0 without text).
    The image is expected already normalised (mean = std = 0.5 on 0..1 pixels); H and W must be
    multiples of the patch size, and sizes other than `config.image_size` use interpolated positions.
    """

    def __init__(self, config: BEiT3Config):
        super().__init__()
        self.config = config
        self.text_embed = nn.Embedding(config.vocab_size, config.embed_dim)
        self.vision_embed = VisionEmbedding(config)
        self.encoder = Encoder(config)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Initialise for training from scratch.

        Linear layers use truncated normal (std 0.02) and LayerNorms 1/0, as the official
        BEiT3Wrapper does. Positions and CLS start at std 0.02 rather than torchscale's N(0, 1) and
        zeros, so that they do not swamp the patch and word embeddings of a small model trained from
        scratch. Text embeddings are N(0, 1), not torchscale's std D^-0.5: measured on the tiny
        config, at D^-0.5 the random joint-attention layers drown the words (the mean text tokens of
        "the red circle" and "the blue square moving left" on the same frames: cosine 0.992, at
        N(0, 1) 0.714), and a stage-4 model trained from there ignored the expression (cosine 1.000).
        """
        for module in self.modules():
            if isinstance(module, nn.Linear):
                truncated_normal_(module.weight, std=0.02)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.LayerNorm):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        nn.init.normal_(self.text_embed.weight, std=1.0)
        for table in (self.encoder.embed_positions.A, self.encoder.embed_positions.B):
            truncated_normal_(table.weight, std=0.02)
        truncated_normal_(self.vision_embed.cls_token, std=0.02)
        nn.init.zeros_(self.vision_embed.mask_token)

    def forward(
        self,
        image: torch.Tensor | None = None,
        text_ids: torch.Tensor | None = None,
        text_padding_mask: torch.Tensor | None = None,
        vision_masked_position: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Returns tokens [B, 1 + P + L, D]; see the class docstring. `vision_masked_position`
        (bool [B, P]) replaces those patches by the mask token (masked image modelling)."""
        if image is None and text_ids is None:
            raise InputError("BEiT3Encoder needs an image, text ids, or both")
        parts, masks = [], []
        if image is not None:
            vision = self._embed_image(image, vision_masked_position)
            parts.append(vision)
            masks.append(torch.zeros(vision.shape[:2], dtype=torch.bool, device=vision.device))
        if text_ids is not None:
            text, text_mask = self._embed_text(text_ids, text_padding_mask)
            if parts and text.shape[0] != parts[0].shape[0]:
                raise InputError(f"batch of {parts[0].shape[0]} images but {text.shape[0]} texts")
            parts.append(text)
            masks.append(text_mask)
        split = parts[0].shape[1] if image is not None else 0
        x = torch.cat(parts, dim=1)
        padding = None
        if text_ids is not None and text_padding_mask is not None:
            padding = torch.cat(masks, dim=1)
            # Padding tokens start as zeros, as in the official encoder; they are never attended to.
            x = x * (~padding).unsqueeze(-1).to(x.dtype)
        return self.encoder(x, split, padding)

    def _embed_image(self, image: torch.Tensor, masked_position: torch.Tensor | None) -> torch.Tensor:
        if image.dim() != 4 or image.shape[1] != 3:
            raise InputError(f"image must be [B, 3, H, W], got {tuple(image.shape)}")
        p = self.config.patch_size
        height, width = image.shape[-2:]
        if height % p or width % p:
            raise InputError(f"image size {height}x{width} is not a multiple of the patch size {p}")
        tokens = self.vision_embed(image, masked_position)
        positions = self.encoder.embed_positions.vision((height // p, width // p))
        return tokens + positions.unsqueeze(0)

    def _embed_text(
        self, text_ids: torch.Tensor, padding_mask: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if text_ids.dim() != 2:
            raise InputError(f"text_ids must be [B, L], got {tuple(text_ids.shape)}")
        if text_ids.numel() and (int(text_ids.min()) < 0 or int(text_ids.max()) >= self.config.vocab_size):
            raise InputError(
                f"text ids must lie in [0, {self.config.vocab_size}), got {int(text_ids.min())}..{int(text_ids.max())}"
            )
        if padding_mask is None:
            padding_mask = torch.zeros_like(text_ids, dtype=torch.bool)
        elif padding_mask.shape != text_ids.shape:
            raise InputError(f"text_padding_mask {tuple(padding_mask.shape)} != text_ids {tuple(text_ids.shape)}")
        positions = self.encoder.embed_positions.text(text_ids.shape[1])
        return self.text_embed(text_ids) + positions.unsqueeze(0), padding_mask.bool()
