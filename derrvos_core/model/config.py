"""Configuration of the whole DeRVOS model: both branches, TAIS, and the inference defaults."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from derrvos_core.errors import InputError
from derrvos_core.multimodal.config import BEiT3Config
from derrvos_core.tais.config import TAISConfig
from derrvos_core.trajectory.config import TrajectoryConfig


@dataclass(frozen=True)
class DeRVOSConfig:
    """Everything needed to rebuild a DeRVOS model; saved as the checkpoint's `config.json`.

    `full()` is the paper's setting (DVIS++ R50, BEiT-3 base, TAIS 3 x 256); `tiny()` runs on 2 CPU
    cores with the same classes at small widths.
    """

    #: Preset or run name; the first part of `DeRVOS.version`.
    name: str = "derrvos-full"
    #: The trajectory branch (DVIS++ segmenter, referring tracker, temporal refiner).
    trajectory: TrajectoryConfig = field(default_factory=TrajectoryConfig.full)
    #: The multimodal branch (BEiT-3).
    multimodal: BEiT3Config = field(default_factory=BEiT3Config.base)
    #: Trajectory alignment and implicit selection.
    tais: TAISConfig = field(default_factory=TAISConfig.full)
    #: Frames are resized to input_size x input_size for the trajectory branch (the paper's
    #: ablations use 384 x 384); masks come back at 1/4 of it and are upsampled to the video's size.
    input_size: int = 384
    #: Side of the square image BEiT-3 sees (224 for the official weights; positions are
    #: interpolated for other sizes).
    multimodal_image_size: int = 224
    #: Trajectories per crop passed from the trajectory branch to TAIS (DESIGN §1: K = 20).
    top_k: int = 20
    #: Text ids per expression, <s> and </s> included; longer expressions are truncated with a warning.
    max_text_len: int = 64
    #: Default frames per independent inference crop (the paper's best: 36).
    crop_size: int = 36
    #: Default confidence threshold a trajectory must reach to be selected (the paper: 0.7).
    threshold: float = 0.7

    def __post_init__(self) -> None:
        if self.tais.trajectory_dim != self.trajectory.embed_dim:
            raise InputError(f"tais.trajectory_dim {self.tais.trajectory_dim} != trajectory embed_dim "
                             f"{self.trajectory.embed_dim}")
        if self.tais.token_dim != self.multimodal.embed_dim:
            raise InputError(f"tais.token_dim {self.tais.token_dim} != multimodal embed_dim "
                             f"{self.multimodal.embed_dim}")
        if self.input_size < 32:
            raise InputError(f"input_size must be at least 32 px, got {self.input_size}")
        if self.multimodal_image_size % self.multimodal.patch_size:
            raise InputError(f"multimodal_image_size {self.multimodal_image_size} is not a multiple of "
                             f"the patch size {self.multimodal.patch_size}")
        if not 3 <= self.max_text_len <= self.multimodal.max_text_length:
            raise InputError(f"max_text_len must be in 3..{self.multimodal.max_text_length} (the text "
                             f"position table), got {self.max_text_len}")
        if self.top_k < 1 or self.crop_size < 1 or not 0.0 <= self.threshold <= 1.0:
            raise InputError(f"need top_k >= 1, crop_size >= 1 and threshold in [0, 1]; got {self.top_k}, "
                             f"{self.crop_size}, {self.threshold}")
        if self.trajectory.top_k != self.top_k:
            raise InputError(f"top_k {self.top_k} and trajectory.top_k {self.trajectory.top_k} differ: top_k is "
                             f"the trajectories per crop the model passes to the selector; give both the same")

    @classmethod
    def full(cls) -> DeRVOSConfig:
        """DVIS++ R50 (512-d trajectories) + BEiT-3 base at 224 + TAIS 3 x 256; 384 px input."""
        return cls()

    @classmethod
    def tiny(cls) -> DeRVOSConfig:
        """The CPU model shipped as "default": tiny branches at 128 px, TAIS 3 x 96, 32 text ids."""
        return cls(name="derrvos-tiny", trajectory=TrajectoryConfig.tiny(), multimodal=BEiT3Config.tiny(),
                   tais=TAISConfig.tiny(), input_size=128, multimodal_image_size=128, max_text_len=32)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_json(cls, text: str) -> DeRVOSConfig:
        """From JSON text: `to_json()`, or a checkpoint's config.json (its "checkpoint" section, the
        folder's format metadata, is not part of the model config and is skipped)."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise InputError(f"DeRVOS config is not valid JSON: {err}") from err
        if isinstance(data, dict):
            data.pop("checkpoint", None)
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeRVOSConfig:
        """Rebuild from `to_dict()`; unknown or malformed keys raise InputError naming them."""
        if not isinstance(data, dict):
            raise InputError(f"a DeRVOS config must be a JSON object, got {type(data).__name__}")
        unknown = sorted(set(data) - {f.name for f in fields(cls)})
        if unknown:
            raise InputError(f"DeRVOSConfig: unknown config keys {unknown}")
        values = dict(data)
        try:
            if "trajectory" in values:
                values["trajectory"] = TrajectoryConfig.from_dict(values["trajectory"])
            if "multimodal" in values:
                values["multimodal"] = BEiT3Config.from_dict(values["multimodal"])
            if "tais" in values:
                values["tais"] = TAISConfig.from_dict(values["tais"])
            return cls(**values)
        except (TypeError, ValueError, AttributeError) as err:
            raise InputError(f"DeRVOSConfig: {err}") from err
