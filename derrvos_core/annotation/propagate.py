"""Fix one frame, propagate: carry a corrected mask forward or backward with optical flow.

    for step in propagate_mask(frame_at, 40, fixed_mask, end_frame=70, guide=trajectory_mask_at):
        if isinstance(step, Proposal):
            show(step.frame, step.mask, step.confidence)   # stop iterating to cancel
        else:
            summary = step                                  # PropagationSummary: why it stopped

Each step warps the previous proposal with DIS flow from the next frame back to the previous one
(`flow.py`), drops the warped pixels whose appearance does not match where they came from (an occluder
sliding over the object), and, where the trajectory's own mask on that frame (the guide) agrees with the
warp (IoU >= `snap_iou`), takes the guide instead: the model's per-frame mask does not drift, the warp
does. A light closing and opening cleans the result.

Confidence of a proposal (in [0, 1]) is the smallest of
  - tracked: the fraction of the previous mask's pixels whose flow is forward-backward consistent and
    whose grey level matches where the flow takes them (falls at once when the object vanishes), and
  - kept: the proposal's area over the reference area (the fixed mask's, or the last guide taken; at
    most 1), which falls as an occluder covers the object or it leaves the frame, and
  - looks: whether the proposal's colours resemble the corrected object's more than its surroundings'
    (`appearance.py`), which falls when the flow left the mask behind on a still background;
and, when the guide is taken, at least the guide's IoU with the warp (the model confirms the object).
Propagation stops at the end frame, or before the first frame whose confidence is under the minimum, or
where the proposal would be empty; the final `PropagationSummary` says which.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

from derrvos_core.annotation.appearance import AppearanceCheck
from derrvos_core.annotation.flow import (PRESETS, DenseFlow, FlowFrame, photometric_error, resize_mask,
                                          round_trip_error, warp_mask)
from derrvos_core.annotation.mask_ops import clean_mask, clean_radius, mask_iou
from derrvos_core.errors import InputError

FrameSource = Callable[[int], np.ndarray]
"""index -> uint8 [H, W, 3] RGB frame (a video reader's random access, or a list's __getitem__)."""
GuideSource = Callable[[int], "np.ndarray | None"]
"""index -> bool [H, W] mask of the trajectory on that frame, or None where it has none."""


@dataclass(frozen=True)
class PropagationSettings:
    """How masks are carried between frames.

    Attributes:
        flow_max_side: longer side, in pixels, of the grayscale copy flow is computed on (768x576 -> 384x288).
        flow_min_side: frames whose longer side is shorter are upscaled to it for the flow: DIS's patches
            are 8 px, too coarse for a small object in a small frame.
        flow_preset: DIS preset: "ultrafast", "fast" or "medium" (see `flow.py` for their cost).
        snap_iou: IoU of warp and guide from which the guide's mask replaces the warp. 0.9: on a SynthRef
            tuning split (training/propagation_eval.py --root R --seed 5 --videos 8) guiding by the SynthRef
            model's trajectories gave mean J 0.659 / 0.665 / 0.673 at 0.6 / 0.8 / 0.9 against 0.677 without
            a guide: a coarse model mask should only replace a warp it nearly equals.
        round_trip_px: forward-backward error, in flow pixels, under which a pixel's flow is consistent
            (plus `round_trip_rel` of its motion, so fast motion is allowed proportionally more).
        round_trip_rel: see `round_trip_px`.
        photometric_levels: grey-level difference (of 255) under which a pixel matches where it went.
        prune_levels: grey-level difference over which a warped pixel is dropped from the mask (something
            else now lies there). Larger than `photometric_levels`: pruning errs on keeping the mask whole.
    """

    flow_max_side: int = 384
    flow_min_side: int = 256
    flow_preset: str = "medium"
    snap_iou: float = 0.9
    round_trip_px: float = 1.0
    round_trip_rel: float = 0.1
    photometric_levels: float = 16.0
    prune_levels: float = 40.0

    def __post_init__(self):
        if self.flow_preset not in PRESETS:
            raise InputError(f"flow_preset must be one of {', '.join(PRESETS)}, got {self.flow_preset!r}")
        if not 0.0 <= self.snap_iou <= 1.0:
            raise InputError(f"snap_iou must be in [0, 1], got {self.snap_iou}")
        if min(self.round_trip_px, self.round_trip_rel, self.photometric_levels, self.prune_levels) < 0:
            raise InputError("propagation tolerances must not be negative")


@dataclass(frozen=True)
class Proposal:
    """A proposed mask on one frame, carried from the corrected frame.

    Attributes:
        frame: the frame index the mask is for.
        mask: bool [H, W] at the frame's own size.
        confidence: in [0, 1] (module docstring); at least the run's minimum.
        source_frame: the corrected frame it was propagated from.
        tracked: fraction of the previous mask's pixels followed consistently into this frame.
        guide_iou: IoU of the warp with the guide on this frame; None without a guide mask there.
        used_guide: whether the mask is the guide's (the guide agreed with the warp).
    """

    frame: int
    mask: np.ndarray
    confidence: float
    source_frame: int
    tracked: float
    guide_iou: float | None
    used_guide: bool


class StopReason(enum.Enum):
    """Why a propagation stopped."""

    END = "end"  # every frame up to the end frame was proposed
    LOW_CONFIDENCE = "low_confidence"  # the next frame's confidence fell under the minimum
    LOST = "lost"  # the next frame's mask would be empty (the object left or vanished)


@dataclass(frozen=True)
class PropagationSummary:
    """The last item a propagation yields.

    Attributes:
        source_frame: the corrected frame.
        end_frame: the end frame asked for.
        last_frame: the last frame proposed; None when none was.
        frames: how many proposals were yielded.
        reason: why it stopped.
        stopped_at: the frame that was refused (LOW_CONFIDENCE, LOST); None when it reached the end.
        stop_confidence: that frame's confidence; None when it reached the end.
    """

    source_frame: int
    end_frame: int
    last_frame: int | None
    frames: int
    reason: StopReason
    stopped_at: int | None = None
    stop_confidence: float | None = None


def propagate_mask(frames: FrameSource, source_frame: int, source_mask: np.ndarray, end_frame: int,
                   guide: GuideSource | None = None, min_confidence: float = 0.5,
                   settings: PropagationSettings = PropagationSettings()
                   ) -> Iterator[Proposal | PropagationSummary]:
    """Yield a `Proposal` per frame from source_frame ± 1 to end_frame (inclusive, either side), then the
    `PropagationSummary`. Arguments are checked at the call (InputError), not at the first step."""
    mask = np.asarray(source_mask)
    if mask.ndim != 2 or mask.dtype != bool:
        raise InputError(f"the corrected mask must be bool [H, W], got {mask.dtype} {mask.shape}")
    if not mask.any():
        raise InputError(f"the corrected mask of frame {source_frame} is empty: nothing to propagate")
    if not 0.0 <= float(min_confidence) <= 1.0:
        raise InputError(f"min_confidence must be in [0, 1], got {min_confidence}")
    for name, value in (("source_frame", source_frame), ("end_frame", end_frame)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise InputError(f"{name} must be a frame index (an int >= 0), got {value!r}")
    return _steps(frames, int(source_frame), mask, int(end_frame), guide, float(min_confidence), settings)


def _steps(frames: FrameSource, source: int, mask: np.ndarray, end: int, guide: GuideSource | None,
           min_confidence: float, settings: PropagationSettings) -> Iterator[Proposal | PropagationSummary]:
    flow = DenseFlow(max_side=settings.flow_max_side, min_side=settings.flow_min_side,
                     preset=settings.flow_preset)
    first = frames(source)
    previous = _prepared(flow, first, source, mask.shape)
    appearance = AppearanceCheck(np.asarray(first), mask)
    reference_area = np.count_nonzero(mask)
    radius = clean_radius(mask.shape)
    direction = 1 if end >= source else -1
    done, last = 0, None
    for index in range(source + direction, end + direction, direction):
        image = frames(index)
        current = _prepared(flow, image, index, mask.shape)
        warped, tracked = _carry(flow, previous, current, mask, settings)
        warped = clean_mask(warped, radius)
        proposal_mask, guide_iou, used = _apply_guide(warped, guide, index, settings)
        if used:
            reference_area = np.count_nonzero(proposal_mask)
        kept = min(1.0, np.count_nonzero(proposal_mask) / reference_area) if reference_area else 0.0
        looks = appearance.score(np.asarray(image), proposal_mask)
        confidence = min(tracked, kept, looks)
        if used:
            confidence = max(confidence, guide_iou)
        if not proposal_mask.any() or confidence < min_confidence:
            reason = StopReason.LOST if not proposal_mask.any() else StopReason.LOW_CONFIDENCE
            yield PropagationSummary(source, end, last, done, reason, index, float(confidence))
            return
        yield Proposal(index, proposal_mask, float(confidence), source, float(tracked), guide_iou, used)
        previous, mask, done, last = current, proposal_mask, done + 1, index
    yield PropagationSummary(source, end, last, done, StopReason.END)


def _prepared(flow: DenseFlow, image: np.ndarray, index: int, size: tuple[int, int]) -> FlowFrame:
    frame = flow.prepare(image)
    if frame.size != tuple(size):
        raise InputError(f"frame {index} is {frame.size[1]}x{frame.size[0]} but the corrected mask is "
                         f"{size[1]}x{size[0]}")
    return frame


def _carry(flow: DenseFlow, previous: FlowFrame, current: FlowFrame, mask: np.ndarray,
           settings: PropagationSettings) -> tuple[np.ndarray, float]:
    """(mask warped into `current` with mismatching pixels dropped, tracked fraction of the old mask)."""
    ahead = flow.flow(previous, current)
    back = flow.flow(current, previous)
    small_mask = resize_mask(mask, previous.gray.shape)
    tracked = _tracked_fraction(previous, current, ahead, back, small_mask, settings)
    warped = warp_mask(mask, back, current.scale)
    mismatch = photometric_error(current, previous, back) > settings.prune_levels
    if mismatch.any():
        warped &= ~resize_mask(mismatch, mask.shape) if current.scale != 1.0 else ~mismatch
    return warped, tracked


def _tracked_fraction(previous: FlowFrame, current: FlowFrame, ahead: np.ndarray, back: np.ndarray,
                      small_mask: np.ndarray, settings: PropagationSettings) -> float:
    if not small_mask.any():
        return 0.0
    motion = np.linalg.norm(ahead, axis=-1)
    consistent = round_trip_error(ahead, back) <= settings.round_trip_px + settings.round_trip_rel * motion
    matching = photometric_error(previous, current, ahead) <= settings.photometric_levels
    return float(np.count_nonzero(consistent & matching & small_mask) / np.count_nonzero(small_mask))


def _apply_guide(warped: np.ndarray, guide: GuideSource | None, index: int,
                 settings: PropagationSettings) -> tuple[np.ndarray, float | None, bool]:
    """(mask, IoU of warp and guide or None, whether the guide was taken)."""
    if guide is None:
        return warped, None, False
    guide_mask = guide(index)
    if guide_mask is None:
        return warped, None, False
    guide_mask = np.asarray(guide_mask, dtype=bool)
    if guide_mask.shape != warped.shape:
        raise InputError(f"the guide's mask of frame {index} is {guide_mask.shape[1]}x{guide_mask.shape[0]} "
                         f"but the frame is {warped.shape[1]}x{warped.shape[0]}")
    iou = mask_iou(warped, guide_mask)
    if guide_mask.any() and iou >= settings.snap_iou:
        return guide_mask, iou, True
    return warped, iou, False
