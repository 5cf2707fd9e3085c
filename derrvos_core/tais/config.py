"""Configuration of TAIS (Trajectory Alignment and Implicit Selection)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from derrvos_core.errors import InputError


@dataclass(frozen=True)
class TAISConfig:
    """Sizes of the aligner + selector. `full()` matches 512-d DVIS++ trajectories and BEiT-3 base.

    Every field is saved in our checkpoints' `config.json`.
    """

    #: Width C of the trajectory embeddings it reads (DVIS++: 2 x segmenter hidden = 512).
    trajectory_dim: int = 512
    #: Width D of the multimodal tokens it reads (BEiT-3 base: 768).
    token_dim: int = 768
    #: Common width both inputs are projected to (DESIGN §1: 256).
    width: int = 256
    #: Decoder layers N_d; each is supervised (the paper's gains plateau beyond 3).
    num_layers: int = 3
    #: Attention heads in every attention of a layer; `width` must divide evenly.
    num_heads: int = 8
    #: Hidden width of each layer's feed-forward network.
    ffn_dim: int = 1024
    #: Dropout on attention weights and FFN output during training.
    dropout: float = 0.1
    #: Kernel (frames) of the motion encoder's two temporal convolutions; odd, so frame t stays centred.
    motion_kernel: int = 5
    #: The motion stream (`motion.MotionEncoder`: query deltas + mask kinematics) added to the trajectory
    #: stream; off only to measure what it brings (the model card's motion ablation).
    motion_stream: bool = True
    #: Also give the motion stream each trajectory's crop-level path summary (`motion.motion_summary`).
    #: Beyond the paper; off by default: stage-4 runs with it did not beat runs without (model card).
    motion_summary: bool = False
    #: Add each trajectory's mask-pooled vision tokens to its stream (`region.RegionPooling`). Beyond
    #: the paper's aligner; off in configs saved before it existed, on in both presets (measured
    #: reason in the default model card).
    region_pooling: bool = False
    #: Add a bilinear trajectory-expression match to every selector's frame relevance
    #: (`selector.ImplicitSelector`). Beyond the paper; off in older configs, on in both presets.
    text_matching: bool = False

    def __post_init__(self) -> None:
        if self.width % self.num_heads:
            raise InputError(f"TAIS width {self.width} is not divisible by num_heads {self.num_heads}")
        if self.num_layers < 1:
            raise InputError(f"TAIS needs at least one layer, got num_layers={self.num_layers}")
        if self.motion_kernel < 1 or self.motion_kernel % 2 == 0:
            raise InputError(f"motion_kernel must be odd and positive, got {self.motion_kernel}")

    @classmethod
    def full(cls) -> TAISConfig:
        """For DVIS++ R50 (512-d) and BEiT-3 base (768-d): 3 layers x 256, 8 heads."""
        return cls(region_pooling=True, text_matching=True)

    @classmethod
    def tiny(cls) -> TAISConfig:
        """For the tiny branches (128-d trajectories, 256-d tokens): 3 layers x 96, 4 heads."""
        return cls(trajectory_dim=128, token_dim=256, width=96, num_heads=4, ffn_dim=256, dropout=0.0,
                   motion_kernel=3, region_pooling=True, text_matching=True)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TAISConfig:
        unknown = sorted(set(data) - {f.name for f in fields(cls)})
        if unknown:
            raise InputError(f"TAISConfig: unknown config keys {unknown}")
        return cls(**data)
