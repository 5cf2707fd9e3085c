"""Attacks with checkpoint folders (issue 19, item 4): every bad config or weight file is a CheckpointError
naming the cause, found before the model is built (nothing large is allocated)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from derrvos_core.errors import CheckpointError
from derrvos_core.model import checkpoint
from derrvos_core.model.catalog import SYNTHREF_MODEL
from derrvos_core.model.checkpoint import load_checkpoint


@pytest.fixture
def folder(tmp_path) -> Path:
    out = tmp_path / "ckpt"
    shutil.copytree(SYNTHREF_MODEL, out)
    return out


def edit_config(folder: Path, change) -> None:
    data = json.loads((folder / "config.json").read_text())
    change(data)
    (folder / "config.json").write_text(json.dumps(data))


def edit_weights(folder: Path, change) -> None:
    state = load_file(str(folder / "model.safetensors"))
    change(state)
    save_file(state, str(folder / "model.safetensors"))


def never_built(monkeypatch) -> list:
    """Record every model built off the meta device (none may be, for a bad checkpoint)."""
    built, real = [], checkpoint.DeRVOS.from_config

    def spy(cfg, tokenizer_path=None):
        model = real(cfg, tokenizer_path=tokenizer_path)
        if next(model.parameters()).device.type != "meta":
            built.append(cfg.name)
        return model
    monkeypatch.setattr(checkpoint.DeRVOS, "from_config", staticmethod(spy))
    return built


def tracker(key, value):
    return lambda d: d["trajectory"]["tracker"].__setitem__(key, value)


def beit3(key, value):
    return lambda d: d["multimodal"].__setitem__(key, value)


@pytest.mark.parametrize("change, message", [
    (tracker("num_heads", 3), "tracker.num_heads 3 does not divide the width 128"),
    (tracker("dim_feedforward", 2**31), "tracker.dim_feedforward must be in 0..1048576, got 2147483648"),
    (tracker("num_layers", 10**6), "tracker.num_layers must be in 0..64"),
    (tracker("num_heads", 4.0), "tracker.num_heads must be a whole number"),
    (tracker("num_heads", True), "tracker.num_heads must be a whole number, got True"),
    (tracker("dim_feedforward", -1), "must be in 0..1048576, got -1"),
    (beit3("ffn_dim", 1 << 20), "describes 4.3 billion parameters"),
    (beit3("num_heads", 5), "not divisible by num_heads"),
    (beit3("layernorm_eps", float("nan")), "finite"),
    (lambda d: d["trajectory"]["segmenter"]["backbone"].__setitem__("depths", [1, 1, 1, 10**9]), "depths"),
    (lambda d: d.__setitem__("input_size", "big"), "input_size"),
    (lambda d: d.__setitem__("crop_size", 0), "crop_size"),
    (lambda d: d["checkpoint"].__setitem__("tokenizer", "/etc/passwd"), "outside the checkpoint folder"),
    (lambda d: d["checkpoint"].__setitem__("tokenizer", 7), "tokenizer must be a file name"),
    (lambda d: d.pop("checkpoint"), "no 'checkpoint' section"),
])
def test_bad_configs_are_refused_before_the_model_is_built(folder, monkeypatch, change, message):
    edit_config(folder, change)
    built = never_built(monkeypatch)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(folder)
    assert built == []


def test_a_tokenizer_outside_the_folder_is_refused_even_through_a_symlink(folder, monkeypatch):
    outside = folder.parent / "outside.spm"
    shutil.copy(folder / "tokenizer.spm", outside)
    edit_config(folder, lambda d: d["checkpoint"].__setitem__("tokenizer", "../outside.spm"))
    with pytest.raises(CheckpointError, match="outside the checkpoint folder"):
        load_checkpoint(folder)
    (folder / "link.spm").symlink_to(outside)
    edit_config(folder, lambda d: d["checkpoint"].__setitem__("tokenizer", "link.spm"))
    with pytest.raises(CheckpointError, match="outside the checkpoint folder"):
        load_checkpoint(folder)


def poison(value):
    def change(state):
        key = sorted(state)[7]
        state[key] = state[key].clone()
        state[key].view(-1)[0] = value
    return change


@pytest.mark.parametrize("change, message", [
    (poison(float("nan")), "hold NaN or infinite values"),
    (poison(float("inf")), "hold NaN or infinite values"),
    (lambda s: s.__setitem__("trajectory.tracker.decoder_norm.weight", torch.zeros(3)),
     "wrong shape|unexpected"),
    (lambda s: s.pop(sorted(s)[0]), "missing keys"),
    (lambda s: s.__setitem__("extra.weight", torch.zeros(1)), "unexpected keys"),
    (lambda s: s.__setitem__(sorted(k for k in s if s[k].is_floating_point())[0],
                             torch.zeros_like(s[sorted(k for k in s if s[k].is_floating_point())[0]],
                                              dtype=torch.int32)), "wrong kind"),
])
def test_bad_weights_are_refused_before_the_model_is_built(folder, monkeypatch, change, message):
    edit_weights(folder, change)
    built = never_built(monkeypatch)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(folder)
    assert built == []


@pytest.mark.parametrize("content, message", [
    (b"\x00" * 64, "not a readable safetensors"),
    (b"\xff\xff\xff\xff\xff\xff\xff\x7f{}", "not a readable safetensors"),
    (b"", "not a readable safetensors"),
])
def test_garbage_weight_files(folder, content, message):
    (folder / "model.safetensors").write_bytes(content)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(folder)


def test_huge_and_deeply_nested_configs(folder):
    (folder / "config.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(CheckpointError, match="config"):
        load_checkpoint(folder)
    (folder / "config.json").write_text(" " * (checkpoint.MAX_CONFIG_BYTES + 1))
    with pytest.raises(CheckpointError, match="a config is at most"):
        load_checkpoint(folder)


def test_the_shipped_model_still_loads(folder):
    assert load_checkpoint(folder).version == load_checkpoint(SYNTHREF_MODEL).version
