"""Whole-video inference: crops streamed from the video, scored trajectories kept as RLE."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch

from derrvos_core.errors import InputError
from derrvos_core.result import SegmentationResult, TrajectoryResult, select_trajectories
from derrvos_core.settings import SegmentSettings

from .branches import Expression, MaskOutput, SegmentationModel, TrajectoryBranch
from .cache import SegmentCache
from .frames import check_video, crop_reader, open_frames
from .linking import CropBoundary, CropLinker, apply_linked_scores
from .rle import trajectory_rles


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


def segment_iter(model: SegmentationModel, video, expression: str, settings: SegmentSettings | None = None,
                 cache: SegmentCache | None = None, video_key: str | None = None
                 ) -> Iterator[SegmentProgress | SegmentationResult]:
    """A `SegmentProgress` after every crop of `settings.crop_size` frames, then the `SegmentationResult`.

    `settings` None runs at the model's defaults (`model.defaults.settings()`). Arguments are checked
    at the call (InputError / VideoError naming the cause), not at the first step. Frames are read
    crop by crop, never the whole video at once, and masks are kept as RLE, so memory does not grow
    with the video beyond the RLEs. Each crop runs on its own (a fresh branch session), as in the
    paper, unless `settings.link_crops` (beyond the paper; see `linking`): then the session is carried
    over and neighbouring crops' trajectories are associated, so each object has one `link_id` and one
    score over the video. With a `cache`, per-frame features and tokens come from it when present (and
    are stored in it), and frames are not even decoded when both are; `video_key` is the video's
    content hash when the caller has one (else the cache hashes the video). The next crop is decoded
    on a worker thread while the model runs (`ReadAhead`). Stop iterating to cancel: the video is
    closed. Only the `SegmentationModel` interfaces are used.
    """
    settings = model.defaults.settings() if settings is None else settings
    if not isinstance(settings, SegmentSettings):
        raise InputError(f"settings must be SegmentSettings, got {type(settings).__name__}")
    if cache is not None and not isinstance(cache, SegmentCache):
        raise InputError(f"cache must be a SegmentCache or None, got {type(cache).__name__}")
    text = model.multimodal.read(expression)
    check_video(video)
    if cache is not None and video_key is None:
        video_key = cache.video_key(video)
    linker = CropLinker(model.trajectory.new_session) if settings.link_crops else None
    return _crops(model, video, text, settings, linker, cache, video_key)


def segment(model: SegmentationModel, video, expression: str, settings: SegmentSettings | None = None,
            progress: Callable[[SegmentProgress], None] | None = None, cache: SegmentCache | None = None,
            video_key: str | None = None) -> SegmentationResult:
    """Run `segment_iter` to the end; `progress(step)` after every crop."""
    return last_result(segment_iter(model, video, expression, settings, cache, video_key), progress)


def last_result(steps: Iterator[SegmentProgress | SegmentationResult],
                progress: Callable[[SegmentProgress], bool | None] | None = None
                ) -> SegmentationResult | None:
    """Drain a `segment_iter` generator: `progress(step)` per crop; None (and the generator closed, its
    video too) as soon as `progress` returns True (cancel)."""
    try:
        for step in steps:
            if isinstance(step, SegmentationResult):
                return step
            if progress is not None and progress(step):
                return None
    finally:
        steps.close()
    raise RuntimeError("segment_iter ended without a result")


class CropFrames:
    """One crop's frames, decoded and prepared by the trajectory branch only when a step needs them."""

    def __init__(self, branch: TrajectoryBranch, reader, start: int, stop: int):
        self.branch, self.reader, self.start, self.stop = branch, reader, start, stop
        self._prepared = None

    def prepared(self):
        """`branch.prepare` of the crop's frames (decoded on the first call)."""
        if self._prepared is None:
            self._prepared = self.branch.prepare(self.reader.read(self.start, self.stop))
        return self._prepared


def _crops(model: SegmentationModel, video, text: Expression, settings: SegmentSettings,
           linker: CropLinker | None, cache: SegmentCache | None, video_key: str | None):
    crop_size = settings.crop_size
    with model.evaluating(), open_frames(video) as (video_reader, num_frames, height, width), \
                crop_reader(video_reader, num_frames, crop_size) as reader:
        num_crops = -(-num_frames // crop_size)
        trajectories: list[TrajectoryResult] = []
        for crop_index in range(num_crops):
            start = crop_index * crop_size
            crop = CropFrames(model.trajectory, reader, start, min(start + crop_size, num_frames))
            # inference mode only around the work: a generator must not leave it on for its caller
            with torch.inference_mode():
                trajectories += _segment_crop(model, crop, text, crop_index, (height, width),
                                              len(trajectories), linker, cache, video_key)
            yield SegmentProgress(crop_index, num_crops, crop.stop, num_frames)
    if linker is not None:
        trajectories = apply_linked_scores(trajectories)
    warnings = ()
    if text.truncated:
        warnings = (f"the expression is longer than the model reads; it was cut to: \"{text.text}\"",)
    yield SegmentationResult(
        num_frames=num_frames, height=height, width=width, trajectories=tuple(trajectories),
        settings=settings,
        selected=select_trajectories(trajectories, settings.threshold, settings.at_least_one),
        expression=text.text,
        ignored=tuple(text.ignored), warnings=warnings)


def _segment_crop(model: SegmentationModel, crop: CropFrames, text: Expression, crop_index: int,
                  size: tuple[int, int], first_id: int, linker: CropLinker | None,
                  cache: SegmentCache | None, video_key: str | None) -> list[TrajectoryResult]:
    """Trajectories of one crop, with their scores and RLE masks at the video's size."""
    if cache is None:
        features = model.trajectory.frame_features(crop.prepared())
        tokens = model.multimodal.frame_tokens(crop.prepared(), text)
    else:
        features = cache.frame_features(model, video_key, crop.start, crop.stop, crop.prepared)
        tokens = cache.frame_tokens(model, video_key, crop.start, crop.stop, text, crop.prepared)
    session = model.trajectory.new_session() if linker is None else linker.crop_session()
    traj, slots = model.trajectory.trajectories(features, session)
    scores = model.selector.scores(traj, tokens, text).cpu()
    ids = list(range(first_id, first_id + traj.num_trajectories))
    links = ids if linker is None else linker.link(CropBoundary.of(traj, slots))
    branch = model.trajectory
    logits = traj.mask_logits
    if isinstance(branch, MaskOutput):
        guide = branch.mask_guide(crop.prepared) if cache is None else \
            cache.mask_guide(model, video_key, crop.start, crop.stop, crop.prepared)
        logits = branch.output_masks(traj, guide)
    rles = trajectory_rles(logits, size)
    return [TrajectoryResult(trajectory_id=tid, crop_index=crop_index, frame_start=crop.start,
                             score=float(scores[n]), rles=rles[n], link_id=link)
            for n, (tid, link) in enumerate(zip(ids, links))]
