"""Whole-video inference: independent crops, streamed from the video, scored trajectories as RLE."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch

from derrvos_core.errors import InputError
from derrvos_core.masks import encode_rle
from derrvos_core.result import SegmentationResult, TrajectoryResult, select_trajectories
from derrvos_core.video import resize_mask_logits

from .frames import check_video, open_frames
from .linking import CropBoundary, CropLinker, apply_linked_scores


@dataclass(frozen=True)
class SegmentProgress:
    """Yielded by `segment_iter` after each crop.

    Attributes:
        crop_index: the crop just finished (0-based).
        num_crops: crops in the whole video.
        frames_done: video frames segmented so far.
        num_frames: frames in the video.
    """

    crop_index: int
    num_crops: int
    frames_done: int
    num_frames: int


def segment_iter(model, video, expression: str, crop_size: int | None = None, threshold: float | None = None,
                 at_least_one: bool = False, link_crops: bool = False
                 ) -> Iterator[SegmentProgress | SegmentationResult]:
    """A `SegmentProgress` after every crop of `crop_size` frames, then the `SegmentationResult`.

    Arguments are checked at the call (InputError / VideoError naming the cause), not at the first
    step. Frames are read crop by crop, never the whole video at once; each crop runs on its own
    (fresh tracker state), as in the paper, unless `link_crops` (beyond the paper; see `linking`):
    then the tracker state is carried over and neighbouring crops' trajectories are associated, so
    each object has one `link_id` and one score over the video. Stop iterating to cancel: the video
    is closed.
    """
    crop_size = model.cfg.crop_size if crop_size is None else crop_size
    threshold = model.cfg.threshold if threshold is None else threshold
    if isinstance(crop_size, bool) or not isinstance(crop_size, int) or crop_size < 1:
        raise InputError(f"crop_size must be a whole number of frames >= 1, got {crop_size!r}")
    if not 0.0 <= float(threshold) <= 1.0:
        raise InputError(f"threshold must be in [0, 1], got {threshold}")
    text = model.encode_expression(expression)
    check_video(video)
    linker = CropLinker() if link_crops else None
    return _crops(model, video, text, crop_size, float(threshold), bool(at_least_one), linker)


def segment(model, video, expression: str, crop_size: int | None = None, threshold: float | None = None,
            at_least_one: bool = False, progress: Callable[[int, int], None] | None = None,
            link_crops: bool = False) -> SegmentationResult:
    """Run `segment_iter` to the end; `progress(done_crops, total_crops)` after every crop."""
    for step in segment_iter(model, video, expression, crop_size, threshold, at_least_one, link_crops):
        if isinstance(step, SegmentationResult):
            return step
        if progress is not None:
            progress(step.crop_index + 1, step.num_crops)
    raise RuntimeError("segment_iter ended without a result")


def _crops(model, video, text, crop_size: int, threshold: float, at_least_one: bool,
           linker: CropLinker | None):
    was_training = model.training
    model.eval()
    try:
        with open_frames(video) as (reader, num_frames, height, width):
            num_crops = -(-num_frames // crop_size)
            trajectories: list[TrajectoryResult] = []
            for crop_index in range(num_crops):
                start = crop_index * crop_size
                stop = min(start + crop_size, num_frames)
                # inference mode only around the work: a generator must not leave it on for its caller
                with torch.inference_mode():
                    trajectories += _segment_crop(model, reader.read(start, stop), text, crop_index, start,
                                                  (height, width), len(trajectories), linker)
                yield SegmentProgress(crop_index, num_crops, stop, num_frames)
    finally:
        model.train(was_training)
    if linker is not None:
        trajectories = apply_linked_scores(trajectories)
    warnings = ()
    if text.truncated:
        warnings = (f"the expression is longer than the model's {model.cfg.max_text_len - 2} text tokens; "
                    f"it was cut to: \"{text.text}\"",)
    yield SegmentationResult(
        num_frames=num_frames, height=height, width=width, trajectories=tuple(trajectories),
        threshold=threshold, crop_size=crop_size, at_least_one=at_least_one,
        selected=select_trajectories(trajectories, threshold, at_least_one), expression=text.text,
        warnings=warnings)


def _segment_crop(model, frames, text, crop_index: int, frame_start: int, size: tuple[int, int],
                  first_id: int, linker: CropLinker | None) -> list[TrajectoryResult]:
    """Trajectories of one crop of uint8 [t, H, W, 3] frames, with their scores and RLE masks."""
    x = model.prepare_frames(frames)
    seg = model.segment_frames(x)
    if linker is None:
        traj = model.trajectories(seg)
    else:
        traj, slots = model.tracked_trajectories(seg, linker.tracker_session())
    scores = model.align_and_select(traj, model.multimodal_tokens(x, text)).scores.cpu()
    ids = list(range(first_id, first_id + traj.num_trajectories))
    links = ids if linker is None else linker.link(CropBoundary.of(traj, slots))
    results = []
    for n, (tid, link) in enumerate(zip(ids, links)):
        masks = (resize_mask_logits(traj.mask_logits[n], size) > 0).cpu().numpy()  # [t, H, W]
        rles = tuple(encode_rle(m) if m.any() else None for m in masks)
        results.append(TrajectoryResult(trajectory_id=tid, crop_index=crop_index, frame_start=frame_start,
                                        score=float(scores[n]), rles=rles, link_id=link))
    return results
