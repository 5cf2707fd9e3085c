"""Duplicate suppression of a crop's trajectories (`TrajectoryConfig.duplicate_iou`), off by default."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from derrvos_core.errors import InputError
from derrvos_core.model import DeRVOS, load_model
from derrvos_core.trajectory.branch import without_duplicates
from derrvos_core.trajectory.config import TrajectoryConfig
from training.graft_branch import graft
from training.trainer.trajectory_cache import CacheKey

SHIPPED = Path("assets/models/derrvos-tiny-synthref")


def _box(t: int, y0: int, y1: int, x0: int, x1: int) -> torch.Tensor:
    m = torch.zeros(t, 10, 10, dtype=torch.bool)
    m[:, y0:y1, x0:x1] = True
    return m


def test_a_near_copy_of_a_better_trajectory_is_dropped_and_the_rest_kept():
    best = _box(3, 0, 4, 0, 4)  # 16 px a frame
    copy = _box(3, 0, 4, 0, 3)  # IoU 12 / 16 = 0.75 with best
    part = _box(3, 0, 2, 0, 2)  # IoU 4 / 16 = 0.25: a fragment, not a copy
    other = _box(3, 6, 9, 6, 9)
    empty = torch.zeros(3, 10, 10, dtype=torch.bool)
    masks = torch.stack([best, copy, part, other, empty, copy.clone()])
    assert without_duplicates(masks, 0.7).tolist() == [0, 2, 3, 4]
    # at 0.8 the copy stays; row 5, its exact twin (IoU 1.0 with kept row 1), goes at any setting below 1
    assert without_duplicates(masks, 0.8).tolist() == [0, 1, 2, 3, 4]
    assert without_duplicates(masks, 0.2).tolist() == [0, 3, 4]


def test_the_clip_iou_sums_over_frames():
    a = _box(2, 0, 4, 0, 4)
    b = a.clone()
    b[1] = False  # the same in frame 0, absent in frame 1: IoU 16 / 32
    assert without_duplicates(torch.stack([a, b]), 0.5).tolist() == [0]
    assert without_duplicates(torch.stack([a, b]), 0.51).tolist() == [0, 1]


def test_the_setting_is_checked_and_off_by_default():
    assert TrajectoryConfig().duplicate_iou == 0.0 and TrajectoryConfig.tiny().duplicate_iou == 0.0
    for bad in (-0.1, 1.0):
        with pytest.raises(InputError, match="duplicate_iou"):
            TrajectoryConfig(duplicate_iou=bad)


def test_a_model_with_it_keeps_fewer_trajectories_names_itself_apart_and_caches_apart(tmp_path):
    shipped = load_model(str(SHIPPED)).eval()
    strict = graft(SHIPPED, SHIPPED, tmp_path / "nms", duplicate_iou=0.3)
    plain = graft(SHIPPED, SHIPPED, tmp_path / "plain")
    nms, same = load_model(str(strict)).eval(), load_model(str(plain)).eval()
    assert nms.cfg.trajectory.duplicate_iou == 0.3 and same.cfg.trajectory.duplicate_iou == 0.0
    assert nms.state_dict().keys() == same.state_dict().keys()
    assert nms.version != same.version  # same weights, other answers: the run caches must not mix them
    frames = np.random.default_rng(0).integers(0, 255, (6, 64, 64, 3), dtype=np.uint8)
    frames[:, 10:30, 10:30] = (240, 40, 40)  # an object the branch covers with several queries
    with torch.no_grad():
        kept, kept_slots = nms.trajectory.trajectories(*_features(nms, frames))
        all_, all_slots = same.trajectory.trajectories(*_features(same, frames))
    assert kept.num_trajectories < all_.num_trajectories == min(16, same.trajectory.top_k_trajectories)
    assert set(kept_slots.tolist()) < set(all_slots.tolist())
    masks = kept.mask_logits > 0
    assert without_duplicates(masks, 0.3).tolist() == list(range(kept.num_trajectories))
    # caches made before the setting existed keep their folders; a set one gets its own
    assert CacheKey.of(same, 36).folder(tmp_path) == dataclasses.replace(
        CacheKey.of(same, 36), duplicate_iou=0.0).folder(tmp_path)
    assert CacheKey.of(nms, 36).folder(tmp_path) != CacheKey.of(same, 36).folder(tmp_path)
    assert shipped.cfg.trajectory.duplicate_iou == 0.0


def _features(model: DeRVOS, frames: np.ndarray):
    prepared = model.trajectory.prepare(frames)
    return model.trajectory.frame_features(prepared), model.trajectory.new_session()


def test_stage_four_started_from_such_a_folder_trains_with_the_setting(tmp_path):
    from training.trainer import load_config
    from training.trainer.stages.derrvos_model import derrvos_config

    folder = graft(SHIPPED, SHIPPED, tmp_path / "nms", duplicate_iou=0.5)
    cfg = load_config(Path("training/configs/synthref_tiny_derrvos.yaml"),
                      [f"model={folder}", f"init_trajectory={folder}", "init=null"])
    assert derrvos_config(cfg).trajectory.duplicate_iou == 0.5
    plain = load_config(Path("training/configs/synthref_tiny_derrvos.yaml"), ["init=null"])
    assert derrvos_config(plain).trajectory.duplicate_iou == 0.0
