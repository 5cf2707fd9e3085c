"""Every shipped training config loads and trains two steps on fixture data with tiny models.

Full configs (MeViS, Ref-YouTube-VOS, RefCOCO) are exercised through the same overrides a user
would type: `--model-config tiny` plus data overrides pointing at a small generated SynthRef split
(its video split is in the MeViS layout, its image split in the RefCOCO layout).
"""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from derrvos_core.datasets.synthref import SynthRefConfig, generate_synthref
from training.train import main as train_main
from training.trainer import load_config, run_training
from training.trainer.checkpoint import latest_checkpoint

CONFIGS = sorted(Path("training/configs").glob("*.yaml"))
IMAGE_DATASETS = ("refcoco", "refcoco+", "refcocog", "synthref_ris")


@pytest.fixture(scope="module")
def fixture_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synthref")
    cfg = SynthRefConfig(width=64, height=64, min_frames=10, max_frames=12, min_objects=2, max_objects=3,
                         min_expressions=3, max_expressions=4)
    generate_synthref(root, "train", 3, seed=5, config=cfg)
    try:
        from derrvos_core.datasets.synthref_ris import generate_synthref_ris

        generate_synthref_ris(root, 10, seed=5, config=cfg)
    except ImportError:  # pragma: no cover - the RIS writer ships with the generator
        pass
    return root


def _overrides(path: Path, root: Path, out: Path) -> list[str]:
    raw = yaml.safe_load(path.read_text())
    image = raw.get("data", {}).get("dataset", "synthref") in IMAGE_DATASETS
    data = [f"data.root={root / 'ris' if image else root}", "data.split=train",
            f"data.dataset={'synthref_ris' if image else 'synthref'}"]
    return data + [f"out={out}", "model=tiny", "init=null", "init_dvis=null", "init_beit3=null",
                   "tokenizer=null", "data.cache_dir=null", "batch_size=1", "data.image_size=64", "data.max_samples=3",
                   "schedule.max_steps=2", "schedule.epochs=null", "checkpoint_every=1", "log_every=1",
                   "num_threads=null", "data.clip_length=" + str(min(raw.get("data", {}).get("clip_length", 3), 4))]


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_config_loads_and_trains_two_steps(path, fixture_root, tmp_path):
    cfg = load_config(path)  # as shipped
    assert cfg.name == path.stem and cfg.schedule.max_steps or cfg.schedule.epochs
    small = load_config(path, _overrides(path, fixture_root, tmp_path / "run"))
    result = run_training(small, progress=False)
    assert result.state.step == 2
    assert latest_checkpoint(small.out_dir).name == "step_0000002.pt"
    assert (small.out_dir / "metrics.csv").read_text().count("\n") == 3  # header + 2 steps
    assert result.export_path is not None and result.export_path.exists()
    trained = [p for p in result.model.parameters() if p.requires_grad]
    assert trained and all(torch.isfinite(p).all() for p in trained)


def test_cli_resume_and_next_stage_starts_from_previous(fixture_root, tmp_path):
    seg_cfg = Path("training/configs/synthref_tiny_segmenter.yaml")
    out = tmp_path / "seg"
    args = ["--config", str(seg_cfg), "--no-progress"]
    for o in _overrides(seg_cfg, fixture_root, out):
        args += ["--set", o]
    assert train_main(args + ["--max-steps", "1"]) == 0
    assert latest_checkpoint(out).name == "step_0000001.pt" and not (out / "final").exists()
    assert train_main(args + ["--resume"]) == 0
    assert (out / "final" / "trajectory.safetensors").is_file()
    # The tracker stage loads the segmenter it was given and keeps it frozen.
    trk_cfg = Path("training/configs/synthref_tiny_tracker.yaml")
    cfg = load_config(trk_cfg, _overrides(trk_cfg, fixture_root, tmp_path / "trk") + [f"init={out / 'final'}"])
    result = run_training(cfg, progress=False)
    from safetensors.torch import load_file

    seg = load_file(str(out / "final" / "trajectory.safetensors"))
    now = result.model.trajectory.state_dict()
    assert all(torch.equal(now[k], v) for k, v in seg.items() if k.startswith("segmenter."))
    assert any(not torch.equal(now[k], v) for k, v in seg.items() if k.startswith("tracker."))
