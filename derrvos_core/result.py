"""Segmentation results: scored trajectories kept as RLE, re-selectable without the model."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from pycocotools import mask as mask_utils

from derrvos_core.settings import SegmentSettings


@dataclass(frozen=True)
class TrajectoryResult:
    """One object trajectory of one inference crop, at the video's own size.

    Attributes:
        trajectory_id: index of the trajectory in its result (stable across `select`).
        crop_index: which crop of `crop_size` frames it came from.
        frame_start: first video frame of the crop; `rles[i]` is frame `frame_start + i`.
        score: DeRVOS confidence in [0, 1] that the trajectory is what the expression refers to.
        rles: per frame of the crop, a COCO RLE dict ({"size": [H, W], "counts": str}) or None if empty.
        link_id: identity across crops when crops are linked, else equal to `trajectory_id`.
    """

    trajectory_id: int
    crop_index: int
    frame_start: int
    score: float
    rles: tuple
    link_id: int = -1

    @property
    def frame_end(self) -> int:
        return self.frame_start + len(self.rles)

    def frames_present(self) -> list[int]:
        """Video frame indices where this trajectory's mask is not empty."""
        return [self.frame_start + i for i, r in enumerate(self.rles) if r is not None]

    def mask(self, frame: int, height: int, width: int) -> np.ndarray:
        """bool [H, W] mask of this trajectory at video frame `frame` (empty outside the crop)."""
        i = frame - self.frame_start
        if i < 0 or i >= len(self.rles) or self.rles[i] is None:
            return np.zeros((height, width), dtype=bool)
        return decode_rle(self.rles[i])


@dataclass(frozen=True)
class SegmentationResult:
    """The answer to one (video, expression) query and everything needed to re-select it.

    Attributes:
        num_frames, height, width: the video's own frame count and size.
        trajectories: all scored trajectories of every crop.
        settings: how it was run and selected (crop size, threshold in force, at_least_one, link_crops).
        selected: trajectory_ids that form the answer at `settings.threshold`.
        expression: the expression as the model read it (after truncation).
        ignored: words of the expression the model could not use (empty for DeRVOS, which reads all).
        warnings: anything the user should know (truncated expression, ...).
    """

    num_frames: int
    height: int
    width: int
    trajectories: tuple
    settings: SegmentSettings
    selected: tuple = ()
    expression: str = ""
    ignored: tuple[str, ...] = ()
    warnings: tuple = field(default=())

    @property
    def threshold(self) -> float:
        return self.settings.threshold

    @property
    def crop_size(self) -> int:
        return self.settings.crop_size

    def select(self, threshold: float, at_least_one: bool | None = None) -> SegmentationResult:
        """A new result at another threshold, from the cached scores, with no model call."""
        settings = self.settings.with_threshold(threshold, at_least_one)
        return replace(self, settings=settings, selected=select_trajectories(
            self.trajectories, settings.threshold, settings.at_least_one))

    def frame_mask(self, frame: int) -> np.ndarray:
        """bool [H, W]: union of the selected trajectories' masks at `frame`."""
        out = np.zeros((self.height, self.width), dtype=bool)
        for t in self._selected_trajectories():
            if t.frame_start <= frame < t.frame_end and t.rles[frame - t.frame_start] is not None:
                out |= decode_rle(t.rles[frame - t.frame_start])
        return out

    @property
    def masks(self) -> np.ndarray:
        """bool [T, H, W]: the answer in every frame (decoded on demand; prefer `frame_mask` for long videos)."""
        return np.stack([self.frame_mask(t) for t in range(self.num_frames)]) if self.num_frames else \
            np.zeros((0, self.height, self.width), dtype=bool)

    def _selected_trajectories(self) -> list[TrajectoryResult]:
        chosen = set(self.selected)
        return [t for t in self.trajectories if t.trajectory_id in chosen]


def select_trajectories(trajectories, threshold: float, at_least_one: bool) -> tuple:
    """trajectory_ids with score >= threshold; with `at_least_one`, each crop keeps its best one.

    Trajectories linked across crops (the same `link_id` >= 0 on several) are chosen or left out
    together, on their `linked_score`; unlinked ones (link_id -1, or a link of one) on their own score.
    """
    groups: dict[object, list[TrajectoryResult]] = {}
    for t in trajectories:
        groups.setdefault(t.link_id if t.link_id >= 0 else ("own", t.trajectory_id), []).append(t)
    score = {key: members[0].score if len(members) == 1 else linked_score(members)
             for key, members in groups.items()}
    key_of = {t.trajectory_id: key for key, members in groups.items() for t in members}
    chosen = {key for key, s in score.items() if s >= threshold}
    if at_least_one:
        best: dict[int, TrajectoryResult] = {}
        for t in trajectories:
            held = best.get(t.crop_index)
            if held is None or score[key_of[t.trajectory_id]] > score[key_of[held.trajectory_id]]:
                best[t.crop_index] = t
        passed = {t.crop_index for t in trajectories if key_of[t.trajectory_id] in chosen}
        chosen |= {key_of[b.trajectory_id] for c, b in best.items() if c not in passed}
    return tuple(sorted(t.trajectory_id for t in trajectories if key_of[t.trajectory_id] in chosen))


def linked_score(members) -> float:
    """One score for the trajectories of one link: their scores weighted by the frames each one's mask is
    not empty in (crops that show the object carry its evidence); a plain mean if all are empty."""
    weights = [sum(r is not None for r in t.rles) for t in members]
    if sum(weights) == 0:
        weights = [1] * len(members)
    return float(sum(w * t.score for w, t in zip(weights, members)) / sum(weights))


def decode_rle(rle: dict) -> np.ndarray:
    """bool [H, W] from a COCO RLE dict whose counts are a str or bytes."""
    counts = rle["counts"]
    obj = {"size": list(rle["size"]), "counts": counts.encode() if isinstance(counts, str) else counts}
    return mask_utils.decode(obj).astype(bool)
