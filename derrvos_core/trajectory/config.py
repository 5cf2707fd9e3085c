"""Configuration of the trajectory branch (DVIS++ segmenter, referring tracker, temporal refiner).

Two presets share one code path: `TrajectoryConfig.full()` is DVIS++ R50 offline as its official
code builds it (OVIS config, 25 classes), `TrajectoryConfig.tiny()` is a CPU-sized copy.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields

from ..errors import InputError


@dataclass(frozen=True)
class BackboneConfig:
    """ResNet backbone (transformers `ResNetConfig`)."""

    embedding_size: int = 64  # stem width (detectron2 STEM_OUT_CHANNELS)
    hidden_sizes: tuple[int, ...] = (256, 512, 1024, 2048)  # output width of res2..res5
    depths: tuple[int, ...] = (3, 4, 6, 3)  # blocks per stage (ResNet-50)
    layer_type: str = "bottleneck"  # "bottleneck" (R50) or "basic"
    # detectron2 FrozenBN: affine + running stats kept as buffers; needed to load official weights.
    frozen_batchnorm: bool = True


@dataclass(frozen=True)
class SegmenterConfig:
    """Mask2Former segmenter with the DVIS++ re-id branch."""

    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    num_classes: int = 25  # OVIS
    num_queries: int = 100
    hidden_dim: int = 256  # decoder width; trajectory embeddings are 2 * hidden_dim wide
    num_heads: int = 8
    dim_feedforward: int = 2048  # masked-attention decoder FFN
    decoder_layers: int = 9  # masked-attention layers (detectron2 DEC_LAYERS - 1)
    pixel_decoder_layers: int = 6  # MSDeformAttn encoder layers
    pixel_decoder_feedforward: int = 1024
    mask_dim: int = 256  # width of the 1/4-resolution mask features
    reid_layers: int = 3  # re-id MLP depth (0 = identity)
    reid_hidden_dim: int = 256
    # loss settings passed to transformers' Mask2FormerLoss / matcher
    class_weight: float = 2.0
    mask_weight: float = 5.0
    dice_weight: float = 5.0
    no_object_weight: float = 0.1
    train_num_points: int = 12544
    size_divisibility: int = 32  # frames are zero-padded (after normalisation) to a multiple of this
    pixel_mean: tuple[float, float, float] = (123.675, 116.280, 103.530)
    pixel_std: tuple[float, float, float] = (58.395, 57.120, 57.375)
    window_size: int = 21  # frames per segmenter batch during `generate` (bounds memory)

    @property
    def embed_dim(self) -> int:
        """Width of a query embedding: normalised query || re-id output."""
        return 2 * self.hidden_dim


@dataclass(frozen=True)
class TrackerConfig:
    """Referring tracker (online). Width is the segmenter's embed_dim (2 * hidden)."""

    num_layers: int = 6
    num_heads: int = 8
    dim_feedforward: int = 2048
    noise_mode: str = "wa"  # training noise: "wa" (weighted average) or "none"
    noise_ratio: float = 0.5  # probability of noising a frame during training


@dataclass(frozen=True)
class RefinerConfig:
    """Temporal refiner (offline over a crop)."""

    num_layers: int = 6
    num_heads: int = 8
    dim_feedforward: int = 2048
    short_kernels: tuple[int, int] = (5, 3)  # the two short temporal convs


@dataclass(frozen=True)
class UpsamplerConfig:
    """Image-guided mask upsampler (`upsampler.MaskUpsampler`); not in the paper's model."""

    channels: int = 0  # width of its convolutions; 0: no upsampler (masks stay at 1/4 of the input)
    scale: int = 2  # output side / mask side
    dilations: tuple[int, ...] = (1, 2, 4, 8, 1)  # one residual 3 x 3 convolution per entry

    def __post_init__(self) -> None:
        if not 1 <= self.scale <= 8 or not all(1 <= d <= 32 for d in self.dilations):
            raise InputError(f"upsampler: scale must be in 1..8 and dilations in 1..32, got scale "
                             f"{self.scale}, dilations {list(self.dilations)}")

    @property
    def enabled(self) -> bool:
        return self.channels > 0


@dataclass(frozen=True)
class TrajectoryConfig:
    """The whole trajectory branch."""

    segmenter: SegmenterConfig = field(default_factory=SegmenterConfig)
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    refiner: RefinerConfig = field(default_factory=RefinerConfig)
    top_k: int = 20  # trajectories passed on by `generate` (DeRVOS default K)
    upsampler: UpsamplerConfig = field(default_factory=UpsamplerConfig)
    #: A model's branch drops a trajectory whose clip mask IoU with a better-scored one of the same crop
    #: reaches this, before taking its top K (0: keeps all, as DVIS++ and the paper do). Not part of the
    #: paper's model: SynthRef's tiny branch covers an object with several near-copies, which stage 4
    #: labels positive and negative alike.
    duplicate_iou: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.duplicate_iou < 1.0:
            raise InputError(f"duplicate_iou must be in [0, 1), got {self.duplicate_iou}")

    @property
    def embed_dim(self) -> int:
        return self.segmenter.embed_dim

    @staticmethod
    def full() -> TrajectoryConfig:
        """DVIS++ R50 offline (OVIS, 25 classes): 100 queries, 9 decoder layers, 6 + 6 layers, 512-d."""
        return TrajectoryConfig()

    @staticmethod
    def tiny() -> TrajectoryConfig:
        """Small widths and depths for 2 CPU cores at 128-192 px; 128-d trajectories."""
        backbone = BackboneConfig(
            embedding_size=16, hidden_sizes=(32, 64, 128, 256), depths=(1, 1, 1, 1),
            layer_type="basic", frozen_batchnorm=False,
        )
        segmenter = SegmenterConfig(
            backbone=backbone, num_classes=1, num_queries=16, hidden_dim=64, num_heads=4,
            dim_feedforward=256, decoder_layers=3, pixel_decoder_layers=2, pixel_decoder_feedforward=128,
            mask_dim=64, reid_hidden_dim=64, train_num_points=1024,
        )
        tracker = TrackerConfig(num_layers=2, num_heads=4, dim_feedforward=256)
        refiner = RefinerConfig(num_layers=2, num_heads=4, dim_feedforward=256)
        return TrajectoryConfig(segmenter=segmenter, tracker=tracker, refiner=refiner)

    def to_dict(self) -> dict:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @staticmethod
    def from_dict(d: dict) -> TrajectoryConfig:
        seg = dict(d.get("segmenter", {}))
        seg["backbone"] = _build(BackboneConfig, seg.get("backbone", {}))
        return TrajectoryConfig(
            segmenter=_build(SegmenterConfig, seg),
            tracker=_build(TrackerConfig, d.get("tracker", {})),
            refiner=_build(RefinerConfig, d.get("refiner", {})),
            upsampler=_build(UpsamplerConfig, d.get("upsampler", {})),
            **{k: v for k, v in d.items() if k not in ("segmenter", "tracker", "refiner", "upsampler")},
        )

    @staticmethod
    def from_json(text: str) -> TrajectoryConfig:
        return TrajectoryConfig.from_dict(json.loads(text))


def _build(cls, values: dict):
    """A frozen dataclass from a JSON dict: lists become tuples, unknown keys are an error."""
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise InputError(f"{cls.__name__}: unknown config keys {unknown}")
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})
