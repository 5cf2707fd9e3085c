"""The generic trainer: config parsing, exact resume, logs, schedule, and DDP on CPU (gloo).

A small regression stage (defined here, loaded by "module:Class" like any custom stage) keeps these
tests independent of the model code; the real stages are exercised in test_train_stages.py.
"""
from __future__ import annotations

import csv
import os
import random
import socket

import numpy as np
import pytest
import torch
from torch import nn

from derrvos_core.errors import InputError
from training.trainer import Stage, config_from_dict, load_config, run_training
from training.trainer.checkpoint import latest_checkpoint
from training.trainer.sampler import ResumableSampler
from training.trainer.schedule import lr_factor
from training.trainer.config import ScheduleConfig


class _Regression(nn.Module):
    def __init__(self):
        super().__init__()
        self.multimodal = nn.Linear(4, 8)  # named like the encoder: goes to the low-lr group
        self.drop = nn.Dropout(0.3)  # consumes the torch RNG, so resume must restore it
        self.head = nn.Linear(8, 1)

    def forward(self, x):
        return self.head(self.drop(torch.relu(self.multimodal(x))))


class _Items:
    """Seven samples; each (index, seed) key gives the sample plus seed-driven noise (an "augmentation")."""

    def __init__(self):
        g = torch.Generator().manual_seed(5)
        self.x = torch.randn(7, 4, generator=g)
        self.y = self.x.sum(dim=1, keepdim=True)

    def __len__(self):
        return 7

    def __getitem__(self, key):
        index, seed = key
        noise = float(np.random.default_rng(seed).normal(scale=0.01))
        return self.x[index] + noise, self.y[index], index


class ToyStage(Stage):
    name = "toy"

    def build_model(self, cfg, ctx):
        return _Regression()

    def build_dataset(self, cfg, model, ctx):
        return _Items()

    def collate(self, items):
        xs, ys, idx = zip(*items)
        return torch.stack(xs), torch.stack(ys), torch.tensor(idx)

    def loss(self, model, batch):
        x, y, idx = batch
        # Python's and numpy's global RNGs are used by real stages (tracker noise): resume restores them too.
        scale = 1.0 + 0.1 * random.random() + 0.1 * float(np.random.rand())
        return scale * nn.functional.mse_loss(model(x), y), {"batch_index_sum": float(idx.sum())}


def _cfg(tmp_path, name="toy", **extra):
    raw = {"name": name, "stage": "tests.test_train_loop:ToyStage", "out": str(tmp_path / name),
           "batch_size": 2, "checkpoint_every": 2, "log_every": 1, "seed": 3,
           "optim": {"lr": 0.05, "lr_multimodal": 0.01, "grad_clip": 1.0},
           "schedule": {"max_steps": 5, "decay_steps": [3]}}
    raw.update(extra)
    return config_from_dict(raw)


def _weights(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_resume_continues_exactly(tmp_path):
    # 7 samples, batch 2, drop_last -> 3 steps per epoch, so 5 steps cross an epoch boundary.
    straight = run_training(_cfg(tmp_path, "straight"), progress=False)
    cfg = _cfg(tmp_path, "resumed")
    first = run_training(cfg, max_steps=2, progress=False)
    assert first.export_path is None and latest_checkpoint(cfg.out_dir).name == "step_0000002.pt"
    second = run_training(cfg, resume=True, progress=False)
    assert second.state.step == 5 and second.state.epoch == 1
    a, b = _weights(straight.model), _weights(second.model)
    assert all(torch.equal(a[k], b[k]) for k in a)
    # A fresh (non-resumed) continuation would differ: the check above can fail.
    fresh = run_training(_cfg(tmp_path, "fresh"), max_steps=3, progress=False)
    assert not torch.equal(_weights(fresh.model)["head.weight"], a["head.weight"])
    rows = list(csv.DictReader((cfg.out_dir / "metrics.csv").open()))
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4, 5]  # no duplicated rows after resume
    straight_rows = list(csv.DictReader((straight.out_dir / "metrics.csv").open()))
    assert [r["loss"] for r in rows] == [r["loss"] for r in straight_rows]
    assert any(p.name.startswith("events.out.tfevents") for p in (cfg.out_dir / "tb").iterdir())
    assert (cfg.out_dir / "final" / "model.safetensors").is_file()


def test_two_lr_groups_and_step_decay(tmp_path):
    result = run_training(_cfg(tmp_path, "lr", schedule={"max_steps": 4, "decay_steps": [3]}), progress=False)
    rows = list(csv.DictReader((result.out_dir / "metrics.csv").open()))
    assert float(rows[0]["lr/rest"]) == pytest.approx(0.05) and float(rows[0]["lr/multimodal"]) == pytest.approx(0.01)
    assert float(rows[-1]["lr/rest"]) == pytest.approx(0.005)
    sched = ScheduleConfig(epochs=12, decay_epochs=(8,), warmup_steps=0)
    assert lr_factor(8 * 10 - 1, sched, 10) == 1.0 and lr_factor(8 * 10, sched, 10) == pytest.approx(0.1)


def test_sampler_shards_are_disjoint_and_seeded():
    a = ResumableSampler(10, seed=1, rank=0, world_size=2).epoch_items(0)
    b = ResumableSampler(10, seed=1, rank=1, world_size=2).epoch_items(0)
    assert sorted(i for i, _ in a + b) == list(range(10))
    assert a == ResumableSampler(10, seed=1, rank=0, world_size=2).epoch_items(0)
    assert a != ResumableSampler(10, seed=1, rank=0, world_size=2).epoch_items(1)


def test_config_errors_name_the_key(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\nstage: segmenter\ndata:\n  clip_lenght: 8\n")
    with pytest.raises(InputError, match="clip_lenght"):
        load_config(path)
    path.write_text("name: x\nstage: segmenter\nlr: 0.1\n")
    with pytest.raises(InputError, match="unknown key 'lr'"):
        load_config(path)
    path.write_text("name: x\nstage: segmenter\n")
    cfg = load_config(path, ["data.clip_length=4", "optim.betas=[0.9, 0.99]"])
    assert cfg.data.clip_length == 4 and cfg.optim.betas == (0.9, 0.99)
    with pytest.raises(InputError, match="unknown stage"):
        run_training(config_from_dict({"name": "x", "stage": "nope", "out": str(tmp_path / "x"),
                                       "schedule": {"max_steps": 1}}), progress=False)


def test_stage_options_it_does_not_read_are_refused(tmp_path):
    """Stage 4 takes its trajectories per crop from the model's top_k (as inference does): a `top_k`
    under `options:` would change nothing, so it is refused, naming where top_k lives; every shipped
    config's options are ones its stage reads."""
    from pathlib import Path

    from training.trainer.stage import get_stage

    cfg = load_config("training/configs/synthref_tiny_derrvos.yaml", ["options.top_k=5"])
    with pytest.raises(InputError, match=r"no option 'top_k'.*DeRVOSConfig.top_k"):
        get_stage(cfg.stage).setup(cfg)
    with pytest.raises(InputError, match="no option 'top_k'"):
        run_training(cfg, progress=False)  # before any model or data work
    cfg = load_config("training/configs/synthref_tiny_tracker.yaml", ["options.reid_wieght=1.0"])
    with pytest.raises(InputError, match=r"'reid_wieght'.*guide_fraction, max_stride, reid_weight"):
        get_stage(cfg.stage).setup(cfg)
    for path in sorted(Path("training/configs").glob("*.yaml")):
        shipped = load_config(path)
        stage = get_stage(shipped.stage)
        stage.setup(shipped)
        assert stage.options == shipped.options


def test_numbers_written_without_a_dot_are_numbers(tmp_path):
    """YAML 1.1 reads `2e-4` as a string; the config must still train with lr 0.0002, and a value
    that is no number at all must be refused with the key's name, not fail inside the optimizer."""
    path = tmp_path / "c.yaml"
    path.write_text("name: x\nstage: segmenter\noptim:\n  lr: 2e-4\n")
    cfg = load_config(path, ["optim.lr_multimodal=1e-5", "schedule.max_steps=1e3"])
    assert cfg.optim.lr == pytest.approx(2e-4) and isinstance(cfg.optim.lr, float)
    assert cfg.optim.lr_multimodal == pytest.approx(1e-5)
    assert cfg.schedule.max_steps == 1000 and isinstance(cfg.schedule.max_steps, int)
    with pytest.raises(InputError, match="optim.lr must be a number"):
        load_config(path, ["optim.lr=fast"])
    with pytest.raises(InputError, match="max_steps must be a whole number"):
        load_config(path, ["schedule.max_steps=12.5"])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank: int, world: int, port: int, out: str, result_dir: str) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    from training.trainer.distributed import shutdown_distributed

    cfg = config_from_dict({"name": "ddp", "stage": "tests.test_train_loop:ToyStage", "out": out,
                            "batch_size": 2, "seed": 3, "checkpoint_every": 1, "log_every": 1,
                            "schedule": {"max_steps": 2}})
    result = run_training(cfg, progress=False)
    torch.save({"weights": result.model.state_dict()}, f"{result_dir}/rank{rank}.pt")
    shutdown_distributed()


def test_ddp_two_cpu_processes_hold_equal_weights(tmp_path):
    import torch.multiprocessing as mp

    mp.spawn(_ddp_worker, args=(2, _free_port(), str(tmp_path / "ddp"), str(tmp_path)), nprocs=2, join=True)
    r0 = torch.load(tmp_path / "rank0.pt", weights_only=True)["weights"]
    r1 = torch.load(tmp_path / "rank1.pt", weights_only=True)["weights"]
    torch.manual_seed(3)
    init = _Regression().state_dict()
    assert all(torch.equal(r0[k], r1[k]) for k in r0)
    assert not torch.equal(r0["head.weight"], init["head.weight"])  # a step really happened
    assert latest_checkpoint(tmp_path / "ddp").name == "step_0000002.pt"
