"""Cross-crop linking: one identity per object across crops, whole links selected, off by default."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from derrvos_core.model.linking import CropBoundary, CropLinker, LinkingConfig, apply_linked_scores
from derrvos_core.result import TrajectoryResult, linked_score, select_trajectories
from derrvos_core.trajectory.tracker import TrackerSession
from derrvos_core.trajectory.types import Trajectories, mask_kinematics

from .test_model import build_model
from .test_model_inference import moving_squares, score_crop

CROP, T, SIDE = 6, 36, 32  # 6 crops; the squares cross on the boundary of crops 2 and 3 (frames 17 | 18)


def crossing_squares() -> np.ndarray:
    """bool [2, T, SIDE, SIDE]: square 0 moves right, square 1 moves left; they cross mid-video."""
    masks = np.zeros((2, T, SIDE, SIDE), dtype=bool)
    for t in range(T):
        x0, x1 = int(t * (SIDE - 8) / (T - 1)), int((T - 1 - t) * (SIDE - 8) / (T - 1))
        masks[0, t, 10:18, x0:x0 + 8] = True
        masks[1, t, 12:20, x1:x1 + 8] = True
    return masks


def crop_trajectories(objects: np.ndarray, start: int, rng: np.random.Generator, base: torch.Tensor):
    """A crop's trajectories as a tracker gives them: the objects (GT masks as logits, embeddings that
    hardly tell them apart) plus empty distractors, in a shuffled order. Returns (trajectories, order)."""
    n_obj, n = objects.shape[0], 5
    logits = torch.full((n, CROP, SIDE, SIDE), -4.0)
    logits[:n_obj] = torch.from_numpy(objects[:, start:start + CROP]).float() * 8 - 4
    emb = torch.randn(n, CROP, 16)
    emb[:n_obj] = base[:, None] + 0.05 * torch.randn(n_obj, CROP, 16)
    order = torch.from_numpy(rng.permutation(n))
    boxes, areas = mask_kinematics(logits[order] > 0)
    traj = Trajectories(embeddings=emb[order], mask_logits=logits[order], scores=torch.rand(n),
                        class_logits=torch.zeros(n, 2), boxes=boxes, areas=areas)
    return traj, order


def test_each_object_keeps_one_identity_across_crops():
    """Two squares that cross, with equal embeddings (up to noise) and no tracker slots: the boundary masks
    must keep them apart, crop after crop, and the distractors must not join them."""
    rng, objects = np.random.default_rng(0), crossing_squares()
    torch.manual_seed(0)
    base = torch.randn(1, 16).repeat(2, 1)  # the embeddings cannot tell the two apart
    linker = CropLinker(TrackerSession.new, LinkingConfig(carry_session=False))
    identity = {0: set(), 1: set()}
    all_links = []
    for start in range(0, T, CROP):
        traj, order = crop_trajectories(objects, start, rng, base)
        links = linker.link(CropBoundary.of(traj))
        all_links.append(links)
        for position, source in enumerate(order.tolist()):
            if source in identity:
                identity[source].add(links[position])
    assert len(identity[0]) == 1 and len(identity[1]) == 1 and identity[0] != identity[1]
    objects_links = identity[0] | identity[1]
    distractor_links = {link for crop in all_links for link in crop} - objects_links
    assert len(distractor_links) == 3 * (T // CROP)  # empty, dissimilar: a new identity every crop


def test_slot_and_embedding_link_an_object_absent_on_the_boundary():
    empty = torch.zeros(2, 4, 4, dtype=torch.bool)
    emb = torch.eye(2, 8)
    previous = CropBoundary(empty, empty, emb, emb, slots=torch.tensor([3, 7]))
    linker = CropLinker(TrackerSession.new, previous=previous, previous_links=[10, 11], next_link=12)
    # same slots, same embeddings, swapped order: follows the slots; a stranger gets a new id
    stranger = torch.zeros(1, 8)
    stranger[0, 5] = 1
    current = CropBoundary(torch.zeros(3, 4, 4, dtype=torch.bool), torch.zeros(3, 4, 4, dtype=torch.bool),
                           torch.cat([emb.flip(0), stranger]), torch.cat([emb.flip(0), stranger]),
                           slots=torch.tensor([7, 3, 5]))
    assert linker.link(current) == [11, 10, 12]


def result(tid, crop, score, present, link):
    rles = tuple({"size": [2, 2], "counts": "04"} if p else None for p in present)
    return TrajectoryResult(trajectory_id=tid, crop_index=crop, frame_start=crop * len(present), score=score,
                            rles=rles, link_id=link)


def test_linked_score_weights_crops_by_frames_shown():
    members = [result(0, 0, 0.9, [1, 1, 1, 1], 0), result(1, 1, 0.2, [1, 0, 0, 0], 0)]
    assert linked_score(members) == pytest.approx((4 * 0.9 + 0.2) / 5)
    assert linked_score([result(0, 0, 0.4, [0, 0], 0), result(1, 1, 0.8, [0, 0], 0)]) == pytest.approx(0.6)
    scored = apply_linked_scores(members + [result(2, 1, 0.3, [1, 1, 0, 0], 5)])
    assert [t.score for t in scored] == pytest.approx([0.76, 0.76, 0.3])


def test_selection_takes_whole_links():
    trajs = [result(0, 0, 0.8, [1, 1], 0), result(1, 1, 0.8, [1, 1], 0), result(2, 0, 0.6, [1, 1], 1),
             result(3, 1, 0.5, [1, 1], 2)]
    assert select_trajectories(trajs, 0.7, False) == (0, 1)
    # mixed member scores: chosen or dropped together on the link's score
    mixed = [result(0, 0, 0.9, [1, 1, 1], 0), result(1, 1, 0.3, [1, 0, 0], 0)]
    assert select_trajectories(mixed, 0.7, False) == (0, 1)
    assert select_trajectories(mixed, 0.8, False) == ()
    # at_least_one: crop 1 has no passing trajectory of its own -> its best link, whole
    trajs = [result(0, 0, 0.9, [1, 1], 0), result(1, 1, 0.4, [1, 1], 1), result(2, 2, 0.4, [1, 1], 1),
             result(3, 1, 0.2, [1, 1], 2)]
    assert select_trajectories(trajs, 0.7, True) == (0, 1, 2)


def test_unlinked_selection_is_unchanged():
    """link_id -1 or equal to trajectory_id: per-trajectory threshold, each crop keeps its best."""
    for link in (lambda i: -1, lambda i: i):
        trajs = [result(i, i // 3, s, [1], link(i)) for i, s in enumerate([0.9, 0.5, 0.6, 0.3, 0.65, 0.2])]
        assert select_trajectories(trajs, 0.7, False) == (0,)
        assert select_trajectories(trajs, 0.7, True) == (0, 4)
        assert select_trajectories(trajs, 0.95, True) == (0, 4)
        assert select_trajectories(trajs, 0.55, False) == (0, 2, 4)


@pytest.fixture(scope="module")
def model():
    torch.set_num_threads(1)
    return build_model(seed=3)


def test_linking_is_off_by_default_and_then_crops_are_independent(model):
    frames = moving_squares(12)
    default = model.segment(frames, "the red square", model.defaults.settings(crop_size=4, threshold=0.0))
    off = model.segment(frames, "the red square",
                        model.defaults.settings(crop_size=4, threshold=0.0, link_crops=False))
    assert [(t.score, t.rles, t.link_id) for t in default.trajectories] == \
        [(t.score, t.rles, t.link_id) for t in off.trajectories]
    assert all(t.link_id == t.trajectory_id for t in off.trajectories)
    with torch.inference_mode():
        _, scores = score_crop(model, frames[8:12], "the red square")  # the third crop on its own
    third = [t.score for t in off.trajectories if t.crop_index == 2]
    assert third == pytest.approx(scores.tolist(), abs=1e-6)


def test_linked_run_gives_one_identity_and_score_per_link(model):
    frames = moving_squares(12)
    linked = model.segment(frames, "the red square",
                           model.defaults.settings(crop_size=4, threshold=0.0, link_crops=True))
    links: dict[int, list] = {}
    for t in linked.trajectories:
        links.setdefault(t.link_id, []).append(t)
    assert len(links) < len(linked.trajectories)  # something was linked
    for members in links.values():
        assert len({t.crop_index for t in members}) == len(members)  # one trajectory per crop
        assert len({t.score for t in members}) == 1
    # the first crop starts a fresh tracker either way: same masks as without linking
    off = model.segment(frames, "the red square", model.defaults.settings(crop_size=4, threshold=0.0))
    assert [t.rles for t in linked.trajectories if t.crop_index == 0] == \
        [t.rles for t in off.trajectories if t.crop_index == 0]
    picked = linked.select(float(np.median([t.score for t in linked.trajectories])))
    chosen = set(picked.selected)
    assert all(({t.trajectory_id for t in m} <= chosen) or not ({t.trajectory_id for t in m} & chosen)
               for m in links.values())


def test_cli_link_crops_writes_link_ids(model, tmp_path):
    import json

    from derrvos_core.__main__ import main

    from .test_model_inference import write_mp4

    video = write_mp4(tmp_path / "clip.mp4", moving_squares(8, 48, 64))
    folder = model.save(tmp_path / "model")
    out = tmp_path / "out"
    assert main(["segment", "--video", str(video), "--expression", "the red square", "--out", str(out),
                 "--checkpoint", str(folder), "--crop-size", "4", "--link-crops"]) == 0
    scores = json.loads((out / "scores.json").read_text())
    assert scores["link_crops"] is True
    links = [t["link_id"] for t in scores["trajectories"]]
    assert len(set(links)) < len(links)  # the second crop continues the first one's identities
    by_link = {}
    for t in scores["trajectories"]:
        by_link.setdefault(t["link_id"], set()).add(t["score"])
    assert all(len(s) == 1 for s in by_link.values())
