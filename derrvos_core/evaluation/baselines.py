"""Selection baselines computed from the trajectories of the SAME SegmentationResult (no extra model call).

- random: in each crop, one trajectory drawn uniformly (seeded per expression, so runs repeat);
- largest: in each crop, the trajectory with the largest total mask area;
- oracle: the best subset given the ground truth, the upper bound of selection. Found by greedy forward
  selection on J&F: start from the empty answer and keep adding the trajectory that raises the
  expression's J&F most, until none does. Trajectories that never overlap the ground truth cannot raise
  J (and only add false boundary to F), so they are not tried. Greedy is not guaranteed optimal over
  all 2^N subsets, but crops are disjoint in time and targets rarely need more than a few trajectories.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from derrvos_core.masks import decode_rle
from derrvos_core.metrics import j_and_f

BASELINES = ("random", "largest", "oracle")


@dataclass(frozen=True)
class TrajectoryMasks:
    """A trajectory decoded once: bool [L, H, W] masks for video frames frame_start .. frame_start + L - 1."""

    trajectory_id: int
    crop_index: int
    frame_start: int
    masks: np.ndarray

    @property
    def area(self) -> int:
        return int(self.masks.sum())


def decode_trajectories(result) -> list:
    """[TrajectoryMasks] of every trajectory of a SegmentationResult."""
    out = []
    for traj in result.trajectories:
        masks = np.zeros((len(traj.rles), result.height, result.width), dtype=bool)
        for i, rle in enumerate(traj.rles):
            if rle is not None:
                masks[i] = decode_rle(rle)
        out.append(TrajectoryMasks(traj.trajectory_id, traj.crop_index, traj.frame_start, masks))
    return out


def compose(trajectories: list, chosen, num_frames: int, height: int, width: int) -> np.ndarray:
    """bool [T, H, W]: the union of the chosen trajectories' masks."""
    out = np.zeros((num_frames, height, width), dtype=bool)
    ids = set(chosen)
    for t in trajectories:
        if t.trajectory_id in ids:
            out[t.frame_start:t.frame_start + len(t.masks)] |= t.masks[:max(0, num_frames - t.frame_start)]
    return out


def sample_rng(seed: int, video_id: str, expression_id: str) -> np.random.Generator:
    """A generator that depends only on the seed and the expression, not on evaluation order."""
    return np.random.default_rng([int(seed), zlib.crc32(f"{video_id}/{expression_id}".encode())])


def random_selection(trajectories: list, rng: np.random.Generator) -> tuple:
    by_crop: dict = {}
    for t in trajectories:
        by_crop.setdefault(t.crop_index, []).append(t.trajectory_id)
    return tuple(sorted(ids[int(rng.integers(len(ids)))] for _, ids in sorted(by_crop.items())))


def largest_selection(trajectories: list) -> tuple:
    best: dict = {}
    for t in trajectories:
        if t.crop_index not in best or t.area > best[t.crop_index].area:
            best[t.crop_index] = t
    return tuple(sorted(t.trajectory_id for t in best.values()))


def oracle_selection(trajectories: list, gt: np.ndarray) -> tuple:
    """Greedy forward selection on J&F against bool [T, H, W] ground truth (see the module docstring)."""
    num_frames, height, width = gt.shape
    candidates = [t for t in trajectories if _overlaps(t, gt)]
    chosen: list = []
    current = np.zeros_like(gt)
    best = j_and_f(gt, current)["JF"]
    while candidates:
        trials = []
        for t in candidates:
            trial = current.copy()
            trial[t.frame_start:t.frame_start + len(t.masks)] |= t.masks[:max(0, num_frames - t.frame_start)]
            trials.append((j_and_f(gt, trial)["JF"], t.trajectory_id, t, trial))
        score, _, pick, trial = max(trials, key=lambda x: (x[0], -x[1]))
        if score <= best:
            break
        best, current = score, trial
        chosen.append(pick.trajectory_id)
        candidates = [t for t in candidates if t is not pick]
    return tuple(sorted(chosen))


def _overlaps(t: TrajectoryMasks, gt: np.ndarray) -> bool:
    window = gt[t.frame_start:t.frame_start + len(t.masks)]
    return bool((window & t.masks[:len(window)]).any())


def baseline_selections(trajectories: list, gt: np.ndarray, rng: np.random.Generator) -> dict:
    """{"random": ids, "largest": ids, "oracle": ids} for one expression."""
    return {"random": random_selection(trajectories, rng), "largest": largest_selection(trajectories),
            "oracle": oracle_selection(trajectories, gt)}
