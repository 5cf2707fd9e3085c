"""Expression tokenizers: the sentencepiece one BEiT-3 uses, or UTF-8 bytes when a model has none."""
from __future__ import annotations

from pathlib import Path

import torch

from derrvos_core.errors import InputError
from derrvos_core.multimodal.tokenizer import ExpressionTokenizer

#: Ids below this are XLM-R's specials (<s> 0, <pad> 1, </s> 2, <unk> 3); byte b is id b + 4.
_BYTE_OFFSET = 4


class ByteTokenizer:
    """UTF-8 bytes as ids, with the same specials and padding as `ExpressionTokenizer`.

    For models built without a sentencepiece file (random-init tests, quick experiments): every
    text maps to ids without training anything. A shipped model carries its `tokenizer.spm`.
    """

    bos_id, pad_id, eos_id = 0, 1, 2

    def __init__(self, max_length: int):
        if max_length < 3:
            raise InputError(f"max_length must hold <s>, one token and </s>; got {max_length}")
        self.max_length = max_length

    @property
    def vocab_size(self) -> int:
        return 256 + _BYTE_OFFSET

    def encode(self, text: str) -> tuple[torch.Tensor, torch.Tensor, bool]:
        """text -> (ids [max_length], padding_mask [max_length] True = pad, truncated)."""
        if not isinstance(text, str) or not text.strip():
            raise InputError("the expression is empty; type what to segment, e.g. 'the red car turning left'")
        pieces = [b + _BYTE_OFFSET for b in text.encode("utf-8")]
        room = self.max_length - 2
        ids = [self.bos_id] + pieces[:room] + [self.eos_id]
        used = len(ids)
        padding = [False] * used + [True] * (self.max_length - used)
        ids += [self.pad_id] * (self.max_length - used)
        truncated = len(pieces) > room
        return torch.tensor(ids, dtype=torch.long), torch.tensor(padding, dtype=torch.bool), truncated

    def decode(self, ids: torch.Tensor) -> str:
        data = bytes(int(i) - _BYTE_OFFSET for i in ids if int(i) >= _BYTE_OFFSET)
        return data.decode("utf-8", errors="ignore")


def build_tokenizer(spm_path: str | Path | None, max_length: int) -> ExpressionTokenizer | ByteTokenizer:
    """The sentencepiece tokenizer on `spm_path`, or `ByteTokenizer` when there is no file."""
    if spm_path is None:
        return ByteTokenizer(max_length)
    return ExpressionTokenizer(spm_path, max_length=max_length)
