"""The selection probe: its features are what the pixels and masks say, and its fit reads the words."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from derrvos_core.datasets.synthref import SynthRefConfig, generate_synthref
from derrvos_core.trajectory.types import Trajectories
from derrvos_core.tais.losses import IGNORE, clip_ious, trajectory_labels
from training.selection_probe import (STAGE4_LABELS, Example, colour_features, crop_coverage, duplicate_labels,
                                      expression_terms, fit, ground_truth_crops, ground_truth_examples,
                                      selection_accuracy, truth_features)

SMALL = SynthRefConfig(width=64, height=64, min_frames=12, max_frames=18, image_format="png")


def _trajectories(masks: torch.Tensor, embeddings: torch.Tensor | None = None) -> Trajectories:
    """bool masks [N, T, h, w] as Trajectories (boxes unused by these features)."""
    n, t = masks.shape[:2]
    return Trajectories(embeddings=torch.zeros(n, t, 4) if embeddings is None else embeddings,
                        mask_logits=torch.where(masks, 5.0, -5.0), scores=torch.ones(n),
                        class_logits=torch.zeros(n, 2), boxes=torch.zeros(n, t, 4),
                        areas=masks.float().mean(dim=(-1, -2)))


def test_colour_features_are_the_pixels_under_the_mask():
    frames = np.zeros((2, 16, 16, 3), np.uint8)
    frames[..., 2] = 255  # blue background
    frames[:, 0:8, 0:8] = (255, 0, 0)  # a red square, top left
    masks = torch.zeros(2, 2, 8, 8, dtype=torch.bool)  # masks at half the frame size
    masks[0, :, 0:4, 0:4] = True  # exactly the square
    masks[1, :, 0:4, 0:8] = True  # the square and as much background beside it
    colour = colour_features(_trajectories(masks), frames)
    assert colour[0].tolist() == pytest.approx([1, 0, 0, 0, 0, 0], abs=1e-6)
    assert colour[1].tolist() == pytest.approx([0.5, 0, 0.5, 0.5, 0, 0.5], abs=1e-6)


def test_truth_features_take_the_attributes_of_the_object_overlapped_most():
    truth_masks = torch.zeros(2, 3, 8, 8, dtype=torch.bool)
    truth_masks[0, :, 0:4, 0:4] = True
    truth_masks[1, :, 4:8, 4:8] = True
    attributes = torch.tensor([[1.0, 0, 0], [0, 1.0, 1.0]])
    truth = _trajectories(truth_masks, attributes[:, None].expand(-1, 3, -1))
    masks = torch.zeros(3, 3, 8, 8, dtype=torch.bool)
    masks[0, :, 4:8, 3:8] = True  # mostly object 1
    masks[1, :, 0:4, 0:3] = True  # inside object 0
    masks[2, 0, 0, 7] = True  # one pixel that touches neither
    got = truth_features(_trajectories(masks), truth)
    assert got.tolist() == [[0, 1, 1], [1, 0, 0], [0, 0, 0]]


def test_coverage_counts_duplicates_and_the_frames_the_best_trajectory_follows():
    truth_masks = torch.zeros(2, 4, 8, 8, dtype=torch.bool)
    truth_masks[0, :, 0:4, 0:4] = True  # seen in all 4 frames
    truth_masks[1, :2, 6:8, 6:8] = True  # seen in frames 0-1 only
    masks = torch.zeros(3, 4, 8, 8, dtype=torch.bool)
    masks[0, :, 0:4, 0:4] = True  # object 0 exactly
    masks[1, :, 0:4, 0:2] = True  # half of object 0: a duplicate at IoU 0.5
    masks[2, 0, 6:8, 6:8] = True  # object 1 in frame 0 only
    rows = crop_coverage(_trajectories(masks), _trajectories(truth_masks))
    assert rows[0] == (1.0, 1.0, 2, 2)
    assert rows[1][0] == pytest.approx(0.5) and rows[1][1:] == (0.5, 1, 1)


def test_the_probe_labels_duplicates_as_stage_4_does_and_scores_the_models_examples():
    target = torch.zeros(1, 1, 8, 8, dtype=torch.bool)
    target[0, :, :4, :4] = True
    masks = torch.zeros(3, 1, 8, 8, dtype=torch.bool)
    masks[0, :, :4, :4] = True  # the target
    masks[1, :, :4, :1] = True  # a fragment of it (IoU 0.25)
    masks[2, :, 6:, 6:] = True  # elsewhere
    ious = clip_ious(masks, target)
    example = Example({"score": torch.tensor([[0.9], [0.5], [0.1]])}, "the red square",
                      trajectory_labels(masks, target, **STAGE4_LABELS), "appearance", ious)
    for rule in ("negative", "soft", "ignore"):
        stage4 = trajectory_labels(masks, target, **STAGE4_LABELS, duplicates=rule)
        labels, weights = duplicate_labels(example, rule)
        assert weights.tolist() == (stage4 != IGNORE).float().tolist()
        assert labels[weights > 0].tolist() == stage4[stage4 != IGNORE].tolist()
    assert duplicate_labels(example, "ignore")[1].tolist() == [1.0, 0.0, 1.0]
    with pytest.raises(ValueError):
        duplicate_labels(example._replace(ious=None), "soft")  # ground-truth objects keep no IoU
    # the model's examples (with their IoUs) are tested as the ground truth's are
    scorer = fit([example] * 3, ("score",), epochs=2, seed=0, duplicates="ignore")
    assert selection_accuracy(scorer, [example], ("score",))["appearance"]["crops"] == 1


@pytest.fixture(scope="module")
def small_synthref(tmp_path_factory):
    root = tmp_path_factory.mktemp("probe")
    generate_synthref(root, "train", 30, seed=5, config=SMALL)
    return root


def test_ground_truth_crops_follow_every_object_of_the_meta(small_synthref):
    crops = ground_truth_crops(str(small_synthref), "train", crop_size=8)
    meta = json.loads((small_synthref / "train" / "synthref_meta.json").read_text())["videos"]
    rles = json.loads((small_synthref / "train" / "mask_dict.json").read_text())
    checked = 0
    for vid, video in meta.items():
        ids = [o["obj_id"] for o in video["objects"]]
        num_frames = len(rles[str(video["objects"][0]["anno_id"])])
        assert [s for s, _, _ in crops[vid]] == list(range(0, num_frames, 8))
        for start, crop_ids, traj in crops[vid]:
            assert crop_ids == ids and traj.num_trajectories == len(ids)
            for k, obj in enumerate(video["objects"]):  # seen exactly where its masks are
                seen = [r is not None for r in rles[str(obj["anno_id"])]]
                drawn = traj.areas[k] > 0
                assert not drawn[~torch.tensor(seen[start:start + traj.num_frames])].any()
        for k, obj in enumerate(video["objects"]):  # linear movers: x moves the way the meta says
            if obj["behaviour"] == "linear" and obj["direction"] in ("left", "right"):
                boxes = torch.cat([t.boxes[k] for _, _, t in crops[vid]])
                xs = boxes[(boxes[:, 2] > 0), 0::2].mean(1)
                if len(xs) >= 4:
                    assert (xs[-1] - xs[0] < 0) == (obj["direction"] == "left"), (vid, obj)
                    checked += 1
    assert checked >= 3


def test_terms_are_words_and_adjacent_pairs():
    assert expression_terms("The red, moving left!") == ["the", "red", "moving", "left", "the red", "red moving",
                                                         "moving left"]
    assert expression_terms("The red circle", pairs=False) == ["the", "red", "circle"]


def test_a_probe_fit_on_attributes_picks_what_the_words_name(small_synthref):
    examples = ground_truth_examples(str(small_synthref), "train", crop_size=36)
    reads = fit(examples, ("truth",), epochs=12, seed=0)
    blind = fit(examples, ("score",), epochs=12, seed=0)  # every object scores 1: nothing to tell them apart
    with_words = selection_accuracy(reads, examples, ("truth",))["appearance"]
    without = selection_accuracy(blind, examples, ("score",))["appearance"]
    assert with_words["crops"] >= 10
    assert with_words["top1"] >= 0.9
    assert without["top1"] <= with_words["top1"] - 0.3
