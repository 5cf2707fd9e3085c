"""Cross-crop linking (beyond the paper): one identity and one score per object over the whole video.

The paper runs every crop on its own, so an object gets a new trajectory at every crop boundary.
With linking on, two cues join the trajectories of neighbouring crops:

1. The trajectory branch's session is carried from crop to crop (DVIS++ runs its online tracker over
   a whole video this way), so slot i of crop c + 1 continues slot i of crop c.
2. The trajectories of crop c (their last frame) and crop c + 1 (their first frame) are
   Hungarian-matched on the two adjacent boundary frames: mask IoU at the model's mask resolution,
   cosine similarity of the branch's per-frame object embeddings, and agreement of session slots.
   The masks catch a slot swap at the boundary; slot and embedding link an object whose mask is
   empty on the boundary frame (it left and comes back).

A linked trajectory's score is the mean of its crops' scores weighted by the frames in which its mask
is not empty (`derrvos_core.result.linked_score`): the crops that show the object carry the evidence,
a crop where the slot is mostly empty (the object left) does not drag a clear answer below the threshold.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from scipy.optimize import linear_sum_assignment

from derrvos_core.result import TrajectoryResult, linked_score
from derrvos_core.trajectory.types import Trajectories


@dataclass(frozen=True)
class LinkingConfig:
    """How neighbouring crops' trajectories are associated (similarity terms are in [0, 1])."""

    #: Weight of the mask IoU between the last frame of crop c and the first frame of crop c + 1.
    iou_weight: float = 0.5
    #: Weight of the (clamped at 0) cosine similarity of the refiner embeddings on those frames.
    embedding_weight: float = 0.25
    #: Weight of "same tracker slot" (only when the tracker session is carried across crops).
    slot_weight: float = 0.25
    #: A Hungarian pair is linked only at or above this similarity; else the later one starts a new
    #: link. 0.4 needs more than a shared slot alone, or an IoU of 0.8 alone.
    min_similarity: float = 0.4
    #: Carry the tracker's online state across crops (cue 1 above).
    carry_session: bool = True


@dataclass
class CropBoundary:
    """What linking needs of one crop's N trajectories.

    Attributes:
        first_masks, last_masks: bool [N, h, w]; masks on the crop's first and last frame.
        first_embeddings, last_embeddings: float [N, C]; the refiner embeddings on those frames.
        slots: LongTensor [N]; the tracker slot of each trajectory, or None when not tracked across crops.
    """

    first_masks: torch.Tensor
    last_masks: torch.Tensor
    first_embeddings: torch.Tensor
    last_embeddings: torch.Tensor
    slots: torch.Tensor | None = None

    @staticmethod
    def of(trajectories: Trajectories, slots: torch.Tensor | None = None) -> CropBoundary:
        masks = trajectories.mask_logits > 0
        return CropBoundary(first_masks=masks[:, 0].cpu(), last_masks=masks[:, -1].cpu(),
                            first_embeddings=trajectories.embeddings[:, 0].float().cpu(),
                            last_embeddings=trajectories.embeddings[:, -1].float().cpu(),
                            slots=None if slots is None else slots.cpu())


def boundary_similarity(previous: CropBoundary, current: CropBoundary, cfg: LinkingConfig) -> torch.Tensor:
    """float [N_prev, N_cur]: how likely trajectory j of a crop continues trajectory i of the crop before."""
    a = previous.last_masks.flatten(1).float()
    b = current.first_masks.flatten(1).float()
    inter = a @ b.T
    union = a.sum(1, keepdim=True) + b.sum(1)[None] - inter
    iou = torch.where(union > 0, inter / union.clamp(min=1), torch.zeros_like(inter))
    ea = torch.nn.functional.normalize(previous.last_embeddings, dim=1)
    eb = torch.nn.functional.normalize(current.first_embeddings, dim=1)
    sim = cfg.iou_weight * iou + cfg.embedding_weight * (ea @ eb.T).clamp(min=0)
    if previous.slots is not None and current.slots is not None:
        sim = sim + cfg.slot_weight * (previous.slots[:, None] == current.slots[None]).float()
    return sim


def associate(previous: CropBoundary, current: CropBoundary, cfg: LinkingConfig) -> list[int | None]:
    """For each trajectory of the current crop, the index in the previous crop it continues, or None."""
    matches: list[int | None] = [None] * current.first_masks.shape[0]
    if previous.last_masks.shape[0] == 0 or not matches:
        return matches
    sim = boundary_similarity(previous, current, cfg)
    rows, cols = linear_sum_assignment(sim.numpy(), maximize=True)
    for i, j in zip(rows.tolist(), cols.tolist()):
        if sim[i, j] >= cfg.min_similarity:
            matches[j] = i
    return matches


@dataclass
class CropLinker:
    """Per-video linking state, carried from crop to crop (one per `segment_iter` call).

    Attributes:
        new_session: the trajectory branch's `new_session`.
        cfg: the association weights.
        session: the branch session every crop continues (when `cfg.carry_session`).
        previous: the last crop's boundary, None before the first crop.
        previous_links: link ids of the last crop's trajectories, in its order.
        next_link: the next unused link id.
    """

    new_session: Callable[[], Any]
    cfg: LinkingConfig = field(default_factory=LinkingConfig)
    session: Any = None
    previous: CropBoundary | None = None
    previous_links: list[int] = field(default_factory=list)
    next_link: int = 0

    def __post_init__(self) -> None:
        if self.session is None:
            self.session = self.new_session()

    def crop_session(self) -> Any:
        """The session for the next crop: the carried one, or a fresh one."""
        return self.session if self.cfg.carry_session else self.new_session()

    def link(self, boundary: CropBoundary) -> list[int]:
        """Link ids of a crop's trajectories (in their order), continuing the previous crop's."""
        if not self.cfg.carry_session:
            boundary = replace(boundary, slots=None)
        matches = [None] * boundary.first_masks.shape[0] if self.previous is None else \
            associate(self.previous, boundary, self.cfg)
        links = []
        for match in matches:
            if match is None:
                links.append(self.next_link)
                self.next_link += 1
            else:
                links.append(self.previous_links[match])
        self.previous, self.previous_links = boundary, links
        return links


def apply_linked_scores(trajectories: list[TrajectoryResult]) -> list[TrajectoryResult]:
    """Every trajectory gets its link's frame-weighted score (see the module docstring)."""
    groups: dict[int, list[TrajectoryResult]] = {}
    for t in trajectories:
        groups.setdefault(t.link_id, []).append(t)
    scores = {link: linked_score(members) for link, members in groups.items()}
    return [replace(t, score=scores[t.link_id]) for t in trajectories]
