"""A model's answer and the selection baselines on RealRef, scored on the frames that have ground truth.

RealRef has boxes on keyframes and masks on a few of them, so every score reads only those frames
(`eval_frames`). `compact_clip` renumbers a clip to them; predictions are then bool [K, H, W] over the
K evaluated frames instead of the whole clip, which keeps 720p clips cheap to score.

Selections, per expression (same trajectories for all, from one `SegmentationResult`):
- model: the selected trajectories, one predicted object per link id;
- largest / random: `baselines` (one trajectory per crop);
- oracle: greedy forward selection of trajectories that raises the expression's objective most
  (mean of box IoU and, where masks are drawn, J&F), until none does: the best the trajectories allow.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from derrvos_core.datasets.realref import mask_frames
from derrvos_core.datasets.realref_format import RealRefClip
from derrvos_core.evaluation.baselines import (TrajectoryMasks, largest_selection, random_selection,
                                               sample_rng)
from derrvos_core.evaluation.realref import RealRefScore, score_realref
from derrvos_core.masks import decode_rle

SELECTIONS = ("model", "oracle", "largest", "random")


def eval_frames(clip: RealRefClip) -> list[int]:
    """Clip frames with any ground truth: keyframes and drawn-mask frames."""
    masked = {t for frames in clip.masks.values() for t in frames}
    return sorted(set(clip.keyframes()) | masked)


def compact_clip(clip: RealRefClip, frames: list[int]) -> RealRefClip:
    """The clip renumbered to `frames` (frame frames[k] becomes k)."""
    index = {t: k for k, t in enumerate(frames)}
    objects = {o: replace(obj, boxes={index[t]: b for t, b in obj.boxes.items() if t in index})
               for o, obj in clip.objects.items()}
    masks = {o: {index[t]: rle for t, rle in m.items() if t in index} for o, m in clip.masks.items()}
    return replace(clip, num_frames=len(frames), objects=objects, masks=masks)


class TrajectoryFrames:
    """Every trajectory of a result decoded on the evaluated frames only: {trajectory_id: bool [K, H, W]}."""

    def __init__(self, result, frames: list[int]):
        self.frames = frames
        self.shape = (len(frames), result.height, result.width)
        self.masks: dict[int, np.ndarray] = {}
        self.link_of: dict[int, int] = {}
        #: The same masks as `baselines.TrajectoryMasks`, so largest / random are the baselines' own.
        self.decoded: list[TrajectoryMasks] = []
        for traj in result.trajectories:
            stack = np.zeros(self.shape, dtype=bool)
            for k, t in enumerate(frames):
                i = t - traj.frame_start
                if 0 <= i < len(traj.rles) and traj.rles[i] is not None:
                    stack[k] = decode_rle(traj.rles[i])
            self.masks[traj.trajectory_id] = stack
            self.link_of[traj.trajectory_id] = traj.link_id
            self.decoded.append(TrajectoryMasks(traj.trajectory_id, traj.crop_index, 0, stack))

    def union(self, ids) -> np.ndarray:
        out = np.zeros(self.shape, dtype=bool)
        for i in ids:
            out |= self.masks[i]
        return out

    def objects(self, ids) -> list[np.ndarray]:
        """One mask stack per link id among `ids` (a linked object is one object over its crops)."""
        groups: dict[int, list[int]] = {}
        for i in ids:
            groups.setdefault(self.link_of[i], []).append(i)
        return [self.union(members) for _, members in sorted(groups.items())]


def objective(score: RealRefScore) -> float:
    return score.box_iou if score.JF is None else 0.5 * (score.box_iou + score.JF)


def score_selections(result, clip: RealRefClip, expression_id: str, seed: int = 0,
                     trajectories: TrajectoryFrames | None = None) -> dict[str, RealRefScore]:
    """{selection: score} for one expression (see the module docstring)."""
    frames = eval_frames(clip)
    compact = compact_clip(clip, frames)
    traj = trajectories or TrajectoryFrames(result, frames)
    rng = sample_rng(seed, clip.clip_id, expression_id)
    picks = {"model": traj.objects(result.selected), "largest": [traj.union(largest_selection(traj.decoded))],
             "random": [traj.union(random_selection(traj.decoded, rng))]}
    out = {name: score_realref(pred, compact, expression_id) for name, pred in picks.items()}
    out["oracle"] = _oracle(traj, compact, expression_id)
    return {name: out[name] for name in SELECTIONS}


def _oracle(traj: TrajectoryFrames, clip: RealRefClip, expression_id: str) -> RealRefScore:
    expression = clip.expressions[expression_id]
    gt_any = _target_area(clip, expression)
    candidates = [i for i, m in traj.masks.items() if (m & gt_any).any()]
    current = np.zeros(traj.shape, dtype=bool)
    best = score_realref(current, clip, expression_id)
    while candidates:
        trials = [(score_realref(current | traj.masks[i], clip, expression_id), i) for i in candidates]
        score, pick = max(trials, key=lambda s: (objective(s[0]), -s[1]))
        if objective(score) <= objective(best):
            break
        best, current = score, current | traj.masks[pick]
        candidates.remove(pick)
    return best


def _target_area(clip: RealRefClip, expression) -> np.ndarray:
    """bool [K, H, W]: the targets' boxes (and drawn masks) on the evaluated frames."""
    out = np.zeros((clip.num_frames, clip.height, clip.width), dtype=bool)
    for o in expression.obj_ids:
        for t, b in clip.objects[o].boxes.items():
            if b is not None:
                x0, y0, x1, y1 = (int(round(v)) for v in b)
                out[t, max(y0, 0):y1, max(x0, 0):x1] = True
    for t in mask_frames(clip, expression):
        for o in expression.obj_ids:
            m = clip.object_mask(o, t)
            if m is not None:
                out[t] |= m
    return out


def score_answer(result, clip: RealRefClip, expression_id: str, trajectories: TrajectoryFrames) -> RealRefScore:
    """The model's answer alone (what fitting re-scores many times): one object per link id."""
    compact = compact_clip(clip, trajectories.frames)
    return score_realref(trajectories.objects(result.selected), compact, expression_id)
