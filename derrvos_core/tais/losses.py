"""TAIS training targets and losses (plain functions)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from derrvos_core.errors import InputError


#: Label of a trajectory left out of `selection_loss` (`trajectory_labels(duplicates="ignore")`).
IGNORE = -1.0


def trajectory_labels(traj_masks: torch.Tensor, target: torch.Tensor, iou: float = 0.5,
                      best_match_iou: float | None = None, duplicates: str = "negative",
                      duplicate_iou: float = 0.2) -> torch.Tensor:
    """1 for trajectories whose clip mask IoU with a target reaches `iou`, else 0.

    With `best_match_iou`, the best-matching trajectory of each target object is positive too when
    its IoU reaches that lower bound: a weak trajectory branch may cover an object with no
    trajectory at `iou`, and that object's best trajectory is still what selection should pick
    (what the oracle would pick).

    Clip IoU sums intersections and unions over all T frames. `target` is either the union of the
    expression's objects [T, H, W] or one mask per target object [K, T, H, W] (a trajectory is
    positive when it matches any of them). An empty target ("no target" expressions, or K = 0)
    gives all-negative labels: no trajectory can be right, which is what makes "none" learnable.

    `duplicates` says what a trajectory that overlaps a target (clip IoU >= `duplicate_iou`) without
    being positive is: "negative" (0), "soft" (its IoU, a soft label) or "ignore" (IGNORE: out of the
    loss). A loose branch gives an object two or three such trajectories (a fragment, a duplicate);
    as negatives they ask the selector to judge mask quality, not the words.

    Args:
        traj_masks: bool [N, T, H, W]; trajectory masks at the target's resolution.
        target: bool [T, H, W] or [K, T, H, W].
    Returns:
        float [N] of 0/1 (and soft labels or IGNORE, see `duplicates`).
    """
    return labels_from_ious(clip_ious(traj_masks, target), iou, best_match_iou, duplicates, duplicate_iou)


def labels_from_ious(clip_iou: torch.Tensor, iou: float = 0.5, best_match_iou: float | None = None,
                     duplicates: str = "negative", duplicate_iou: float = 0.2) -> torch.Tensor:
    """`trajectory_labels` from the trajectories' clip IoUs with the target objects (float [N, K], as
    `clip_ious` gives them), for callers that keep the IoUs to label them more than one way."""
    if duplicates not in ("negative", "soft", "ignore"):
        raise InputError(f"duplicates must be 'negative', 'soft' or 'ignore', got {duplicates!r}")
    n = clip_iou.shape[0]
    if clip_iou.shape[1] == 0 or n == 0:
        return torch.zeros(n, device=clip_iou.device)
    labels = clip_iou.amax(dim=1) >= iou
    if best_match_iou is not None:
        best, which = clip_iou.max(dim=0)  # per target object
        hit = which[(best >= best_match_iou) & (best > 0)]  # an absent object matches nothing
        labels[hit] = True
    labels = labels.float()
    if duplicates != "negative":
        best = clip_iou.amax(dim=1)
        overlap = (labels == 0) & (best >= duplicate_iou)
        labels = torch.where(overlap, best if duplicates == "soft" else torch.full_like(best, IGNORE), labels)
    return labels


def clip_ious(traj_masks: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """float [N, K]: clip mask IoU (intersections and unions summed over the T frames) of every trajectory
    with every target object; 0 against an empty target. Shapes as `trajectory_labels`."""
    if traj_masks.dim() != 4:
        raise InputError(f"traj_masks must be [N, T, H, W], got {tuple(traj_masks.shape)}")
    targets = target.unsqueeze(0) if target.dim() == 3 else target
    if targets.dim() != 4 or targets.shape[1:] != traj_masks.shape[1:]:
        raise InputError(f"target {tuple(target.shape)} does not match the trajectories' [T, H, W] "
                         f"{tuple(traj_masks.shape[1:])}")
    p = traj_masks.flatten(1).float()  # [N, THW]
    g = targets.flatten(1).float()  # [K, THW]
    inter = p @ g.T  # [N, K]
    union = p.sum(1, keepdim=True) + g.sum(1).unsqueeze(0) - inter
    # an empty target never makes a positive, even against an empty trajectory (0 / 0)
    clip_iou = torch.where(union > 0, inter / union.clamp_min(1.0), torch.zeros_like(inter))
    return torch.where(g.sum(1).unsqueeze(0) > 0, clip_iou, torch.zeros_like(clip_iou))


def selection_loss(layer_logits: torch.Tensor, labels: torch.Tensor, kind: str = "focal",
                   alpha: float = 0.25, gamma: float = 2.0) -> torch.Tensor:
    """Mean over the N_d supervised layers of a sigmoid focal (default) or BCE loss over trajectories.

    The focal loss is normalised by the number of positives (at least 1), as DETR-style set
    losses are, so a clip with one target among 20 trajectories is not drowned by negatives;
    BCE is the plain mean over trajectories. Trajectories labelled IGNORE (< 0) are left out of both.

    Args:
        layer_logits: float [N_d, N] (or [N] for one layer).
        labels: float [N] of 0/1 (soft labels in [0, 1] work too).
    Returns:
        a scalar tensor.
    """
    logits = layer_logits.unsqueeze(0) if layer_logits.dim() == 1 else layer_logits
    if logits.dim() != 2 or logits.shape[1] != labels.shape[-1]:
        raise InputError(f"layer_logits {tuple(layer_logits.shape)} do not match "
                         f"labels {tuple(labels.shape)}")
    logits = logits.float()
    labels = labels.float().to(logits.device)
    keep = (labels >= 0).float().unsqueeze(0).expand_as(logits)
    target = labels.clamp_min(0).unsqueeze(0).expand_as(logits)
    bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none") * keep
    if kind == "bce":
        return (bce.sum(dim=1) / keep.sum(dim=1).clamp_min(1.0)).mean()
    if kind != "focal":
        raise InputError(f"selection loss kind must be 'focal' or 'bce', got {kind!r}")
    prob = logits.sigmoid()
    p_t = prob * target + (1 - prob) * (1 - target)
    loss = bce * (1 - p_t) ** gamma
    if alpha >= 0:
        loss = loss * (alpha * target + (1 - alpha) * (1 - target))
    num_pos = labels.clamp_min(0).sum().clamp_min(1.0)
    return (loss.sum(dim=1) / num_pos).mean()
