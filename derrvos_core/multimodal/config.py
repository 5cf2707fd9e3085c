"""Configuration of the BEiT-3 multiway transformer (the multimodal branch's backbone)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass(frozen=True)
class BEiT3Config:
    """Sizes of a BEiT-3 encoder. `base()` equals the official `beit3_base_patch16_224`.

    Every field is saved in our checkpoints' `config.json`, so a model rebuilds from it alone.
    """

    #: Text vocabulary rows of `text_embed`. The official 64010 covers beit3.spm's 64000 pieces
    #: plus XLM-R's fairseq specials (<s>=0, <pad>=1, </s>=2, <unk>=3, <mask>) and some slack.
    vocab_size: int = 64010
    #: Token width D, shared by both modalities (joint attention needs one width).
    embed_dim: int = 768
    #: Encoder depth; every layer has a vision expert (A) and a language expert (B).
    num_layers: int = 12
    #: Attention heads; embed_dim must divide evenly.
    num_heads: int = 12
    #: Hidden width of each expert's feed-forward network.
    ffn_dim: int = 3072
    #: Training image size (square); sets the rows of the vision position table.
    #: Other sizes are accepted at run time by bicubic interpolation of the position grid.
    image_size: int = 224
    #: Patch side in pixels; the vision tokens are 1 CLS + (image_size / patch_size)^2 patches.
    patch_size: int = 16
    #: Rows of the text position table. As in the official code (fairseq habit) positions start
    #: at 2, so at most max_text_positions - 2 text tokens fit.
    max_text_positions: int = 1024
    #: LayerNorm epsilon (torchscale's default).
    layernorm_eps: float = 1e-5
    #: Dropout on attention output and FFN output (0 in the official fine-tuning configs).
    dropout: float = 0.0
    #: Stochastic depth, rising linearly from 0 at the first layer to this value at the last.
    drop_path_rate: float = 0.0

    def __post_init__(self) -> None:
        if self.embed_dim % self.num_heads:
            raise ValueError(f"embed_dim {self.embed_dim} is not divisible by num_heads {self.num_heads}")
        if self.image_size % self.patch_size:
            raise ValueError(f"image_size {self.image_size} is not a multiple of patch_size {self.patch_size}")
        if self.max_text_positions < 3:
            raise ValueError("max_text_positions must leave room for at least one token after the offset of 2")

    @property
    def grid_size(self) -> int:
        """Patches per image side at `image_size`."""
        return self.image_size // self.patch_size

    @property
    def num_vision_tokens(self) -> int:
        """1 CLS + patches at `image_size` (197 at base)."""
        return 1 + self.grid_size**2

    @property
    def max_text_length(self) -> int:
        """Most text tokens (bos and eos included) the position table can place."""
        return self.max_text_positions - POSITION_OFFSET

    @classmethod
    def base(cls) -> "BEiT3Config":
        """BEiT-3 base, patch 16, 224 px: 12 x 768, 12 heads, FFN 3072 (official sizes)."""
        return cls()

    @classmethod
    def tiny(cls) -> "BEiT3Config":
        """A CPU-sized model with the same structure: 4 x 256, 4 heads, FFN 1024, 128 px.

        The vocabulary fits a sentencepiece model of up to 1000 pieces trained by
        `train_sentencepiece` (ids up to pieces + 2 after the fairseq offset and <mask>).
        """
        return cls(
            vocab_size=1024,
            embed_dim=256,
            num_layers=4,
            num_heads=4,
            ffn_dim=1024,
            image_size=128,
            patch_size=16,
            max_text_positions=66,
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "BEiT3Config":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown BEiT3Config fields: {unknown}")
        return cls(**data)


#: Positions start at 2 in both tables (fairseq's padding_idx + 1), as the official BEiT-3 does.
POSITION_OFFSET = 2
