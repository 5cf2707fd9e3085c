"""What a trajectory of the `detector` branch is, read out of its tensors: class, colours, place, path.

Every array has one row per trajectory; per-frame series are NaN-free, with `present` saying where the
object is. Coordinates are frame fractions (x right, y down), so facts compare across video sizes.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from derrvos_core.real import features as F
from derrvos_core.trajectory.types import Trajectories


@dataclass(frozen=True)
class TrajectoryFacts:
    """Facts of N trajectories over the T frames of one crop.

    Attributes:
        class_probs: float [N, 80]; mean COCO-80 distribution over the frames it was detected on.
        palette: float [N, 3, 11]; fraction of mask pixels nearest each basic colour
            (`features.PALETTE_NAMES`), for the whole mask, its upper and its lower half (mean over frames).
        lab: float [N, 3, 3]; mean CIE Lab (L 0..100, a and b about -128..127) of the whole mask, its
            upper and its lower half (mean over frames present).
        present: bool [N, T]; frames where the object has a mask.
        centroid: float [N, T, 2]; mask centroid (x, y) in [0, 1], 0 where absent.
        box: float [N, T, 4]; x0, y0, x1, y1 in [0, 1], 0 where absent.
        area: float [N, T]; mask area as a fraction of the frame.
        quality: float [N]; the branch's trajectory score in [0, 1].
    """

    class_probs: np.ndarray
    palette: np.ndarray
    lab: np.ndarray
    present: np.ndarray
    centroid: np.ndarray
    box: np.ndarray
    area: np.ndarray
    quality: np.ndarray

    @classmethod
    def of(cls, traj: Trajectories) -> TrajectoryFacts:
        emb = traj.embeddings.detach().float().cpu().numpy()
        present = emb[..., F.PRESENT][..., 0] > 0.5
        detected = emb[..., F.SCORE][..., 0] > 0
        weights = np.where(detected.any(1, keepdims=True), detected, present).astype(np.float32)
        class_probs = _weighted_mean(emb[..., F.CLASS], weights)
        palette = np.stack([_weighted_mean(emb[..., s], present.astype(np.float32))
                            for s in (F.PALETTE, F.PALETTE_UPPER, F.PALETTE_LOWER)], axis=1)
        lab = np.stack([_weighted_mean(emb[..., s], present.astype(np.float32)) * F.LAB_SCALE
                        for s in (F.LAB_MEAN, F.LAB_UPPER, F.LAB_LOWER)], axis=1)
        return cls(class_probs=class_probs, palette=palette, lab=lab, present=present,
                   centroid=emb[..., F.CENTROID], box=traj.boxes.detach().float().cpu().numpy(),
                   area=traj.areas.detach().float().cpu().numpy(),
                   quality=traj.scores.detach().float().cpu().numpy())

    @property
    def num_trajectories(self) -> int:
        return self.present.shape[0]

    @property
    def num_frames(self) -> int:
        return self.present.shape[1]

    def mean_over_present(self, series: np.ndarray) -> np.ndarray:
        """float [N, T, ...] -> [N, ...], the mean over each trajectory's frames present (0 if none)."""
        return _weighted_mean(series, self.present.astype(np.float32))

    def height(self) -> np.ndarray:
        """float [N, T]: box height (0 where absent)."""
        return self.box[..., 3] - self.box[..., 1]

    def first_frame(self) -> np.ndarray:
        """int [N]: first frame present (T where never)."""
        return np.where(self.present.any(1), self.present.argmax(1), self.num_frames)

    def last_frame(self) -> np.ndarray:
        """int [N]: last frame present (-1 where never)."""
        flipped = self.present[:, ::-1]
        return np.where(self.present.any(1), self.num_frames - 1 - flipped.argmax(1), -1)

    def speeds(self) -> np.ndarray:
        """float [N, T]: centroid displacement per frame in units of the object's own mean height
        (scale-free: a walker far away and one near both move about a body height a second).
        0 on frames where it or the previous frame is absent."""
        step = np.zeros(self.present.shape, np.float32)
        both = self.present[:, 1:] & self.present[:, :-1]
        delta = np.linalg.norm(self.centroid[:, 1:] - self.centroid[:, :-1], axis=-1)
        height = np.maximum(self.mean_over_present(self.height()), 1e-3)[:, None]
        step[:, 1:] = np.where(both, delta / height, 0.0)
        return step

    def displacement(self) -> np.ndarray:
        """float [N, 2]: centroid at the last frame present minus at the first, in frame units."""
        n = np.arange(self.num_trajectories)
        first = np.minimum(self.first_frame(), self.num_frames - 1)
        last = np.maximum(self.last_frame(), 0)
        return np.where(self.present.any(1, keepdims=True),
                        self.centroid[n, last] - self.centroid[n, first], 0.0)


def _weighted_mean(series: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """series [N, T, ...], weights [N, T] -> [N, ...]."""
    w = weights.reshape(weights.shape + (1,) * (series.ndim - 2))
    total = np.maximum(weights.sum(1), 1e-9).reshape((-1,) + (1,) * (series.ndim - 2))
    return (series * w).sum(1) / total
