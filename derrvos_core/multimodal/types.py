"""The multimodal branch's output, per frame of a crop."""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class MultimodalTokens:
    """Joint vision-language tokens of T frames paired with one expression.

    Attributes:
        tokens: float [T, S, D]; S = 1 + P vision tokens (CLS first) followed by L text tokens.
        padding_mask: bool [T, S]; True where a token is padding (only text tokens can be).
        num_vision_tokens: 1 + P, the number of leading vision tokens in S.
        text_embeddings: float [S - (1 + P), D] or None; the expression's input embeddings (words +
            positions) as BEiT-3 reads them, the same for every frame (TAIS's text matching).
    """

    tokens: torch.Tensor
    padding_mask: torch.Tensor
    num_vision_tokens: int
    text_embeddings: torch.Tensor | None = None
