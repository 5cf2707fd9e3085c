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

    def frame(self, index: int) -> MultimodalTokens:
        """Frame `index`, copied (for the per-frame cache); `text_embeddings` is shared, not copied."""
        return MultimodalTokens(tokens=self.tokens[index:index + 1].clone(),
                                padding_mask=self.padding_mask[index:index + 1].clone(),
                                num_vision_tokens=self.num_vision_tokens, text_embeddings=self.text_embeddings)

    @staticmethod
    def concat(parts: list[MultimodalTokens]) -> MultimodalTokens:
        return MultimodalTokens(tokens=torch.cat([p.tokens for p in parts]),
                                padding_mask=torch.cat([p.padding_mask for p in parts]),
                                num_vision_tokens=parts[0].num_vision_tokens, text_embeddings=parts[0].text_embeddings)

    @property
    def nbytes(self) -> int:
        """Bytes of the per-frame tensors (`text_embeddings`, one per expression, is not counted)."""
        return self.tokens.numel() * self.tokens.element_size() + self.padding_mask.numel()
