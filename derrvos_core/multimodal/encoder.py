"""The multimodal branch: every frame of a crop paired with the expression, through BEiT-3."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from derrvos_core.errors import InputError
from derrvos_core.multimodal.beit3 import BEiT3Encoder
from derrvos_core.multimodal.config import BEiT3Config
from derrvos_core.multimodal.types import MultimodalTokens

#: BEiT-3 normalises pixels in 0..1 with mean = std = 0.5 (the "inception" constants).
PIXEL_MEAN = 0.5
PIXEL_STD = 0.5


class MultimodalEncoder(nn.Module):
    """BEiT-3 plus its image preprocessing. Stateless: frames and text in, joint tokens out.

    Args:
        config: the BEiT-3 sizes.
        image_size: side frames are resized to (default `config.image_size`); other sizes than the
            config's run on bicubically interpolated positions.

    The wrapped encoder is `self.beit3`, so this module's state-dict keys are the official
    checkpoint's `beit3.*` keys exactly.
    """

    def __init__(self, config: BEiT3Config, image_size: int | None = None):
        super().__init__()
        self.config = config
        self.image_size = image_size or config.image_size
        if self.image_size % config.patch_size:
            raise InputError(f"image_size {self.image_size} is not a multiple of patch {config.patch_size}")
        self.beit3 = BEiT3Encoder(config)

    @property
    def embed_dim(self) -> int:
        return self.config.embed_dim

    @property
    def num_vision_tokens(self) -> int:
        """1 CLS + patches at `image_size`."""
        return 1 + (self.image_size // self.config.patch_size) ** 2

    def preprocess(self, frames: torch.Tensor) -> torch.Tensor:
        """frames float [T, 3, H, W] RGB in 0..255 -> [T, 3, S, S] normalised, S = image_size.

        Bicubic with antialiasing and clamping, like the official PIL bicubic resize of 8-bit images.
        """
        if frames.dim() != 4 or frames.shape[1] != 3:
            raise InputError(f"frames must be float [T, 3, H, W], got {tuple(frames.shape)}")
        if frames.shape[0] == 0:
            raise InputError("frames must hold at least one frame")
        x = frames.float()
        size = (self.image_size, self.image_size)
        if tuple(x.shape[-2:]) != size:
            x = F.interpolate(x, size=size, mode="bicubic", align_corners=False, antialias=True).clamp(0, 255)
        return (x / 255.0 - PIXEL_MEAN) / PIXEL_STD

    def encode(
        self, frames: torch.Tensor, text_ids: torch.Tensor, text_padding_mask: torch.Tensor
    ) -> MultimodalTokens:
        """frames float [T, 3, H, W] 0..255; text_ids long [L]; text_padding_mask bool [L] (True = pad).

        Returns MultimodalTokens with tokens [T, 1 + P + L', D] and padding_mask [T, 1 + P + L'], L' <= L
        (trailing padding dropped); the expression is paired with every frame and all frames run as
        one batch.
        """
        if text_ids.dim() != 1 or text_padding_mask.shape != text_ids.shape:
            raise InputError(
                f"text_ids and text_padding_mask must both be [L], got {tuple(text_ids.shape)} and "
                f"{tuple(text_padding_mask.shape)}"
            )
        text_ids, text_padding_mask = trim_trailing_padding(text_ids, text_padding_mask)
        images = self.preprocess(frames.to(self.beit3.text_embed.weight.device))
        count = images.shape[0]
        ids = text_ids.to(images.device).unsqueeze(0).expand(count, -1)
        text_mask = text_padding_mask.to(images.device).bool().unsqueeze(0).expand(count, -1)
        tokens = self.beit3(images, ids, text_mask)
        num_vision = tokens.shape[1] - ids.shape[1]
        vision_mask = torch.zeros(count, num_vision, dtype=torch.bool, device=images.device)
        return MultimodalTokens(
            tokens=tokens,
            padding_mask=torch.cat([vision_mask, text_mask], dim=1),
            num_vision_tokens=num_vision,
            text_embeddings=self.text_inputs(text_ids, text_padding_mask),
        )

    def text_inputs(self, text_ids: torch.Tensor, text_padding_mask: torch.Tensor) -> torch.Tensor:
        """float [L', D]: the expression's embeddings (words + positions) as BEiT-3 reads them, trailing
        padding dropped as in `encode`. Cheap (a table lookup): a cache of tokens need not keep it."""
        text_ids, text_padding_mask = trim_trailing_padding(text_ids, text_padding_mask)
        device = self.beit3.text_embed.weight.device
        embedded, _ = self.beit3._embed_text(text_ids.to(device).unsqueeze(0),
                                             text_padding_mask.to(device).bool().unsqueeze(0))
        return embedded[0]

    def forward(
        self, frames: torch.Tensor, text_ids: torch.Tensor, text_padding_mask: torch.Tensor
    ) -> MultimodalTokens:
        return self.encode(frames, text_ids, text_padding_mask)


def trim_trailing_padding(text_ids: torch.Tensor, text_padding_mask: torch.Tensor
                          ) -> tuple[torch.Tensor, torch.Tensor]:
    """Ids and mask up to the last real token (at least one). Trailing padding changes no other token
    (padded keys are masked), so it is not computed."""
    real = (~text_padding_mask.bool()).nonzero()
    length = int(real.max()) + 1 if len(real) else 1
    return text_ids[:length], text_padding_mask[:length]
