"""Stage-4 data: the trajectory cache (built once, keyed by weights), flips, frame selection, text trimming."""
from __future__ import annotations

import numpy as np
import torch

from derrvos_core.trajectory.config import TrajectoryConfig
from derrvos_core.trajectory.generator import TrajectoryGenerator
from training.trainer.referring_data import trim_padding
from derrvos_core.model.derrvos import weights_hash
from training.trainer.trajectory_cache import CacheKey, TrajectoryCache, flip_trajectories, select_frames


def test_cache_builds_once_per_video_and_matches_the_branch(tmp_path):
    torch.manual_seed(0)
    gen = TrajectoryGenerator.from_config(TrajectoryConfig.tiny()).eval()
    key = CacheKey(weights=weights_hash(gen.state_dict(), length=16), crop_size=4, image_size=64, top_k=5)
    cache = TrajectoryCache(tmp_path, key)
    frames = np.random.default_rng(0).integers(0, 255, (6, 64, 64, 3), dtype=np.uint8)
    def branch(crop):
        with torch.no_grad():
            return gen.generate(torch.from_numpy(crop).permute(0, 3, 1, 2).float(), top_k=5)

    cache.build(branch, "v0", frames)
    crops = cache.get("v0")
    assert [s for s, _ in crops] == [0, 4] and [t.num_frames for _, t in crops] == [4, 2]
    direct = gen.generate(torch.from_numpy(frames[:4]).permute(0, 3, 1, 2).float(), top_k=5)
    assert torch.allclose(crops[0][1].scores, direct.scores, atol=1e-3)
    assert crops[0][1].num_trajectories == 5 and crops[0][1].mask_logits.dtype == torch.float32
    # a different branch gets a different folder: no stale entries
    with torch.no_grad():
        next(gen.parameters()).add_(1.0)
    assert CacheKey(weights_hash(gen.state_dict(), length=16), 4, 64, 5).folder(tmp_path) != key.folder(tmp_path)


def test_flip_mirrors_masks_and_boxes():
    masks = torch.zeros(1, 2, 4, 8)
    masks[0, :, 1:3, 0:2] = 5.0  # an object at the left edge
    from derrvos_core.trajectory.types import Trajectories, mask_kinematics

    boxes, areas = mask_kinematics(masks > 0)
    traj = Trajectories(embeddings=torch.zeros(1, 2, 3), mask_logits=masks, scores=torch.ones(1),
                        class_logits=torch.zeros(1, 2), boxes=boxes, areas=areas)
    flipped = flip_trajectories(traj)
    expected, _ = mask_kinematics(flipped.mask_logits > 0)
    assert torch.allclose(flipped.boxes, expected)
    assert flipped.boxes[0, 0, 0] == 0.75 and flipped.boxes[0, 0, 2] == 1.0
    one = select_frames(traj, torch.tensor([1]))
    assert one.num_frames == 1 and one.boxes.shape == (1, 1, 4)


def test_trim_padding_keeps_real_tokens():
    ids, pad = torch.tensor([0, 7, 9, 2, 1, 1]), torch.tensor([False] * 4 + [True] * 2)
    t_ids, t_pad = trim_padding(ids, pad)
    assert t_ids.tolist() == [0, 7, 9, 2] and not t_pad.any()


def test_label_targets_keep_objects_apart_at_video_resolution_capped_at_the_model_input():
    from types import SimpleNamespace

    from training.trainer.referring_data import label_targets

    objects = np.zeros((2, 3, 64, 48), dtype=bool)
    objects[0, :, :8, :8] = True
    objects[1, :, 32:, 24:] = True
    sample = SimpleNamespace(load_object_masks=lambda: objects, target_masks=objects.any(0))
    frames = np.array([0, 2])
    out = label_targets(sample, frames, (32, 32))  # cap 128 x 128: the video's own 64 x 48
    assert out.shape == (2, 2, 64, 48) and torch.equal(out, torch.from_numpy(objects[:, frames]))
    small = label_targets(sample, frames, (8, 8))  # cap 32 x 32
    assert small.shape == (2, 2, 32, 32) and small[0, :, :4, :4].all() and not small[0, :, 8:].any()
    union_only = SimpleNamespace(load_object_masks=None, target_masks=objects.any(0))
    assert label_targets(union_only, frames, (32, 32)).shape == (2, 64, 48)
