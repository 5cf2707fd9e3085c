"""The training-only attribute heads of stages 1 and 3: labels, loss, matching, and that they teach the
branch's queries without becoming part of the exported branch."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from derrvos_core.strict_load import load_strict
from derrvos_core.trajectory.config import TrajectoryConfig
from derrvos_core.trajectory.generator import TrajectoryGenerator
from tests.helpers_synthref import tiny_synthref
from training.trainer import load_config, run_training
from training.trainer.attributes import (
    ATTRIBUTES,
    HEADS_LR_FACTOR,
    AttributeHeads,
    attribute_loss,
    clip_matched_pairs,
    frame_matched_pairs,
    object_attribute_ids,
)
from training.trainer.instances import read_video_tracks


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return tiny_synthref(tmp_path_factory.mktemp("synthref"), train=(3, 5))


def test_object_attributes_are_class_indices_and_unknown_is_minus_one():
    names = dict(ATTRIBUTES)
    ids = object_attribute_ids({"shape": "star", "colour": "blue", "size": "small", "texture": "dotted"})
    assert ids == (names["shape"].index("star"), names["colour"].index("blue"), names["size"].index("small"),
                   names["texture"].index("dotted"))
    assert object_attribute_ids({"anno_id": 3}) == (-1, -1, -1, -1)  # MeViS objects: nothing known
    assert object_attribute_ids({"shape": "blob", "colour": "red"})[:2] == (-1, names["colour"].index("red"))


def test_synthref_tracks_carry_each_objects_attributes(root):
    import json

    videos = read_video_tracks(root, "train")
    meta = json.loads((root / "train" / "synthref_meta.json").read_text())["videos"]
    for video in videos:
        objects = {str(o["anno_id"]): o for o in meta[video.video_id]["objects"]}
        assert len(video.attribute_ids) == len(video.anno_ids)
        for anno, ids in zip(video.anno_ids, video.attribute_ids):
            assert ids == object_attribute_ids(objects[anno]) and min(ids) >= 0


def test_attribute_loss_leaves_unknown_out_and_prefers_the_right_classes():
    torch.manual_seed(0)
    heads = AttributeHeads(8)
    emb = torch.randn(6, 8, requires_grad=True)
    right = torch.tensor([[0, 1, 0, 2]] * 6)
    with torch.no_grad():  # make the heads say exactly `right`
        for a, (key, classes) in enumerate(ATTRIBUTES):
            heads.heads[key].weight.zero_()
            heads.heads[key].bias.copy_(torch.nn.functional.one_hot(right[0, a], len(classes)).float() * 10)
    good = attribute_loss(heads, emb, right)
    bad = attribute_loss(heads, emb, (right + 1) % 2)
    assert good < 0.01 < 5 < bad
    unknown = torch.full((6, 4), -1)
    assert attribute_loss(heads, emb, unknown) == 0
    mixed = right.clone()
    mixed[:, 1:] = -1  # only the shape is known: the loss is the shape's alone
    assert attribute_loss(heads, emb, mixed) < 0.01
    attribute_loss(heads, emb, (right + 1) % 2).backward()
    assert emb.grad.abs().sum() == 0  # weights are zero: the gradient reaches the heads' bias only
    assert heads.heads["shape"].bias.grad.abs().sum() > 0


def test_matched_pairs_name_each_querys_object_row():
    present = torch.tensor([[True, True, False], [False, True, True], [True, False, True]])  # [N=3, T=3]
    # Frame 0 has rows 0 and 2 present; its matcher indexes those present rows (0 -> row 0, 1 -> row 2).
    indices = [(torch.tensor([5, 7]), torch.tensor([1, 0])), (torch.tensor([4]), torch.tensor([1])),
               (torch.tensor([], dtype=torch.long), torch.tensor([], dtype=torch.long))]
    frames, queries, rows = frame_matched_pairs(indices, present)
    assert frames.tolist() == [0, 0, 1] and queries.tolist() == [5, 7, 4] and rows.tolist() == [2, 0, 1]
    frames, queries, rows = clip_matched_pairs(torch.tensor([9, 3]), torch.tensor([1, 2]), present)
    assert list(zip(frames.tolist(), queries.tolist(), rows.tolist())) == [(1, 9, 1), (2, 9, 1), (0, 3, 2),
                                                                           (2, 3, 2)]


def _stage(config: str, root: Path, out: Path, weight: float):
    overrides = [f"data.root={root}", "data.split=train", f"out={out}", "model=tiny", "init=null",
                 "batch_size=1", "data.image_size=64", "data.max_samples=3", "schedule.max_steps=2",
                 "checkpoint_every=1", "log_every=1", "num_threads=null", "data.clip_length=3",
                 f"options.attribute_weight={weight}"]
    return run_training(load_config(Path("training/configs") / config, overrides), progress=False)


@pytest.mark.parametrize("config, part", [("synthref_tiny_segmenter.yaml", "segmenter."),
                                          ("synthref_tiny_refiner.yaml", "refiner.")])
def test_the_heads_teach_the_stage_and_stay_out_of_the_export(config, part, root, tmp_path):
    plain = _stage(config, root, tmp_path / "plain", 0.0)
    taught = _stage(config, root, tmp_path / "taught", 2.0)
    rows = list(csv.DictReader((tmp_path / "taught" / "metrics.csv").open()))
    assert len(rows) == 2 and all(float(r["loss_attributes"]) > 0 for r in rows)
    assert "loss_attributes" not in (tmp_path / "plain" / "metrics.csv").read_text()
    heads = {k: v for k, v in taught.model.state_dict().items() if k.startswith("attribute_heads.")}
    # The heads learn in their own group, at HEADS_LR_FACTOR x the stage's lr.
    assert all(float(r["lr/attributes"]) == pytest.approx(HEADS_LR_FACTOR * float(r["lr/rest"]))
               for r in rows)
    assert heads and any(p.grad is not None for n, p in taught.model.named_parameters()
                         if n.startswith("attribute_heads."))
    # Same seed and data: only the attribute term differs, and it reaches the stage's own weights.
    a, b = plain.model.trajectory.state_dict(), taught.model.trajectory.state_dict()
    assert any(not torch.equal(a[k], b[k]) for k in a if k.startswith(part))
    assert all(torch.equal(a[k], b[k]) for k in a if not k.startswith(part))
    exported = load_file(str(taught.export_path))
    assert not any("attribute" in k for k in exported)
    load_strict(TrajectoryGenerator.from_config(TrajectoryConfig.tiny()), exported, "the export")
