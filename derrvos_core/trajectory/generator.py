"""TrajectoryGenerator: segmenter -> referring tracker -> temporal refiner -> top-K `Trajectories`."""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from ..errors import InputError
from .config import TrajectoryConfig
from .refiner import TemporalRefiner
from .segmenter import Segmenter, SegmenterOutput
from .tracker import ReferringTracker, TrackerOutput, TrackerSession
from .types import Trajectories, mask_kinematics


class TrajectoryGenerator(nn.Module):
    """The DVIS++ trajectory branch. Stateless: per-video online state lives in a `TrackerSession`.

    Sub-modules: `segmenter` (Mask2Former + re-id), `tracker` (referring tracker), `refiner`
    (temporal refiner).
    """

    def __init__(self, cfg: TrajectoryConfig):
        super().__init__()
        self.cfg = cfg
        seg = cfg.segmenter
        self.segmenter = Segmenter(seg)
        self.tracker = ReferringTracker(cfg.tracker, seg.embed_dim, seg.mask_dim, seg.num_classes)
        self.refiner = TemporalRefiner(cfg.refiner, seg.embed_dim, seg.mask_dim, seg.num_classes)

    @classmethod
    def from_config(cls, cfg: TrajectoryConfig) -> TrajectoryGenerator:
        return cls(cfg)

    def segment_frames(self, frames: torch.Tensor | Sequence[torch.Tensor]) -> SegmenterOutput:
        """Segment each frame independently (windows of `segmenter.window_size` frames bound memory).

        Args:
            frames: float [T, 3, H, W] RGB in 0..255 (or a list of [3, H, W] of one size).
        """
        frames = validate_frames(frames).to(self.segmenter.pixel_mean.device)
        step = self.cfg.segmenter.window_size
        parts = [self.segmenter(frames[i:i + step]) for i in range(0, frames.shape[0], step)]
        return parts[0] if len(parts) == 1 else SegmenterOutput.cat(parts)

    def track(self, seg: SegmenterOutput, session: TrackerSession | None = None) -> TrackerOutput:
        """Run the online tracker over the frames of `seg`, continuing `session` when it has started."""
        return self.tracker(seg, session if session is not None else TrackerSession.new())

    def refine(self, seg: SegmenterOutput, tracked: TrackerOutput) -> Trajectories:
        """Refine a crop offline; returns all Q trajectories in tracker slot order (not sorted)."""
        out = self.refiner(tracked.embeddings, seg.raw_embeddings, seg.mask_features)
        h, w = (math.ceil(s / 4) for s in seg.image_size)
        mask_logits = out.mask_logits[..., :h, :w].transpose(0, 1).contiguous()  # [Q, T, h, w]
        boxes, areas = mask_kinematics(mask_logits > 0)
        return Trajectories(
            embeddings=out.embeddings.transpose(0, 1).contiguous(),
            mask_logits=mask_logits,
            scores=trajectory_scores(out.class_logits, tracked.class_logits),
            class_logits=out.class_logits,
            boxes=boxes,
            areas=areas,
        )

    @torch.no_grad()
    def generate(self, frames: torch.Tensor | Sequence[torch.Tensor], session: TrackerSession | None = None,
                 top_k: int | None = None) -> Trajectories:
        """Trajectories of one crop, best `top_k` first (default `cfg.top_k`).

        Args:
            frames: float [T, 3, H, W] RGB in 0..255; normalised and padded internally.
            session: online tracker state; pass the previous crop's session to link crops, else None.
        Returns:
            `Trajectories` with masks at 1/4 of (H, W) (rounded up).
        """
        k = self.cfg.top_k if top_k is None else top_k
        if k < 1:
            raise InputError(f"top_k must be >= 1, got {k}")
        seg = self.segment_frames(frames)
        return self.refine(seg, self.track(seg, session)).top_k(k)


def trajectory_scores(refiner_logits: torch.Tensor, tracker_logits: torch.Tensor) -> torch.Tensor:
    """Score per trajectory in [0, 1], as DVIS++ offline inference scores it.

    The class probabilities of the refiner's time-pooled logits and of the tracker's time-averaged
    logits are combined by element-wise max (DVIS++ `aux_pred_cls`); the score is the best class.
    (DVIS++ ranks (query, class) pairs; we keep one entry per query, so we take the max over classes.)

    Args:
        refiner_logits: [Q, K + 1]; tracker_logits: [T, Q, K + 1].
    """
    probs = refiner_logits.softmax(-1)[:, :-1]
    online = tracker_logits.mean(dim=0).softmax(-1)[:, :-1]
    return torch.maximum(probs, online).amax(dim=-1)


def validate_frames(frames) -> torch.Tensor:
    """Check and stack frames into float [T, 3, H, W]; raise InputError naming what is wrong."""
    if isinstance(frames, (list, tuple)):
        if len(frames) == 0:
            raise InputError("no frames: got an empty list; a crop needs at least one frame")
        shapes = {tuple(f.shape) for f in frames}
        if len(shapes) > 1:
            raise InputError(f"frames differ in size: {sorted(shapes)}; all frames of a crop must match")
        frames = torch.stack([torch.as_tensor(f) for f in frames])
    if isinstance(frames, np.ndarray):
        frames = torch.from_numpy(frames)
    if not isinstance(frames, torch.Tensor):
        raise InputError(f"frames must be a tensor [T, 3, H, W], got {type(frames).__name__}")
    if frames.dim() != 4:
        raise InputError(f"frames must be [T, 3, H, W], got shape {tuple(frames.shape)}")
    if frames.shape[0] == 0:
        raise InputError("no frames: got T = 0; a crop needs at least one frame")
    if frames.shape[1] != 3:
        hint = " (channels-last? permute to [T, 3, H, W])" if frames.shape[-1] == 3 else ""
        raise InputError(f"frames must be RGB with 3 channels at dim 1, "
                         f"got shape {tuple(frames.shape)}{hint}")
    if not frames.is_floating_point():
        raise InputError(f"frames must be float RGB in 0..255, got dtype {frames.dtype}")
    if min(frames.shape[-2:]) < 32:
        raise InputError(f"frames are too small: {tuple(frames.shape[-2:])}; need at least 32 x 32 px")
    if not torch.isfinite(frames).all():
        raise InputError("frames contain NaN or infinite values")
    return frames
