"""DVIS++ as a trajectory branch (`derrvos_core.model.branches.TrajectoryBranch`)."""
from __future__ import annotations

import numpy as np
import torch

from derrvos_core.errors import InputError
from derrvos_core.tais.losses import clip_ious
from derrvos_core.video import resize_frames

from .config import TrajectoryConfig
from .generator import TrajectoryGenerator
from .segmenter import SegmenterOutput
from .tracker import TrackerSession
from .types import Trajectories
from .upsampler import GuideFrames, MaskUpsampler


class DVISBranch(TrajectoryGenerator):
    """The DVIS++ generator plus what a model's pipeline asks of a trajectory branch.

    A subclass, not a wrapper, so the state-dict keys stay the generator's own (`segmenter.*`,
    `tracker.*`, `refiner.*`, under the model's `trajectory.`).

    Args:
        cfg: the generator's sizes.
        input_size: frames are resized to input_size x input_size before the segmenter.
        top_k: trajectories per crop passed on to the selector, best first.
    """

    def __init__(self, cfg: TrajectoryConfig, *, input_size: int, top_k: int):
        super().__init__(cfg)
        if top_k < 1:
            raise InputError(f"top_k must be >= 1, got {top_k}")
        self.input_size, self.top_k_trajectories = int(input_size), int(top_k)
        seg = cfg.segmenter
        self.upsampler = MaskUpsampler(cfg.upsampler, seg.pixel_mean, seg.pixel_std) \
            if cfg.upsampler.enabled else None

    @property
    def key(self) -> str:
        return f"dvis/{self.input_size}/{self.segmenter.pixel_mean.device}"

    def prepare(self, frames: np.ndarray | torch.Tensor) -> torch.Tensor:
        """uint8 [t, H, W, 3] -> float [t, 3, s, s] in 0..255 on the branch's device, s = `input_size`."""
        return resize_frames(frames, self.input_size).to(self.segmenter.pixel_mean.device)

    def frame_features(self, prepared: torch.Tensor) -> SegmenterOutput:
        """Per-frame segmenter outputs (each frame on its own: cacheable)."""
        return self.segment_frames(prepared)

    def new_session(self) -> TrackerSession:
        return TrackerSession.new()

    def trajectories(self, features: SegmenterOutput, session: TrackerSession
                     ) -> tuple[Trajectories, torch.Tensor]:
        """Tracker continuing `session` + refiner -> (top-K best first, LongTensor [K] of their tracker
        slots). With a session carried across crops, equal slots mean the tracker's same object."""
        refined = self.refine(features, self.track(features, session))
        slots = torch.argsort(refined.scores, descending=True)
        if self.cfg.duplicate_iou > 0:
            slots = slots[without_duplicates(refined.mask_logits[slots] > 0, self.cfg.duplicate_iou)]
        slots = slots[:self.top_k_trajectories]
        return refined.index(slots), slots

    def mask_guide(self, prepared) -> GuideFrames | None:
        """The frames the upsampler reads (`MaskOutput`), at its size; None without an upsampler."""
        if self.upsampler is None:
            return None
        div = self.cfg.segmenter.size_divisibility
        return self.upsampler.guide(prepared(), mask_side=-(-self.input_size // div) * div // 4)

    def output_masks(self, trajectories: Trajectories, guide: GuideFrames | None) -> torch.Tensor:
        """The masks a run outputs (`MaskOutput`): the upsampler's, at `upsampler.scale` x the mask side,
        where the config has one; the trajectories' own logits otherwise."""
        if self.upsampler is None:
            return trajectories.mask_logits
        if guide is None:
            raise InputError("this branch's upsampler needs the crop's mask_guide")
        return self.upsampler.upsample(guide.images, trajectories.mask_logits)


def without_duplicates(masks: torch.Tensor, iou: float) -> torch.Tensor:
    """Greedy suppression over one crop's trajectories, best first.

    Args:
        masks: bool [K, T, h, w], best-scored first.
        iou: a trajectory whose clip mask IoU (intersections and unions summed over the T frames) with a
            kept one reaches this is dropped; empty trajectories are kept (nothing to compare).
    Returns:
        LongTensor of the kept rows, in their order.
    """
    ious = clip_ious(masks, masks)  # 0 against an empty trajectory, so an empty one is never a copy
    kept: list[int] = []
    for k in range(masks.shape[0]):
        if not kept or float(ious[k, kept].max()) < iou:
            kept.append(k)
    return torch.as_tensor(kept, dtype=torch.long)
