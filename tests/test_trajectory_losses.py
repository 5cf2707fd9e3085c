"""Trajectory-branch losses on the tiny config: finite, differentiable, consistent matching."""
from __future__ import annotations

import pytest
import torch

from derrvos_core.errors import InputError
from derrvos_core.trajectory import TrackerSession, TrajectoryConfig, TrajectoryGenerator
from derrvos_core.trajectory.losses import (
    ClipTargets,
    consistent_video_matching,
    refiner_loss,
    reid_contrastive_loss,
    segmenter_loss,
    tracker_loss,
)

T, H, W = 3, 64, 64


@pytest.fixture(scope="module")
def generator() -> TrajectoryGenerator:
    torch.manual_seed(0)
    return TrajectoryGenerator.from_config(TrajectoryConfig.tiny()).train()


def _targets() -> ClipTargets:
    masks = torch.zeros(2, T, H, W, dtype=torch.bool)
    masks[0, :, 8:30, 8:40] = True
    masks[1, 1:, 34:60, 30:62] = True  # appears in frame 1
    return ClipTargets(masks, torch.tensor([0, 0]))


def _grads(module) -> bool:
    return any(p.grad is not None and p.grad.abs().sum() > 0 for p in module.parameters())


def test_clip_targets_from_frames():
    m = torch.zeros(1, 8, 8, dtype=torch.bool)
    m[0, 2:4, 2:4] = True
    t = ClipTargets.from_frames([m, torch.cat([m, m])], [torch.tensor([3]), torch.tensor([5, 3])],
                                [torch.tensor([7]), torch.tensor([9, 7])])
    assert t.masks.shape == (2, 2, 8, 8)
    assert t.class_ids.tolist() == [3, 5]  # rows ordered by instance id (7, 9)
    assert t.present.tolist() == [[True, True], [False, True]]


def test_segmenter_loss_backpropagates(generator):
    generator.zero_grad()
    seg = generator.segmenter(torch.rand(T, 3, H, W) * 255, with_aux=True)
    losses = segmenter_loss(generator.segmenter, seg, _targets())
    n_aux = generator.cfg.segmenter.decoder_layers  # learnable-query heads + all but the last layer
    assert {"loss_cross_entropy", "loss_mask", "loss_dice", "loss_reid", "loss_aux_reid"} <= set(losses)
    assert f"loss_dice_{n_aux - 1}" in losses
    assert torch.isfinite(losses["loss"]) and losses["loss_reid"] > 0
    losses["loss"].backward()
    assert _grads(generator.segmenter.reid_embed) and _grads(generator.segmenter.mask2former)


def test_tracker_and_refiner_losses_backpropagate(generator):
    generator.zero_grad()
    with torch.no_grad():
        seg = generator.segmenter(torch.rand(T, 3, H, W) * 255)
    tracked = generator.tracker(seg, TrackerSession.new())
    losses = tracker_loss(tracked, _targets(), generator.cfg.segmenter, guide=seg)
    assert "loss_mask_0" in losses and torch.isfinite(losses["loss"])
    losses["loss"].backward()
    assert _grads(generator.tracker.ref_proj) and _grads(generator.tracker.class_embed)

    refined = generator.refiner(tracked.embeddings.detach(), seg.raw_embeddings, seg.mask_features)
    losses = refiner_loss(refined, _targets(), generator.cfg.segmenter, guide=tracked)
    assert torch.isfinite(losses["loss"])
    losses["loss"].backward()
    assert _grads(generator.refiner.activation_proj) and _grads(generator.refiner.mask_embed)


def test_losses_accept_clips_without_objects(generator):
    empty = ClipTargets(torch.zeros(0, T, H, W, dtype=torch.bool), torch.zeros(0, dtype=torch.long))
    seg = generator.segmenter(torch.rand(T, 3, H, W) * 255, with_aux=True)
    assert torch.isfinite(segmenter_loss(generator.segmenter, seg, empty)["loss"])
    tracked = generator.tracker(seg.detach(), TrackerSession.new())
    assert torch.isfinite(tracker_loss(tracked, empty, generator.cfg.segmenter)["loss"])


def test_target_size_must_match_frames(generator):
    seg = generator.segmenter(torch.rand(T, 3, H, W) * 255, with_aux=True)
    small = ClipTargets(torch.zeros(1, T, 16, 16, dtype=torch.bool), torch.zeros(1, dtype=torch.long))
    with pytest.raises(InputError, match="frame size"):
        segmenter_loss(generator.segmenter, seg, small)


def test_consistent_matching_follows_first_appearance():
    cfg = TrajectoryConfig.tiny().segmenter
    targets = _targets()
    q = 6
    logits = torch.full((T, q, H // 4, W // 4), -10.0)
    # query 4 predicts instance 0 everywhere; query 1 predicts instance 1 from frame 1 on
    small = torch.nn.functional.interpolate(targets.masks.float(), size=(H // 4, W // 4))
    logits[:, 4][small[0] > 0] = 10.0
    logits[1:, 1][small[1, 1:] > 0] = 10.0
    classes = torch.zeros(T, q, 2)
    src, tgt = consistent_video_matching(classes, logits, targets, cfg)
    assert dict(zip(tgt.tolist(), src.tolist())) == {0: 4, 1: 1}


def test_reid_contrastive_prefers_the_positive():
    anchor = torch.tensor([1.0, 0.0])
    good = reid_contrastive_loss(anchor, torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([True, False]))
    bad = reid_contrastive_loss(anchor, torch.tensor([[0.0, 1.0], [1.0, 0.0]]), torch.tensor([True, False]))
    assert good[0] < bad[0] and good[1] < bad[1]
