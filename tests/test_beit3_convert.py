"""Official BEiT-3 checkpoints: key names and shapes at base size, strict loading, clear errors."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from derrvos_core.errors import CheckpointError
from derrvos_core.multimodal import BEiT3Config, BEiT3Encoder, MultimodalEncoder, load_official_beit3

MANIFEST = Path(__file__).parent / "fixtures" / "beit3_base_keys.json"
SMALL = BEiT3Config(vocab_size=50, embed_dim=32, num_layers=2, num_heads=4, ffn_dim=64,
                    image_size=32, patch_size=16, max_text_positions=12)


def official_keys() -> dict[str, list[int]]:
    return json.loads(MANIFEST.read_text())["keys"]


def test_base_state_dict_equals_the_official_key_list():
    with torch.device("meta"):  # shapes only: no 1 GB of weights, no init time
        model = MultimodalEncoder(BEiT3Config.base())
    ours = {k: list(v.shape) for k, v in model.state_dict().items()}
    official = official_keys()
    assert sorted(ours.keys() - official.keys()) == []
    assert sorted(official.keys() - ours.keys()) == []
    assert ours == official
    assert official["beit3.encoder.embed_positions.A.weight"] == [199, 768]
    assert official["beit3.encoder.embed_positions.B.weight"] == [1024, 768]
    # 12 layers x (4 attention linears + inner LN + 2 LNs + FFN fc1/fc2/LN) x 2 experts x (weight, bias)
    assert sum(k.startswith("beit3.encoder.layers.") for k in official) == 12 * 10 * 2 * 2


def official_style_checkpoint(config: BEiT3Config, seed: int = 0) -> tuple[BEiT3Encoder, dict]:
    torch.manual_seed(seed)
    source = BEiT3Encoder(config).eval()
    return source, {"model": {f"beit3.{k}": v.clone() for k, v in source.state_dict().items()}}


def test_round_trip_through_a_pth_file(tmp_path):
    source, checkpoint = official_style_checkpoint(SMALL)
    checkpoint["optimizer"] = {"step": torch.tensor(3)}  # extra top-level entries are ignored
    path = tmp_path / "beit3_small.pth"
    torch.save(checkpoint, path)
    loaded = load_official_beit3(path, SMALL).eval()
    image, ids = torch.randn(1, 3, 32, 32), torch.tensor([[0, 5, 6, 2]])
    with torch.no_grad():
        assert torch.equal(loaded(image, ids), source(image, ids))


def test_loads_into_an_existing_multimodal_encoder():
    source, checkpoint = official_style_checkpoint(SMALL)
    encoder = MultimodalEncoder(SMALL)
    load_official_beit3(checkpoint["model"], SMALL, into=encoder.beit3)  # bare dict works too
    assert all(torch.equal(v, source.state_dict()[k[len("beit3."):]]) for k, v in encoder.state_dict().items())


def test_missing_and_unexpected_keys_are_named():
    _, checkpoint = official_style_checkpoint(SMALL)
    weights = checkpoint["model"]
    del weights["beit3.encoder.layers.1.ffn.B.fc2.weight"]
    weights["beit3.encoder.layers.7.ffn.A.fc1.weight"] = torch.zeros(1)
    with pytest.raises(CheckpointError) as info:
        load_official_beit3(checkpoint, SMALL)
    assert info.value.missing == ["beit3.encoder.layers.1.ffn.B.fc2.weight"]
    assert info.value.unexpected == ["beit3.encoder.layers.7.ffn.A.fc1.weight"]
    assert "beit3.encoder.layers.1.ffn.B.fc2.weight" in str(info.value)


def test_shape_mismatch_is_named():
    _, checkpoint = official_style_checkpoint(replace(SMALL, vocab_size=60))
    with pytest.raises(CheckpointError, match=r"beit3.text_embed.weight: checkpoint \(60, 32\) vs model \(50, 32\)"):
        load_official_beit3(checkpoint, SMALL)


def test_task_heads_need_explicit_consent():
    _, checkpoint = official_style_checkpoint(SMALL)
    checkpoint["model"]["head.weight"] = torch.zeros(10, 32)
    with pytest.raises(CheckpointError) as info:
        load_official_beit3(checkpoint, SMALL)
    assert info.value.unexpected == ["head.weight"]
    load_official_beit3(checkpoint, SMALL, ignore_task_heads=True)


def test_vision_positions_are_resized_to_the_config():
    _, checkpoint = official_style_checkpoint(SMALL)  # 2 x 2 grid
    bigger = replace(SMALL, image_size=64)  # 4 x 4 grid
    loaded = load_official_beit3(checkpoint, bigger)
    table = loaded.encoder.embed_positions.A.weight
    assert table.shape == (2 + 1 + 16, 32)
    assert torch.equal(table[:3], checkpoint["model"]["beit3.encoder.embed_positions.A.weight"][:3])


class NotATensor:
    pass


def test_unsafe_wrong_and_missing_files(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_official_beit3(tmp_path / "absent.pth", SMALL)
    pickled = tmp_path / "code.pth"
    torch.save({"model": NotATensor()}, pickled)
    with pytest.raises(CheckpointError, match="cannot read"):  # weights_only refuses arbitrary objects
        load_official_beit3(pickled, SMALL)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot read"):
        load_official_beit3(garbage, SMALL)
    other = tmp_path / "dvis.pth"
    torch.save({"model": {"backbone.conv1.weight": torch.zeros(2)}}, other)
    with pytest.raises(CheckpointError, match="not a BEiT-3 checkpoint"):
        load_official_beit3(other, SMALL)
