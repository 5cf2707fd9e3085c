"""The settings of one run, made in one place from the model's defaults and carried by its result."""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from derrvos_core.errors import InputError
from derrvos_core.validation import crop_size_value, threshold_value


@dataclass(frozen=True)
class SegmentSettings:
    """How one (video, expression) query is run and its answer selected.

    Made by `ModelDefaults.settings` (which fills what the caller leaves out) in the UI, the CLI and the
    API alike; the `SegmentationResult` it produced carries it, and the store and exports read it there.
    """

    #: Frames per inference crop (each crop runs on its own unless `link_crops`).
    crop_size: int
    #: Confidence a trajectory must reach to be part of the answer.
    threshold: float
    #: When no trajectory of a crop passes, keep that crop's best one.
    at_least_one: bool = False
    #: Link trajectories across crops (beyond the paper): one identity and one score per object.
    link_crops: bool = False

    def __post_init__(self) -> None:
        # one check per kind of value (derrvos_core.validation), shared with the CLI, the app and the store
        object.__setattr__(self, "crop_size", crop_size_value(self.crop_size))
        object.__setattr__(self, "threshold", threshold_value(self.threshold))
        object.__setattr__(self, "at_least_one", _flag(self.at_least_one, "at_least_one"))
        object.__setattr__(self, "link_crops", _flag(self.link_crops, "link_crops"))

    def with_threshold(self, threshold: float, at_least_one: bool | None = None) -> SegmentSettings:
        """The same run re-selected at another threshold (no model call needed)."""
        keep_one = self.at_least_one if at_least_one is None else at_least_one
        return replace(self, threshold=threshold, at_least_one=keep_one)


@dataclass(frozen=True)
class ModelDefaults:
    """The settings a model recommends when the caller names none (written in its card)."""

    #: Frames per inference crop.
    crop_size: int
    #: Confidence a trajectory must reach to be selected.
    threshold: float
    #: Whether runs link trajectories across crops unless told otherwise (the real model does: its
    #: tracker carries identities, and a motion expression needs the whole path, not one crop of it).
    link_crops: bool = False

    def __post_init__(self) -> None:
        SegmentSettings(self.crop_size, self.threshold, link_crops=self.link_crops)  # the same checks

    def settings(self, crop_size: int | None = None, threshold: float | None = None,
                 at_least_one: bool = False, link_crops: bool | None = None) -> SegmentSettings:
        """The run's settings: what the caller gave, the model's defaults for what it left out (None)."""
        return SegmentSettings(crop_size=self.crop_size if crop_size is None else crop_size,
                               threshold=self.threshold if threshold is None else threshold,
                               at_least_one=at_least_one,
                               link_crops=self.link_crops if link_crops is None else link_crops)


def _flag(value, name: str) -> bool:
    """A yes/no setting: a bool (numpy's too) or 0/1; anything else is a mistake worth naming."""
    if isinstance(value, (bool, np.bool_)) or (isinstance(value, int) and value in (0, 1)):
        return bool(value)
    raise InputError(f"{name} must be true or false, got {value!r}")
