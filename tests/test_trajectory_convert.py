"""Official DVIS++ R50 checkpoint conversion, on a random state dict with the official names and shapes.

`tests/fixtures/dvis_r50_manifest.json` lists [key, shape] of the DVIS++ R50 offline state dict
(OVIS, 25 classes) as the official code builds it; `scripts/trajectory_params.py --write-manifest`
writes it.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from derrvos_core.errors import CheckpointError
from derrvos_core.trajectory import TrajectoryConfig, TrajectoryGenerator
from derrvos_core.trajectory.convert import convert_dvis_state_dict, load_official_dvis

MANIFEST = json.loads((Path(__file__).parent / "fixtures" / "dvis_r50_manifest.json").read_text())
PRED = "segmenter.mask2former.model.transformer_module.decoder.layers"


@pytest.fixture(scope="module")
def official() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {key: torch.randn(shape, generator=g) for key, shape in MANIFEST}


@pytest.fixture(scope="module")
def full_generator() -> TrajectoryGenerator:
    return TrajectoryGenerator.from_config(TrajectoryConfig.full()).eval()


def _millions(prefix: str) -> float:
    return sum(torch.Size(s).numel() for k, s in MANIFEST
               if k.startswith(prefix) and not (k.startswith("backbone.") and ".norm." in k)) / 1e6


def test_manifest_matches_official_figures():
    assert len(MANIFEST) == 882
    assert len({k for k, _ in MANIFEST}) == 882
    assert _millions("backbone.") == pytest.approx(23.5, abs=0.1)
    assert _millions("sem_seg_head.pixel_decoder.") == pytest.approx(6.0, abs=0.05)
    assert _millions("sem_seg_head.predictor.") == pytest.approx(14.7, abs=0.05)
    assert _millions("tracker.") == pytest.approx(26.8, abs=0.05)
    assert _millions("refiner.") == pytest.approx(44.8, abs=0.05)


def test_full_config_parameter_counts(full_generator):
    counts = {name: sum(p.numel() for p in m.parameters()) / 1e6
              for name, m in full_generator.named_children()}
    assert counts["tracker"] == pytest.approx(_millions("tracker."), abs=1e-6)
    assert counts["refiner"] == pytest.approx(_millions("refiner."), abs=1e-6)
    segmenter = _millions("backbone.") + _millions("sem_seg_head.")
    assert counts["segmenter"] == pytest.approx(segmenter, abs=1e-6)


def test_official_state_dict_loads_strictly(full_generator, official):
    load_official_dvis({"model": official}, full_generator)  # wrapped like detectron2's checkpointer
    ours = full_generator.state_dict()
    # every official tensor landed somewhere, unchanged
    in_proj = "sem_seg_head.predictor.transformer_self_attention_layers.3.self_attn.in_proj_"
    assert torch.equal(ours[PRED + ".3.self_attn.q_proj.weight"], official[in_proj + "weight"][:256])
    assert torch.equal(ours[PRED + ".3.self_attn.v_proj.bias"], official[in_proj + "bias"][512:])
    backbone = "segmenter.mask2former.model.pixel_level_module.encoder.encoder.stages"
    assert torch.equal(ours[backbone + ".2.layers.5.layer.1.normalization.running_var"],
                       official["backbone.res4.5.conv2.norm.running_var"])
    assert torch.equal(ours["tracker.ref_proj.layers.2.weight"], official["tracker.ref_proj.layers.2.weight"])
    empty_weight = ours["segmenter.mask2former.criterion.empty_weight"]
    assert torch.equal(empty_weight, official["criterion.empty_weight"])
    converted = convert_dvis_state_dict(official)
    assert len(converted) == len(ours) == 882 + 36  # q/k/v split of 9 in_proj weights and biases
    # the loaded full model runs end to end (random weights: only shapes are meaningful)
    traj = full_generator.generate(torch.rand(1, 3, 64, 64) * 255, top_k=3)
    assert traj.embeddings.shape == (3, 1, 512) and traj.mask_logits.shape == (3, 1, 16, 16)


def test_bare_state_dict_from_file(full_generator, official, tmp_path):
    path = tmp_path / "dvis_r50.pth"
    torch.save(official, path)
    load_official_dvis(path, full_generator)
    assert torch.equal(full_generator.state_dict()["refiner.activation_proj.weight"],
                       official["refiner.activation_proj.weight"])


def test_missing_key_is_named(full_generator, official):
    broken = {k: v for k, v in official.items() if k != "tracker.mask_feature_proj.bias"}
    with pytest.raises(CheckpointError, match="missing") as err:
        load_official_dvis(broken, full_generator)
    assert err.value.missing == ["tracker.mask_feature_proj.bias"]


def test_unexpected_key_is_named(full_generator, official):
    with pytest.raises(CheckpointError, match="unexpected") as err:
        load_official_dvis({**official, "tracker.memory_cross_attn.norm.weight": torch.ones(512),
                            "sem_seg_head.extra.weight": torch.ones(1)}, full_generator)
    assert "sem_seg_head.extra.weight" in err.value.unexpected


def test_wrong_shape_is_named(full_generator, official):
    bad = dict(official)
    bad["refiner.class_embed.weight"] = torch.zeros(41, 512)  # 40 classes instead of 25
    with pytest.raises(CheckpointError, match="refiner.class_embed.weight"):
        load_official_dvis(bad, full_generator)


def test_unsafe_or_missing_file_is_refused(full_generator, tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_official_dvis(tmp_path / "nope.pth", full_generator)
    pickled = tmp_path / "evil.pth"
    torch.save({"model": {"x": torch.ones(1)}, "cfg": object()}, pickled)  # not loadable weights-only
    with pytest.raises(CheckpointError, match="weights-only"):
        load_official_dvis(pickled, full_generator)
