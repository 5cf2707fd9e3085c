"""DeRVOSConfig, the DeRVOS module and our checkpoint format: round trips and strict-load errors."""
from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from derrvos_core.errors import CheckpointError, InputError
from derrvos_core.model import DeRVOS, DeRVOSConfig, catalog, checkpoint, load_checkpoint
from derrvos_core.multimodal import train_sentencepiece

SENTENCES = ["the red circle moving left", "the blue square standing still",
             "a small green triangle turning around", "the big yellow star leaving the scene",
             "the object that stops first", "the two squares on the right"]


def small_config() -> DeRVOSConfig:
    """The tiny preset at 64 px, so tests stay fast; every part keeps its structure."""
    return dataclasses.replace(DeRVOSConfig.tiny(), input_size=64, multimodal_image_size=64)


def build_model(tokenizer: Path | None = None, seed: int = 0) -> DeRVOS:
    torch.manual_seed(seed)
    return DeRVOS.from_config(small_config(), tokenizer_path=tokenizer).eval()


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def spm_file(tmp_path_factory) -> Path:
    return train_sentencepiece(SENTENCES * 4, tmp_path_factory.mktemp("spm") / "expressions", vocab_size=60)


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> Path:
    """A byte-tokenizer model saved once; tests copy it before breaking it."""
    return build_model().save(tmp_path_factory.mktemp("ckpt") / "tiny")


def broken_copy(saved: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(saved, tmp_path / "copy"))


def test_configs_round_trip_and_agree():
    for cfg in (DeRVOSConfig.tiny(), DeRVOSConfig.full(), small_config()):
        assert DeRVOSConfig.from_dict(json.loads(cfg.to_json())) == cfg
    full = DeRVOSConfig.full()
    assert (full.tais.num_layers, full.tais.width, full.top_k) == (3, 256, 20)
    assert (full.threshold, full.crop_size) == (0.7, 36)
    assert full.tais.trajectory_dim == 512 and full.tais.token_dim == 768
    with pytest.raises(InputError, match="trajectory_dim"):
        dataclasses.replace(DeRVOSConfig.tiny(), tais=DeRVOSConfig.full().tais)
    with pytest.raises(InputError, match="unknown config keys"):
        DeRVOSConfig.from_dict({**DeRVOSConfig.tiny().to_dict(), "extra": 1})
    with pytest.raises(InputError, match="not valid JSON"):
        DeRVOSConfig.from_json("{")


def test_a_checkpoint_config_reads_as_a_config(saved):
    assert DeRVOSConfig.from_json((saved / "config.json").read_text()) == small_config()


def test_save_and_load_with_sentencepiece(spm_file, tmp_path):
    model = build_model(spm_file)
    folder = model.save(tmp_path / "m")
    assert {p.name for p in folder.iterdir()} == {"model.safetensors", "config.json", "tokenizer.spm",
                                                  "MODEL_CARD.md"}
    loaded = load_checkpoint(folder)
    assert not loaded.training and loaded.cfg == model.cfg
    assert loaded.version == model.version and loaded.version.startswith("derrvos-tiny-")
    assert model.version in (folder / "MODEL_CARD.md").read_text()
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    text = "the red circle"
    assert torch.equal(loaded.multimodal.read(text).ids, model.multimodal.read(text).ids)
    assert loaded.multimodal.tokenizer.tokenize("the red circle") == ["▁the", "▁red", "▁circle"]
    long = loaded.multimodal.read(" ".join(SENTENCES))
    assert long.truncated and " ".join(SENTENCES).startswith(long.text) and len(long.text) > 20
    assert int((~long.padding_mask).sum()) == loaded.cfg.max_text_len


def test_fp16_checkpoint_loads_as_fp32(saved, tmp_path):
    model = load_checkpoint(saved)
    folder = model.save(tmp_path / "half", dtype=torch.float16, card_text="# shipped\n")
    assert (folder / "MODEL_CARD.md").read_text() == "# shipped\n"
    stored = load_file(str(folder / "model.safetensors"))
    assert stored["tais.token_proj.1.weight"].dtype == torch.float16
    half = load_checkpoint(folder)
    weight = half.tais.token_proj[1].weight
    assert weight.dtype == torch.float32
    assert torch.equal(weight, model.tais.token_proj[1].weight.half().float())
    assert half.version != model.version  # rounded weights are other weights
    assert half.version == f"derrvos-tiny-{checkpoint._saved_hash(folder)}"


def test_version_names_the_weights(saved):
    model = load_checkpoint(saved)
    before = model.version
    with torch.no_grad():
        model.tais.selectors[0].relevance.bias.add_(1.0)
    assert model.version == before  # computed once ...
    assert model.refresh_version() != before  # ... and again on request


def test_missing_key_is_named(saved, tmp_path):
    folder = broken_copy(saved, tmp_path)
    state = load_file(str(folder / "model.safetensors"))
    del state["tais.layers.1.ffn.0.weight"]
    save_file(state, str(folder / "model.safetensors"))
    with pytest.raises(CheckpointError, match="tais.layers.1.ffn.0.weight") as err:
        load_checkpoint(folder)
    assert err.value.missing == ["tais.layers.1.ffn.0.weight"] and err.value.unexpected == []


def test_unexpected_key_is_named(saved, tmp_path):
    folder = broken_copy(saved, tmp_path)
    state = load_file(str(folder / "model.safetensors"))
    state["tais.extra_head.weight"] = torch.zeros(3)
    save_file(state, str(folder / "model.safetensors"))
    with pytest.raises(CheckpointError, match="unexpected keys") as err:
        load_checkpoint(folder)
    assert err.value.unexpected == ["tais.extra_head.weight"]


def test_wrong_shape_is_named(saved, tmp_path):
    folder = broken_copy(saved, tmp_path)
    state = load_file(str(folder / "model.safetensors"))
    state["tais.token_proj.1.bias"] = torch.zeros(7)
    save_file(state, str(folder / "model.safetensors"))
    with pytest.raises(CheckpointError, match=r"tais.token_proj.1.bias: checkpoint \(7,\) vs model \(96,\)"):
        load_checkpoint(folder)


def test_config_that_does_not_fit_the_weights(saved, tmp_path):
    folder = broken_copy(saved, tmp_path)
    data = json.loads((folder / "config.json").read_text())
    data["tais"]["num_layers"] = 2
    (folder / "config.json").write_text(json.dumps(data))
    with pytest.raises(CheckpointError, match="does not match the model") as err:
        load_checkpoint(folder)
    assert "tais.layers.2.ffn.0.weight" in err.value.unexpected


@pytest.mark.parametrize("damage, message", [
    (lambda f: (f / "config.json").unlink(), "missing config.json"),
    (lambda f: (f / "model.safetensors").unlink(), "missing model.safetensors"),
    (lambda f: (f / "config.json").write_text("{not json"), "not readable JSON"),
    (lambda f: (f / "config.json").write_text("{}"), "not a DeRVOS checkpoint"),
    (lambda f: (f / "model.safetensors").write_bytes(b"\x00" * 20), "not a readable safetensors"),
    (lambda f: _edit_config(f, lambda d: d["tais"].update(colour="red")), "unknown config keys"),
    (lambda f: _edit_config(f, lambda d: d["checkpoint"].update(tokenizer="tokenizer.spm")),
     "tokenizer.spm, which is missing"),
])
def test_broken_checkpoint_folders(saved, tmp_path, damage, message):
    folder = broken_copy(saved, tmp_path)
    damage(folder)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(folder)


def _edit_config(folder: Path, change) -> None:
    data = json.loads((folder / "config.json").read_text())
    change(data)
    (folder / "config.json").write_text(json.dumps(data))


def test_missing_paths(tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint folder"):
        load_checkpoint(tmp_path / "nowhere")
    (tmp_path / "file.safetensors").write_bytes(b"")
    with pytest.raises(CheckpointError, match="not a file"):
        load_checkpoint(tmp_path / "file.safetensors")
    with pytest.raises(CheckpointError, match="no such checkpoint folder"):
        load_checkpoint("synthref")  # a checkpoint is a folder; names are the catalog's


def test_default_is_the_real_model_and_folders_resolve_from_the_package(saved, tmp_path, monkeypatch):
    repo = Path(catalog.__file__).resolve().parents[2]
    assert catalog.model_folder("default") == catalog.model_folder("real") == repo / "assets/models/derrvos-real"
    assert catalog.model_folder("synthref") == repo / "assets" / "models" / "derrvos-tiny-synthref"
    monkeypatch.setitem(catalog.SHIPPED, "synthref", saved)
    monkeypatch.chdir(tmp_path)
    assert catalog.load_model("synthref").cfg == small_config()
    monkeypatch.setitem(catalog.SHIPPED, "synthref", tmp_path / "gone")
    with pytest.raises(CheckpointError, match="gone: no such checkpoint folder"):
        catalog.load_model("synthref")


@pytest.mark.parametrize("name", ["real", "synthref"])
def test_an_unknown_device_is_named_not_a_traceback(name):
    with pytest.raises(InputError, match="device 'abacus' is not a device"):
        catalog.load_model(name, device="abacus")


def test_the_two_top_k_must_agree():
    with pytest.raises(InputError, match="top_k 5 and trajectory.top_k 20 differ"):
        dataclasses.replace(DeRVOSConfig.tiny(), top_k=5)
