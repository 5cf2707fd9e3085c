"""Motion guidance: how each trajectory moves, as a per-frame feature added to the trajectory stream.

Expressions such as "the horse that stops, then turns around" are about motion, which a single
frame's multimodal tokens cannot see. So each trajectory carries, per frame, the change of its own
query (what the tracker saw change) and its mask kinematics (where it is, how big, how that moves).
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


class MotionEncoder(nn.Module):
    """Query deltas + kinematics -> temporal conv -> a motion feature per trajectory and frame.

    Inputs:
        queries: float [N, T, W]; the projected trajectory embeddings.
        kinematics: float [N, T, NUM_KINEMATICS] from `kinematic_features`.
    Output:
        float [N, T, W], added to the trajectory stream before the first aligner layer.
    """

    def __init__(self, width: int, kernel: int):
        super().__init__()
        self.kinematics_proj = nn.Linear(NUM_KINEMATICS, width)
        self.delta_proj = nn.Linear(width, width)
        self.conv1 = nn.Conv1d(width, width, kernel, padding=kernel // 2)
        self.conv2 = nn.Conv1d(width, width, kernel, padding=kernel // 2)
        self.act = nn.GELU()
        self.norm = nn.LayerNorm(width)

    def forward(self, queries: torch.Tensor, kinematics: torch.Tensor) -> torch.Tensor:
        deltas = torch.zeros_like(queries)
        deltas[:, 1:] = queries[:, 1:] - queries[:, :-1]
        x = self.kinematics_proj(kinematics.to(queries.dtype)) + self.delta_proj(deltas)
        x = self.conv1(x.transpose(1, 2))  # [N, W, T]: convolve along time
        x = self.conv2(self.act(x)).transpose(1, 2)
        return self.norm(x)
