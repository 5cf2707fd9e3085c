"""Training the shipped trajectory branch on (at another input size) and putting it back into a model."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from derrvos_core.errors import CheckpointError, InputError
from derrvos_core.model import load_model
from training.graft_branch import graft
from training.trainer import load_config
from training.trainer.stages.common import (TrajectoryHolder, branch_weights, build_trajectory_holder,
                                           export_trajectory)

SHIPPED = Path("assets/models/derrvos-tiny-synthref")
SEGMENTER = Path("training/configs/synthref_tiny_segmenter.yaml")


@pytest.fixture(scope="module")
def shipped():
    return load_model(str(SHIPPED))


def test_a_stage_can_start_from_a_whole_model_folder(shipped):
    cfg = load_config(SEGMENTER, [f"init={SHIPPED}", "data.image_size=192"])
    holder = build_trajectory_holder(cfg)
    full = shipped.trajectory.state_dict()
    expected = {k: v for k, v in full.items() if not k.startswith("upsampler.")}
    assert len(expected) < len(full)  # the shipped mask upsampler stays behind: it fits the old trajectories
    got = holder.trajectory.state_dict()
    assert got.keys() == expected.keys()
    assert all(torch.equal(got[k], expected[k]) for k in expected)
    assert not holder.trajectory.cfg.upsampler.enabled


def test_graft_replaces_the_branch_and_keeps_the_selector(shipped, tmp_path):
    branch = TrajectoryHolder(shipped.trajectory.cfg)
    with torch.no_grad():
        for p in branch.parameters():
            p.normal_()
    export_trajectory(branch, tmp_path / "branch")
    out = graft(SHIPPED, tmp_path / "branch", tmp_path / "model", input_size=192)
    model = load_model(str(out))
    assert model.cfg.input_size == 192 and shipped.cfg.input_size == 128
    assert model.cfg.threshold == shipped.cfg.threshold
    assert shipped.cfg.trajectory.upsampler.enabled and not model.cfg.trajectory.upsampler.enabled
    new, old = model.state_dict(), shipped.state_dict()
    branch_state = branch.trajectory.state_dict()
    assert all(torch.equal(new[f"trajectory.{k}"], v) for k, v in branch_state.items())
    kept = [k for k in old if not k.startswith("trajectory.")]
    assert kept and all(torch.equal(new[k], old[k]) for k in kept)


def test_graft_takes_the_branch_of_a_whole_model_folder_without_its_upsampler(shipped, tmp_path):
    out = graft(SHIPPED, SHIPPED, tmp_path / "model")  # the shipped model, its upsampler left out
    model = load_model(str(out))
    assert shipped.cfg.trajectory.upsampler.enabled and not model.cfg.trajectory.upsampler.enabled
    expected = branch_weights(shipped.trajectory)
    got = model.trajectory.state_dict()
    assert got.keys() == expected.keys() and all(torch.equal(got[k], expected[k].float()) for k in expected)


def test_graft_names_a_missing_branch(tmp_path):
    with pytest.raises(CheckpointError, match="trajectory.safetensors not found"):
        graft(SHIPPED, tmp_path, tmp_path / "model")


def test_stage_four_builds_its_branch_at_the_configured_input_size(tmp_path):
    from training.trainer.stages.derrvos_model import build_selection_model, derrvos_config

    stage4 = Path("training/configs/synthref_tiny_derrvos.yaml")
    assert derrvos_config(load_config(stage4)).input_size == 128
    assert derrvos_config(load_config(stage4, ["data.image_size=192"])).input_size == 192
    graft(SHIPPED, _shipped_branch(tmp_path), tmp_path / "model192", input_size=192)
    common = ["init=null", "tokenizer=" + str(SHIPPED / "tokenizer.spm"), f"init_trajectory={tmp_path / 'model192'}"]
    model = build_selection_model(load_config(stage4, common + ["data.image_size=192"]), SHIPPED / "tokenizer.spm")
    assert model.cfg.input_size == 192
    with pytest.raises(InputError, match="reads 192-px frames; set data.image_size=192"):
        build_selection_model(load_config(stage4, common), SHIPPED / "tokenizer.spm")
    # from the shipped model itself, mask upsampler and all: stage 4 takes the branch, not the upsampler
    model = build_selection_model(load_config(stage4, common[:2] + [f"init_trajectory={SHIPPED}"]),
                                  SHIPPED / "tokenizer.spm")
    assert model.trajectory.upsampler is None
    expected = branch_weights(load_model(str(SHIPPED)).trajectory)
    assert all(torch.equal(model.trajectory.state_dict()[k], v) for k, v in expected.items())


def _shipped_branch(tmp_path: Path) -> Path:
    branch = load_model(str(SHIPPED)).trajectory
    holder = TrajectoryHolder(branch.cfg)
    holder.trajectory.load_state_dict(branch_weights(branch))
    export_trajectory(holder, tmp_path / "branch")
    return tmp_path / "branch"
