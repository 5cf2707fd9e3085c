"""Expression tokenizer: transformers' XLMRobertaTokenizer on a sentencepiece model, BEiT-3 style.

Ids follow the fairseq/XLM-R convention of the official `beit3.spm` use: <s> = 0, <pad> = 1,
</s> = 2, <unk> = 3, sentencepiece piece i (i >= 3) -> i + 1, <mask> last. A sequence is
[<s>] + pieces + [</s>], cut to `max_length` and padded with <pad> (as the official
`_get_text_segment` does).
"""
from __future__ import annotations

import collections
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

import torch

from derrvos_core.errors import InputError


class ExpressionTokenizer:
    """Turns a referring expression into fixed-length ids and a padding mask.

    Args:
        spm_path: a sentencepiece model file (the official `beit3.spm`, or one from `train_sentencepiece`).
        max_length: ids per expression, <s> and </s> included (64 in the official fine-tuning).
    """

    def __init__(self, spm_path: str | Path, max_length: int = 64):
        from transformers import XLMRobertaTokenizer

        spm_path = Path(spm_path)
        if not spm_path.is_file():
            raise InputError(f"sentencepiece model not found: {spm_path}")
        if max_length < 3:
            raise InputError(f"max_length must hold <s>, one token and </s>; got {max_length}")
        self.spm_path = spm_path
        self.max_length = max_length
        # transformers 5 builds XLM-R tokenizers from a sentencepiece file only through its
        # conversion path, which looks for the file under its canonical name in a folder.
        with tempfile.TemporaryDirectory() as folder:
            shutil.copyfile(spm_path, Path(folder) / "sentencepiece.bpe.model")
            self._tokenizer = XLMRobertaTokenizer.from_pretrained(folder, local_files_only=True)
        self.bos_id = self._tokenizer.bos_token_id
        self.pad_id = self._tokenizer.pad_token_id
        self.eos_id = self._tokenizer.eos_token_id

    @property
    def vocab_size(self) -> int:
        """Number of distinct ids (specials and <mask> included); the text embedding needs at least this."""
        return len(self._tokenizer)

    def tokenize(self, text: str) -> list[str]:
        return self._tokenizer.tokenize(text)

    def encode(self, text: str) -> tuple[torch.Tensor, torch.Tensor, bool]:
        """text -> (ids LongTensor [max_length], padding_mask BoolTensor [max_length] True = pad,
        truncated: whether pieces were cut to fit)."""
        if not isinstance(text, str) or not text.strip():
            raise InputError("the expression is empty; type what to segment, e.g. 'the red car turning left'")
        pieces = self._tokenizer.convert_tokens_to_ids(self._tokenizer.tokenize(text))
        room = self.max_length - 2
        truncated = len(pieces) > room
        ids = [self.bos_id] + pieces[:room] + [self.eos_id]
        used = len(ids)
        ids += [self.pad_id] * (self.max_length - used)
        padding = [False] * used + [True] * (self.max_length - used)
        return torch.tensor(ids, dtype=torch.long), torch.tensor(padding, dtype=torch.bool), truncated

    def decode(self, ids: torch.Tensor) -> str:
        return self._tokenizer.decode([int(i) for i in ids], skip_special_tokens=True)


def train_sentencepiece(sentences: Iterable[str], out_prefix: str | Path, vocab_size: int = 1000) -> Path:
    """Train a unigram sentencepiece model usable by `ExpressionTokenizer`; returns `<out_prefix>.model`.

    `vocab_size` is an upper bound: a small corpus yields fewer pieces. Sentencepiece's own seed
    search counts substrings over distinct words, which on a small, repetitive corpus (SynthRef)
    leaves whole words out and splits them into letters; so we seed it with every substring of
    every word, weighted by corpus frequency, and let its EM keep the best `vocab_size`.
    """
    import sentencepiece as spm

    corpus = [s.strip() for s in sentences if s and s.strip()]
    if not corpus:
        raise InputError("train_sentencepiece needs at least one non-empty sentence")
    out_prefix = Path(out_prefix)
    out_prefix.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        seeds = Path(folder) / "seeds.tsv"
        seeds.write_text("".join(f"{piece}\t{score}\n" for piece, score in _seed_pieces(corpus)))
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(corpus),
            model_prefix=str(out_prefix),
            vocab_size=vocab_size,
            model_type="unigram",
            hard_vocab_limit=False,
            character_coverage=1.0,
            seed_sentencepieces_file=str(seeds),
            minloglevel=2,
        )
    return Path(f"{out_prefix}.model")


def _seed_pieces(corpus: list[str], max_len: int = 16, limit: int = 200_000) -> list[tuple[str, int]]:
    """Substrings (>= 2 chars) of '▁'-prefixed words scored by frequency x length, best first."""
    words = collections.Counter("\u2581" + w for s in corpus for w in s.split())
    scores: collections.Counter[str] = collections.Counter()
    for word, freq in words.items():
        for i in range(len(word)):
            for j in range(i + 2, min(len(word), i + max_len) + 1):
                scores[word[i:j]] += freq * (j - i)
    return scores.most_common(limit)
