"""Training losses of the trajectory branch, as plain functions.

Target format (one clip of T frames, one video): `ClipTargets`
    masks      bool  [N, T, H, W]  instance n's mask in frame t, at the input frame size (H, W) =
                                   `SegmenterOutput.image_size`; all-False where n is absent
    class_ids  long  [N]           class of each instance, in [0, K)
    present    bool  [N, T]        whether instance n is in frame t (default: its mask is non-empty)
Row n is one instance across all frames, so instance identity = row index. Build it from per-frame
annotations with `ClipTargets.from_frames`.

All three losses return a dict of already weighted terms plus their sum under "loss". Class 2,
mask BCE 5, dice 5, no-object 0.1 (DVIS++), from the segmenter config. The mask terms use
transformers' Mask2Former point-sampled BCE/dice and its Hungarian matcher; the tracker and refiner
use video-level consistent matching (one query per instance for the whole clip).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, replace

import torch
from scipy.optimize import linear_sum_assignment
from torch.nn import functional as F
from transformers.models.mask2former.modeling_mask2former import (
    Mask2FormerLoss,
    pair_wise_dice_loss,
    pair_wise_sigmoid_cross_entropy_loss,
    sample_point,
)

from ..errors import InputError
from .config import SegmenterConfig
from .refiner import RefinerOutput
from .segmenter import Segmenter, SegmenterOutput, mask2former_config
from .tracker import TrackerOutput


@dataclass
class ClipTargets:
    """Ground truth of one clip; see the module docstring for shapes."""

    masks: torch.Tensor
    class_ids: torch.Tensor
    present: torch.Tensor | None = None

    def __post_init__(self):
        if self.masks.dim() != 4 or self.class_ids.shape != self.masks.shape[:1]:
            raise InputError(f"ClipTargets: masks must be [N, T, H, W] and class_ids [N]; got "
                             f"{tuple(self.masks.shape)} and {tuple(self.class_ids.shape)}")
        if self.present is None:
            self.present = self.masks.flatten(2).any(-1)

    @property
    def num_frames(self) -> int:
        return self.masks.shape[1]

    @staticmethod
    def from_frames(masks: list[torch.Tensor], class_ids: list[torch.Tensor],
                    instance_ids: list[torch.Tensor]) -> ClipTargets:
        """From per-frame annotations: masks[t] bool [n_t, H, W], class_ids[t] / instance_ids[t] long [n_t].

        Instances with the same id in different frames are the same object (its class is taken from
        its first appearance).
        """
        ids = sorted({int(i) for frame in instance_ids for i in frame})
        row = {i: r for r, i in enumerate(ids)}
        t_count, (h, w) = len(masks), masks[0].shape[-2:]
        out = torch.zeros(len(ids), t_count, h, w, dtype=torch.bool)
        present = torch.zeros(len(ids), t_count, dtype=torch.bool)
        classes = torch.full((len(ids),), -1, dtype=torch.long)
        for t in range(t_count):
            for m, c, i in zip(masks[t], class_ids[t], instance_ids[t]):
                r = row[int(i)]
                out[r, t], present[r, t] = m.bool(), True
                classes[r] = int(c) if classes[r] < 0 else classes[r]
        return ClipTargets(masks=out, class_ids=classes, present=present)

    def padded_masks(self, height: int, width: int) -> torch.Tensor:
        """Float masks [N, T, height, width], zero-padded bottom/right like the frames."""
        h, w = self.masks.shape[-2:]
        return F.pad(self.masks.float(), (0, width - w, 0, height - h))


@functools.lru_cache(maxsize=16)
def _criterion(cfg: SegmenterConfig, num_points: int) -> Mask2FormerLoss:
    """transformers' Mask2Former loss with our weights (it has no parameters; cached)."""
    config = mask2former_config(replace(cfg, train_num_points=num_points))
    return Mask2FormerLoss(config, _loss_weights(cfg))


def _loss_weights(cfg: SegmenterConfig) -> dict[str, float]:
    return {"loss_cross_entropy": cfg.class_weight, "loss_mask": cfg.mask_weight,
            "loss_dice": cfg.dice_weight}


def _weighted(losses: dict[str, torch.Tensor], cfg: SegmenterConfig) -> dict[str, torch.Tensor]:
    weights = _loss_weights(cfg)
    out = {}
    for name, value in losses.items():
        base = next((k for k in weights if name == k or name.startswith(k + "_")), None)
        out[name] = value * (weights[base] if base else 1.0)
    out["loss"] = sum(out.values())
    return out


def _check_size(seg_size: tuple[int, int], targets: ClipTargets) -> None:
    if tuple(targets.masks.shape[-2:]) != tuple(seg_size):
        raise InputError(f"target masks are {tuple(targets.masks.shape[-2:])} but frames were "
                         f"{tuple(seg_size)}; give masks at the input frame size")


def _padded_size(mask_logits: torch.Tensor) -> tuple[int, int]:
    return mask_logits.shape[-2] * 4, mask_logits.shape[-1] * 4


def _frame_labels(out: SegmenterOutput, targets: ClipTargets) -> tuple[list, list]:
    _check_size(out.image_size, targets)
    full = targets.padded_masks(*_padded_size(out.mask_logits))
    mask_labels = [full[targets.present[:, t], t] for t in range(targets.num_frames)]
    class_labels = [targets.class_ids[targets.present[:, t]] for t in range(targets.num_frames)]
    return mask_labels, class_labels


def frame_matches(segmenter: Segmenter, out: SegmenterOutput, targets: ClipTargets) -> list:
    """Per frame t, the last layer's Hungarian match (query indices, indices into the rows present at t)."""
    mask_labels, class_labels = _frame_labels(out, targets)
    matcher = segmenter.mask2former.criterion.matcher
    return matcher(out.mask_logits, out.class_logits, mask_labels, class_labels)


def segmenter_loss(segmenter: Segmenter, out: SegmenterOutput, targets: ClipTargets,
                   reid_weight: float = 2.0, aux_reid_weight: float = 3.0,
                   indices: list | None = None) -> dict[str, torch.Tensor]:
    """Mask2Former loss per frame (deep supervision) + re-id contrastive term between consecutive frames.

    Args:
        segmenter: the segmenter (its transformers criterion is used).
        out: `segmenter(frames, with_aux=True)` for the T frames of one clip.
        targets: the clip's `ClipTargets` (T frames, masks at the frame size).
        indices: `frame_matches(segmenter, out, targets)` when the caller has it already.
    Returns:
        weighted terms (`loss_cross_entropy`, `loss_mask`, `loss_dice`, their `_i` auxiliary copies,
        `loss_reid`, `loss_aux_reid`) and their sum `loss`.
    """
    mask_labels, class_labels = _frame_labels(out, targets)
    aux = None
    if out.aux_class_logits is not None:
        aux = [{"masks_queries_logits": m, "class_queries_logits": c}
               for m, c in zip(out.aux_mask_logits, out.aux_class_logits)]
    criterion = segmenter.mask2former.criterion
    losses = criterion(masks_queries_logits=out.mask_logits, class_queries_logits=out.class_logits,
                       mask_labels=mask_labels, class_labels=class_labels, auxiliary_predictions=aux)
    result = _weighted(losses, segmenter.cfg)
    if indices is None:
        indices = criterion.matcher(out.mask_logits, out.class_logits, mask_labels, class_labels)
    reid = out.embeddings[..., segmenter.cfg.hidden_dim:]
    contrast, cosine = _reid_terms(reid, indices, targets)
    result["loss_reid"] = contrast * reid_weight
    result["loss_aux_reid"] = cosine * aux_reid_weight
    result["loss"] = result["loss"] + result["loss_reid"] + result["loss_aux_reid"]
    return result


def _reid_terms(reid: torch.Tensor, indices, targets: ClipTargets) -> tuple[torch.Tensor, torch.Tensor]:
    """Contrastive re-id between frames t and t+1: an instance's query in t+1 against all queries in t."""
    rows = [targets.present[:, t].nonzero()[:, 0] for t in range(targets.num_frames)]
    slot = [{int(rows[t][j]): int(q) for q, j in zip(*indices[t])} for t in range(targets.num_frames)]
    contrast, cosine, n = reid.sum() * 0, reid.sum() * 0, 0
    for t in range(targets.num_frames - 1):
        for inst, q_next in slot[t + 1].items():
            if inst not in slot[t]:
                continue
            label = torch.zeros(reid.shape[1], dtype=torch.bool, device=reid.device)
            label[slot[t][inst]] = True
            c, a = reid_contrastive_loss(reid[t + 1, q_next], reid[t], label)
            contrast, cosine, n = contrast + c, cosine + a, n + 1
    return contrast / max(n, 1), cosine / max(n, 1)


def reid_contrastive_loss(anchor: torch.Tensor, candidates: torch.Tensor,
                          positive: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Multi-positive contrastive loss of one anchor (CTVIS / DVIS++ `loss_reid`).

    Args:
        anchor: float [C]; candidates: float [M, C]; positive: bool [M].
    Returns:
        (log(1 + sum_{pos, neg} exp(s_neg - s_pos)) on dot products,
         mean squared error between cosine similarity and the 0/1 label).
    """
    sims = candidates @ anchor  # [M]
    pos, neg = sims[positive], sims[~positive]
    diffs = (neg[None, :] - pos[:, None]).flatten()
    contrast = torch.logsumexp(F.pad(diffs, (0, 1)), dim=0)
    cos = F.normalize(candidates, dim=-1) @ F.normalize(anchor, dim=0)
    return contrast, ((cos - positive.float()) ** 2).mean()


@torch.no_grad()
def consistent_video_matching(class_logits: torch.Tensor, mask_logits: torch.Tensor, targets: ClipTargets,
                              cfg: SegmenterConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """One query per instance for the whole clip (DVIS++ `VideoHungarianMatcher_Consistent`).

    Instances are matched in the first frame they appear, frame by frame in time order, on
    class + point-sampled mask BCE + dice costs; a query taken by an earlier frame cannot be reused.

    Args:
        class_logits: [T, Q, K + 1]; mask_logits: [T, Q, h, w] (at 1/4 of the padded frame size).
    Returns:
        (query indices, instance rows), LongTensors of equal length.
    """
    full = targets.padded_masks(*_padded_size(mask_logits))
    first = torch.where(targets.present.any(1), targets.present.float().argmax(1), -1)
    used: list[int] = []
    src, tgt = [], []
    for t in range(targets.num_frames):
        new = (first == t).nonzero()[:, 0]
        if len(new) == 0:
            continue
        points = torch.rand(1, cfg.train_num_points, 2, device=mask_logits.device)
        pred = sample_point(mask_logits[t][:, None], points.repeat(mask_logits.shape[1], 1, 1),
                            align_corners=False).flatten(1)
        gt = sample_point(full[new, t][:, None].to(pred), points.repeat(len(new), 1, 1),
                          align_corners=False).flatten(1)
        cost = (cfg.mask_weight * pair_wise_sigmoid_cross_entropy_loss(pred, gt)
                + cfg.dice_weight * pair_wise_dice_loss(pred, gt)
                - cfg.class_weight * class_logits[t].softmax(-1)[:, targets.class_ids[new]])
        cost = torch.nan_to_num(cost.float(), nan=1e6, posinf=1e6, neginf=1e6).cpu()
        cost[used] = 1e6
        q, j = linear_sum_assignment(cost.numpy())
        used += list(q)
        src += list(q)
        tgt += new[torch.as_tensor(j, dtype=torch.long)].tolist()
    return torch.as_tensor(src, dtype=torch.long), torch.as_tensor(tgt, dtype=torch.long)


def _layer_losses(criterion: Mask2FormerLoss, class_logits, mask_logits, mask_labels, class_labels,
                  indices, num_masks) -> dict[str, torch.Tensor]:
    return {**criterion.loss_masks(mask_logits, mask_labels, indices, num_masks),
            **criterion.loss_labels(class_logits, class_labels, indices)}


def tracker_loss(out: TrackerOutput, targets: ClipTargets, cfg: SegmenterConfig,
                 guide: SegmenterOutput | None = None, reid_weight: float = 2.0) -> dict[str, torch.Tensor]:
    """Per-frame set loss of the tracker (all layers, training mode) with one consistent matching.

    Args:
        out: `tracker(seg, TrackerSession.new())` in training mode on one clip.
        targets: the clip's `ClipTargets`; every instance present somewhere in the clip is
            supervised in every frame (empty mask where absent), as DVIS++ does.
        cfg: the segmenter config (loss weights, number of points).
        guide: if given, the matching uses the segmenter's predictions reordered into tracker slots
            (DVIS++ does this for the first half of training); else the tracker's last layer.
        reid_weight: weight of the contrastive term on consecutive-frame references (0 disables).
    """
    t_count = targets.num_frames
    if guide is not None:
        frames = torch.arange(t_count)[:, None]
        match_cls = guide.class_logits[frames, out.indices]
        match_masks = guide.mask_logits[frames, out.indices]
    else:
        match_cls, match_masks = out.layer_class_logits[-1], out.layer_mask_logits[-1]
    src, tgt = consistent_video_matching(match_cls, match_masks, targets, cfg)
    full = targets.padded_masks(*_padded_size(out.layer_mask_logits))
    criterion = _criterion(cfg, cfg.train_num_points).to(out.layer_mask_logits.device)
    mask_labels = [full[:, t] for t in range(t_count)]
    class_labels = [targets.class_ids] * t_count
    indices = [(src, tgt)] * t_count
    num_masks = max(len(targets.class_ids) * t_count, 1)
    losses = _layer_sum(criterion, out.layer_class_logits, out.layer_mask_logits, mask_labels, class_labels,
                        indices, num_masks)
    result = _weighted(losses, cfg)
    if reid_weight:
        result["loss_reid"] = reid_weight * _reference_reid(out.references, src)
        result["loss"] = result["loss"] + result["loss_reid"]
    return result


def _layer_sum(criterion, layer_cls, layer_masks, mask_labels, class_labels, indices, num_masks):
    """Last layer unsuffixed, earlier layers as `_i` (Mask2Former's naming)."""
    args = (mask_labels, class_labels, indices, num_masks)
    losses = _layer_losses(criterion, layer_cls[-1], layer_masks[-1], *args)
    for i in range(layer_cls.shape[0] - 1):
        aux = _layer_losses(criterion, layer_cls[i], layer_masks[i], *args)
        losses.update({f"{k}_{i}": v for k, v in aux.items()})
    return losses


def _reference_reid(references: torch.Tensor, slots: torch.Tensor) -> torch.Tensor:
    """A matched slot's reference in frame t against all references in frames t-1 and t+1."""
    total, n = references.sum() * 0, 0
    q = references.shape[1]
    for t in range(1, references.shape[0]):
        for s in slots.tolist():
            for other in (t - 1, t + 1):
                if other >= references.shape[0]:
                    continue
                label = torch.zeros(q, dtype=torch.bool, device=references.device)
                label[s] = True
                total, n = total + reid_contrastive_loss(references[t, s], references[other], label)[0], n + 1
    return total / max(n, 1)


def _tall(masks: torch.Tensor) -> torch.Tensor:
    """[T, Q, h, w] -> [1, Q, T*h, w]: a query's frames stacked into one tall image."""
    return masks.transpose(0, 1).flatten(1, 2)[None]


def _tall_labels(out: RefinerOutput, targets: ClipTargets) -> list[torch.Tensor]:
    return [targets.padded_masks(*_padded_size(out.layer_mask_logits)).flatten(1, 2)]  # [N, T*H, W]


def refiner_matches(out: RefinerOutput, targets: ClipTargets, cfg: SegmenterConfig,
                    guide: TrackerOutput | None = None) -> list:
    """The refiner's clip-level Hungarian match, [(query indices, target rows)] (one query per object).

    guide: if given, match on the tracker's predictions (DVIS++'s early-training guidance).
    """
    criterion = _criterion(cfg, cfg.train_num_points * targets.num_frames).to(out.layer_mask_logits.device)
    if guide is not None:
        match_cls = guide.layer_class_logits[-1].mean(0)[None]
        match_masks = _tall(guide.layer_mask_logits[-1])
    else:
        match_cls, match_masks = out.layer_class_logits[-1][None], _tall(out.layer_mask_logits[-1])
    return criterion.matcher(match_masks, match_cls, _tall_labels(out, targets), [targets.class_ids])


def refiner_loss(out: RefinerOutput, targets: ClipTargets, cfg: SegmenterConfig,
                 guide: TrackerOutput | None = None, indices: list | None = None) -> dict[str, torch.Tensor]:
    """Clip-level set loss of the refiner (all layers, training mode).

    The T frames are stacked into one tall image per query, so matching and the point-sampled mask
    loss see whole trajectories (DVIS++ offline; points scale with T).

    Args:
        out: `refiner(...)` in training mode on one clip.
        targets: the clip's `ClipTargets`.
        guide: if given, match on the tracker's predictions (DVIS++'s early-training guidance).
        indices: `refiner_matches(out, targets, cfg, guide)` when the caller has it already.
    """
    tall_labels = _tall_labels(out, targets)
    class_labels = [targets.class_ids]
    criterion = _criterion(cfg, cfg.train_num_points * targets.num_frames).to(out.layer_mask_logits.device)
    if indices is None:
        indices = refiner_matches(out, targets, cfg, guide)
    num_masks = max(len(targets.class_ids), 1)
    layer_masks = torch.stack([_tall(m) for m in out.layer_mask_logits])
    losses = _layer_sum(criterion, out.layer_class_logits[:, None], layer_masks, tall_labels, class_labels,
                        indices, num_masks)
    return _weighted(losses, cfg)
