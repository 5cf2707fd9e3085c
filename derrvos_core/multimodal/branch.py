"""BEiT-3 as a multimodal branch (`derrvos_core.model.branches.MultimodalBranch`)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from derrvos_core.errors import InputError
from derrvos_core.validation import expression_text

from .config import BEiT3Config
from .encoder import MultimodalEncoder
from .text import build_tokenizer
from .types import MultimodalTokens


@dataclass(frozen=True)
class ExpressionInput:
    """An expression as BEiT-3 reads it.

    Attributes:
        ids: long [L]; L = `max_text_len`, <s> ... </s> then <pad>.
        padding_mask: bool [L]; True at padding.
        truncated: whether words were cut to fit L.
        text: the expression as given (whitespace folded), or what remains of it after truncation.
        ignored: words not used (BEiT-3 reads every word it keeps: always empty).
    """

    ids: torch.Tensor
    padding_mask: torch.Tensor
    truncated: bool
    text: str
    ignored: tuple[str, ...] = ()


class BEiT3Branch(MultimodalEncoder):
    """BEiT-3 with its tokenizer: reads the expression, then encodes each frame with it.

    A subclass, not a wrapper, so the state-dict keys stay `beit3.*` (under the model's `multimodal.`).

    Args:
        config: the BEiT-3 sizes.
        image_size: side of the square image BEiT-3 sees.
        tokenizer_path: the sentencepiece model of the text vocabulary; None uses UTF-8 bytes
            (`ByteTokenizer`), enough for random-init models and tests.
        max_text_len: text ids per expression, <s> and </s> included.
    """

    def __init__(self, config: BEiT3Config, *, image_size: int, tokenizer_path: str | Path | None,
                 max_text_len: int):
        super().__init__(config, image_size=image_size)
        self.tokenizer_path = Path(tokenizer_path) if tokenizer_path is not None else None
        self.tokenizer = build_tokenizer(self.tokenizer_path, max_text_len)
        if self.tokenizer.vocab_size > config.vocab_size:
            raise InputError(f"the tokenizer has {self.tokenizer.vocab_size} ids but the text embedding only "
                             f"{config.vocab_size} rows")

    @property
    def key(self) -> str:
        return f"beit3/{self.image_size}/{self.beit3.text_embed.weight.device}"

    def read(self, text: str) -> ExpressionInput:
        """Tokenise; InputError for what `validation.expression_text` refuses (empty, invisible-only,
        NUL, lone surrogates, over-long)."""
        expression_text(text)
        folded = " ".join(text.split())
        ids, padding, truncated = self.tokenizer.encode(folded)
        read = self.tokenizer.decode(ids[~padding]).strip() if truncated else folded
        return ExpressionInput(ids=ids, padding_mask=padding, truncated=truncated, text=read)

    def frame_tokens(self, prepared: torch.Tensor, expression: ExpressionInput) -> MultimodalTokens:
        """BEiT-3 tokens of every prepared frame paired with the expression (per frame: cacheable)."""
        return self.encode(prepared, expression.ids, expression.padding_mask)
