"""Motion guidance: how each trajectory moves, as a per-frame feature added to the trajectory stream.

Expressions such as "the horse that stops, then turns around" are about motion, which a single
frame's multimodal tokens cannot see. So each trajectory carries, per frame, the change of its own
query (what the tracker saw change) and its mask kinematics (where it is, how big, how that moves).

Inference takes kinematics over the consecutive frames of the whole crop (`crop_motion`). Training
samples T frames of a crop; with the stage-4 option `motion_from_crop` it passes the whole crop too, so
frame-to-frame deltas mean the same as at inference (8 frames sampled from 36 are 4.1 frames apart on
average, so deltas between sampled frames are ~4x the inference ones). The shipped tiny default was
trained without it; the model card's motion ablation measures both.
With `summary`, each trajectory also gets one crop-level motion summary (where it starts and ends,
how far and how fast it goes in each third of the crop, how often it reverses, when it is visible),
the same for every frame: "the one that stops" is a fact about the whole path, not about a frame.
"""
from __future__ import annotations

import torch
from torch import nn

from derrvos_core.trajectory.types import Trajectories

#: Kinematic features per frame: present, centroid (2), box (4), area, sqrt(area), then the
#: frame-to-frame deltas of present, centroid, box and area.
NUM_KINEMATICS = 9 + 8

#: Objects move a few percent of the frame per frame; deltas are scaled up so they reach the
#: same order of magnitude as the positions themselves before the first linear layer.
DELTA_SCALE = 10.0


def mask_centroids(mask_logits: torch.Tensor) -> torch.Tensor:
    """Centroid (x, y) in [0, 1] of each mask (> 0 is foreground); zeros where a mask is empty.

    Args:
        mask_logits: float [..., h, w].
    Returns:
        float [..., 2].
    """
    m = (mask_logits > 0).float()
    h, w = m.shape[-2:]
    mass = m.sum(dim=(-1, -2)).clamp_min(1.0)
    ys = (torch.arange(h, device=m.device, dtype=m.dtype) + 0.5) / h
    xs = (torch.arange(w, device=m.device, dtype=m.dtype) + 0.5) / w
    cx = (m.sum(dim=-2) * xs).sum(dim=-1) / mass
    cy = (m.sum(dim=-1) * ys).sum(dim=-1) / mass
    return torch.stack([cx, cy], dim=-1)


def kinematic_features(trajectories: Trajectories) -> torch.Tensor:
    """Per-frame mask kinematics and their frame-to-frame deltas (zero at the first frame).

    Returns:
        float [N, T, NUM_KINEMATICS].
    """
    areas = trajectories.areas.float()
    present = (areas > 0).float().unsqueeze(-1)
    centroid = mask_centroids(trajectories.mask_logits)
    state = torch.cat([present, centroid, trajectories.boxes.float(), areas.unsqueeze(-1)], dim=-1)
    delta = torch.zeros_like(state)
    delta[:, 1:] = (state[:, 1:] - state[:, :-1]) * DELTA_SCALE
    return torch.cat([state, areas.clamp_min(0).sqrt().unsqueeze(-1), delta], dim=-1)


#: Crop-level summary per trajectory: visible fraction, first and last visible time; first, last and
#: mean centroid (6); net displacement (2); mean speed in each third of the crop (3) and overall; top
#: speed; path length; reversals of x and y motion (2); mean and change of sqrt(area) (2).
NUM_SUMMARY = 3 + 6 + 2 + 3 + 1 + 1 + 1 + 2 + 2

#: Below this speed (fraction of the frame per frame) a trajectory counts as still when reversals are
#: counted, so mask jitter on a still object is not a bounce.
STILL_SPEED = 0.004


def crop_motion(trajectories: Trajectories, frame_index: torch.Tensor | None = None, summary: bool = True
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Kinematics over the whole crop, at `frame_index` (all frames when None), and the crop summary.

    Args:
        trajectories: the crop's trajectories, every frame (consecutive).
        frame_index: LongTensor [T'] of the frames the stream holds (training samples T of the crop).
        summary: compute the path summary (False: None; a model without `motion_summary` skips it).
    Returns:
        (float [N, T', NUM_KINEMATICS], float [N, NUM_SUMMARY] or None).
    """
    kin = kinematic_features(trajectories)
    path = motion_summary(trajectories) if summary else None
    return (kin if frame_index is None else kin[:, frame_index]), path


def motion_summary(trajectories: Trajectories) -> torch.Tensor:
    """float [N, NUM_SUMMARY]: one description of each trajectory's path over its crop (see NUM_SUMMARY)."""
    areas = trajectories.areas.float()
    n, t = areas.shape
    present = areas > 0
    count = present.sum(dim=1).float()
    centroid = mask_centroids(trajectories.mask_logits)  # [N, T, 2]
    steps = torch.arange(t, device=areas.device, dtype=torch.float32)
    span = max(t - 1, 1)
    first = torch.where(present, steps, torch.full_like(steps, float(t))).min(dim=1).values.clamp_max(t - 1)
    last = torch.where(present, steps, torch.full_like(steps, -1.0)).max(dim=1).values.clamp_min(0)
    idx_first, idx_last = first.long(), last.long()
    rows = torch.arange(n, device=areas.device)
    c_first, c_last = centroid[rows, idx_first], centroid[rows, idx_last]
    weight = present.float().unsqueeze(-1)
    c_mean = (centroid * weight).sum(dim=1) / count.clamp_min(1.0).unsqueeze(-1)
    both = (present[:, 1:] & present[:, :-1]).float()  # steps where the object is seen at both ends
    vel = (centroid[:, 1:] - centroid[:, :-1]) * both.unsqueeze(-1)
    speed = vel.norm(dim=-1)  # [N, T-1]
    thirds = [_masked_mean(speed[:, part], both[:, part]) for part in _thirds(t - 1, speed.device)]
    moving = speed > STILL_SPEED
    reversals = []
    for axis in range(2):
        v = vel[..., axis]
        sign = torch.sign(v) * moving.float()
        flips = ((sign[:, 1:] * sign[:, :-1]) < 0).float().sum(dim=1) if t > 2 else torch.zeros(n)
        reversals.append(flips)
    root = areas.clamp_min(0).sqrt()
    root_mean = (root * present.float()).sum(dim=1) / count.clamp_min(1.0)
    root_change = root[rows, idx_last] - root[rows, idx_first]
    feats = [count / t, first / span, last / span, c_first, c_last, c_mean, (c_last - c_first) * 4.0,
             torch.stack(thirds, dim=1) * DELTA_SCALE * 4.0, _masked_mean(speed, both).unsqueeze(1) * DELTA_SCALE * 4.0,
             (speed.max(dim=1).values.unsqueeze(1) if t > 1 else torch.zeros(n, 1)) * DELTA_SCALE,
             speed.sum(dim=1, keepdim=True), torch.stack(reversals, dim=1).clamp_max(4.0),
             root_mean.unsqueeze(1), root_change.unsqueeze(1)]
    flat = [f if f.dim() == 2 else f.unsqueeze(1) for f in feats]
    return torch.cat(flat, dim=1)


def _thirds(length: int, device) -> list[torch.Tensor]:
    """Indices of the first, middle and last third of `length` steps (a short crop repeats steps; none
    when there is no step)."""
    if length <= 0:
        return [torch.zeros(0, dtype=torch.long, device=device)] * 3
    cuts = [0, length // 3, 2 * length // 3, length]
    return [torch.arange(a, max(b, a + 1), device=device).clamp_max(length - 1) for a, b in zip(cuts, cuts[1:])]


def _masked_mean(values: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    if values.shape[1] == 0:
        return torch.zeros(values.shape[0], device=values.device)
    return (values * weights).sum(dim=1) / weights.sum(dim=1).clamp_min(1.0)


class MotionEncoder(nn.Module):
    """Query deltas + kinematics -> temporal conv -> a motion feature per trajectory and frame.

    Inputs:
        queries: float [N, T, W]; the projected trajectory embeddings.
        kinematics: float [N, T, NUM_KINEMATICS] from `kinematic_features`.
        summary: float [N, NUM_SUMMARY] from `motion_summary` (only with `summary`).
    Output:
        float [N, T, W], added to the trajectory stream before the first aligner layer.
    """

    def __init__(self, width: int, kernel: int, summary: bool = False):
        super().__init__()
        self.kinematics_proj = nn.Linear(NUM_KINEMATICS, width)
        self.summary_proj = nn.Sequential(nn.Linear(NUM_SUMMARY, width), nn.GELU(), nn.Linear(width, width)) \
            if summary else None
        self.delta_proj = nn.Linear(width, width)
        self.conv1 = nn.Conv1d(width, width, kernel, padding=kernel // 2)
        self.conv2 = nn.Conv1d(width, width, kernel, padding=kernel // 2)
        self.act = nn.GELU()
        self.norm = nn.LayerNorm(width)

    def forward(self, queries: torch.Tensor, kinematics: torch.Tensor,
                summary: torch.Tensor | None = None) -> torch.Tensor:
        deltas = torch.zeros_like(queries)
        deltas[:, 1:] = queries[:, 1:] - queries[:, :-1]
        x = self.kinematics_proj(kinematics.to(queries.dtype)) + self.delta_proj(deltas)
        if self.summary_proj is not None:
            x = x + self.summary_proj(summary.to(queries.dtype)).unsqueeze(1)
        x = self.conv1(x.transpose(1, 2))  # [N, W, T]: convolve along time
        x = self.conv2(self.act(x)).transpose(1, 2)
        return self.norm(x)
