"""On-disk cache of the frozen trajectory branch's outputs, per video, for stage 4 (TAIS + BEiT-3).

Choice (documented in the model card): each video is cut into consecutive crops of `crop_size`
frames, exactly as inference cuts it, and the branch runs once per crop on the *unflipped* video;
the top-K trajectories of every crop are stored whole. A training clip then picks one crop and
samples its T frames inside it, so the trajectories TAIS sees are those inference would give, and
random frame sampling costs nothing. The flip augmentation is applied to the cached outputs
(masks and boxes mirrored) together with the frames BEiT-3 sees and the text; the trajectory
embeddings themselves are not recomputed for the mirrored video (that would double the cache
cost on 2 CPU cores) - an approximation, since the embeddings may carry some position.

The cache folder is keyed by a hash of the branch weights, crop size, input size and K, so a
changed branch never reads stale entries; each video is one file written atomically, so an
interrupted build resumes where it stopped.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from derrvos_core.model.branches import crop_trajectories
from derrvos_core.model.derrvos import weights_hash
from derrvos_core.trajectory.types import Trajectories

_FIELDS = ("embeddings", "mask_logits", "scores", "class_logits", "boxes", "areas")


@dataclass(frozen=True)
class CacheKey:
    """What the cached outputs depend on besides the video."""

    weights: str  # `derrvos_core.model.derrvos.weights_hash` of the trajectory branch's state dict, 16 digits
    crop_size: int
    image_size: int
    top_k: int
    duplicate_iou: float = 0.0  # in the folder's name only when set, so the caches made before it stay valid

    @staticmethod
    def of(model, crop_size: int) -> CacheKey:
        """The key of what inference computes with `model`'s DVIS++ branch: its input size and top-K."""
        branch = model.trajectory
        return CacheKey(weights=weights_hash(branch.state_dict(), length=16), crop_size=int(crop_size), image_size=branch.input_size,
                        top_k=branch.top_k_trajectories, duplicate_iou=branch.cfg.duplicate_iou)

    def folder(self, root: Path) -> Path:
        key = {k: v for k, v in self.__dict__.items() if k != "duplicate_iou" or v}
        text = json.dumps(key, sort_keys=True)
        return Path(root) / hashlib.sha1(text.encode()).hexdigest()[:16]


def frozen_crop_trajectories(model) -> Callable[[np.ndarray], Trajectories]:
    """uint8 crop frames -> the model's trajectories as inference computes them (eval, no gradients)."""
    def crop(frames: np.ndarray) -> Trajectories:
        model.trajectory.eval()
        with torch.no_grad():
            return crop_trajectories(model.trajectory, frames)[1]
    return crop


def crop_starts(num_frames: int, crop_size: int) -> list[int]:
    return list(range(0, num_frames, crop_size))


class TrajectoryCache:
    """Read/write cached crops. `get(video_id)` -> list of (start, Trajectories) in float32."""

    def __init__(self, root: Path, key: CacheKey):
        self.key = key
        self.folder = key.folder(root)
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "key.json").write_text(json.dumps(key.__dict__, indent=2))

    def path(self, video_id: str) -> Path:
        return self.folder / f"{video_id}.pt"

    def has(self, video_id: str) -> bool:
        return self.path(video_id).is_file()

    @torch.no_grad()
    def build(self, crop_trajectories: Callable[[np.ndarray], Trajectories], video_id: str,
              frames: np.ndarray) -> None:
        """Store the top-K trajectories (fp16) of every crop of one video (uint8 [T, H, W, 3]).

        `crop_trajectories(uint8 crop frames) -> Trajectories` is the frozen branch as inference runs it
        (`frozen_crop_trajectories`).
        """
        crops = []
        for start in crop_starts(len(frames), self.key.crop_size):
            traj = crop_trajectories(frames[start:start + self.key.crop_size])
            crops.append({"start": start, **{f: _store(getattr(traj, f)) for f in _FIELDS}})
        tmp = self.path(video_id).with_suffix(".tmp")
        torch.save({"crops": crops, "num_frames": len(frames)}, tmp)
        os.replace(tmp, self.path(video_id))

    def get(self, video_id: str) -> list[tuple[int, Trajectories]]:
        payload = torch.load(self.path(video_id), weights_only=True)
        return [(int(c["start"]), Trajectories(**{f: c[f].float() for f in _FIELDS})) for c in payload["crops"]]


def _store(t: torch.Tensor) -> torch.Tensor:
    return t.detach().cpu().half() if t.is_floating_point() else t.detach().cpu()


def flip_trajectories(traj: Trajectories) -> Trajectories:
    """Mirror masks and boxes horizontally (embeddings, scores and classes unchanged; see module doc)."""
    boxes = traj.boxes.clone()
    present = traj.areas > 0
    x0, x1 = boxes[..., 0].clone(), boxes[..., 2].clone()
    boxes[..., 0] = torch.where(present, 1.0 - x1, x0)
    boxes[..., 2] = torch.where(present, 1.0 - x0, x1)
    return Trajectories(embeddings=traj.embeddings, mask_logits=traj.mask_logits.flip(-1), scores=traj.scores,
                        class_logits=traj.class_logits, boxes=boxes, areas=traj.areas)


def select_frames(traj: Trajectories, idx: torch.Tensor) -> Trajectories:
    """The trajectories at frames `idx` (LongTensor [T']) of their crop."""
    return Trajectories(embeddings=traj.embeddings[:, idx], mask_logits=traj.mask_logits[:, idx],
                        scores=traj.scores, class_logits=traj.class_logits, boxes=traj.boxes[:, idx],
                        areas=traj.areas[:, idx])
