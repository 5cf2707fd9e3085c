"""The settings of one run, made in one place from the model's defaults and carried by its result."""
from __future__ import annotations

from dataclasses import dataclass, replace

from derrvos_core.errors import InputError


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
        if isinstance(self.crop_size, bool) or not isinstance(self.crop_size, int) or self.crop_size < 1:
            raise InputError(f"crop size must be a whole number of frames >= 1, got {self.crop_size!r}")
        if isinstance(self.threshold, bool) or not 0.0 <= float(self.threshold) <= 1.0:
            raise InputError(f"threshold must be in [0, 1], got {self.threshold}")
        object.__setattr__(self, "threshold", float(self.threshold))
        object.__setattr__(self, "at_least_one", bool(self.at_least_one))
        object.__setattr__(self, "link_crops", bool(self.link_crops))

    def with_threshold(self, threshold: float, at_least_one: bool | None = None) -> SegmentSettings:
        """The same run re-selected at another threshold (no model call needed)."""
        keep_one = self.at_least_one if at_least_one is None else at_least_one
        return replace(self, threshold=float(threshold), at_least_one=keep_one)


@dataclass(frozen=True)
class ModelDefaults:
    """The settings a model recommends when the caller names none (written in its card)."""

    #: Frames per inference crop.
    crop_size: int
    #: Confidence a trajectory must reach to be selected.
    threshold: float

    def __post_init__(self) -> None:
        SegmentSettings(self.crop_size, self.threshold)  # the same checks

    def settings(self, crop_size: int | None = None, threshold: float | None = None,
                 at_least_one: bool = False, link_crops: bool = False) -> SegmentSettings:
        """The run's settings: what the caller gave, the model's defaults for what it left out (None)."""
        return SegmentSettings(crop_size=self.crop_size if crop_size is None else crop_size,
                               threshold=self.threshold if threshold is None else threshold,
                               at_least_one=at_least_one, link_crops=link_crops)
