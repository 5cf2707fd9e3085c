"""What a training stage provides to the generic loop, and how a stage is found by name.

A stage owns its model construction (which parts are frozen), its data, its loss and what it
writes at the end. The loop owns everything else: optimizer, schedule, checkpoints, logging, DDP.
"""
from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from dataclasses import fields, is_dataclass
from pathlib import Path

import torch
from torch import nn

from derrvos_core.errors import InputError

from .config import TrainConfig
from .distributed import DistContext

# Built-in stages: name -> "module:Class" (imported only when chosen).
STAGES = {
    "segmenter": "training.trainer.stages.segmenter:SegmenterStage",
    "tracker": "training.trainer.stages.tracker:TrackerStage",
    "refiner": "training.trainer.stages.refiner:RefinerStage",
    "derrvos": "training.trainer.stages.derrvos:DeRVOSStage",
    "ris": "training.trainer.stages.ris:RISStage",
}

# Parameter-name prefixes of the multimodal encoder: they form the low-lr group.
MULTIMODAL_PREFIXES = ("multimodal.",)


class Stage(ABC):
    """Base class; subclasses override build_model, build_dataset and loss."""

    name = "stage"
    # DDP must tolerate trained parameters a step does not reach (e.g. heads unused on a clip).
    find_unused_parameters = True
    options: dict = {}
    #: The `options:` keys this stage reads; any other key is refused at setup (a key the stage ignores
    #: would change nothing while looking like a setting). None: not checked (custom stages).
    option_names: frozenset[str] | None = None
    progress: float = 0.0  # fraction of the planned steps done (set by the loop before each step)

    def setup(self, cfg: TrainConfig) -> None:
        """Called once before anything else; keeps the config's stage-specific `options`, InputError
        naming any key this stage does not read."""
        unknown = sorted(set(cfg.options) - self.option_names) if self.option_names is not None else []
        if unknown:
            hint = (" (the trajectories per crop are the model's own top_k, DeRVOSConfig.top_k in the model's "
                    "config.json, as inference uses them)") if "top_k" in unknown else ""
            raise InputError(f"stage '{self.name}' has no option {', '.join(map(repr, unknown))}{hint}; "
                             f"its options are {', '.join(sorted(self.option_names)) or 'none'}")
        self.cfg = cfg
        self.options = dict(cfg.options)

    @abstractmethod
    def build_model(self, cfg: TrainConfig, ctx: DistContext) -> nn.Module:
        """The model this stage trains, with frozen parts already frozen."""

    @abstractmethod
    def build_dataset(self, cfg: TrainConfig, model: nn.Module, ctx: DistContext):
        """A map-style dataset indexed by (index, sample_seed) pairs (see ResumableSampler)."""

    def collate(self, items: list):
        return items

    @abstractmethod
    def loss(self, model: nn.Module, batch) -> tuple[torch.Tensor, dict[str, float]]:
        """(scalar loss to minimise, plain floats to log)."""

    def param_groups(self, model: nn.Module, cfg: TrainConfig) -> list[dict]:
        """AdamW groups: trained multimodal-encoder parameters at lr_multimodal, the rest at lr."""
        multimodal, rest = [], []
        for name, p in model.named_parameters():
            if p.requires_grad:
                (multimodal if name.startswith(MULTIMODAL_PREFIXES) else rest).append(p)
        groups = [{"name": "rest", "params": rest, "lr": cfg.optim.lr},
                  {"name": "multimodal", "params": multimodal, "lr": cfg.optim.lr_multimodal}]
        groups = [g for g in groups if g["params"]]
        if not groups:
            raise InputError(f"stage '{self.name}' left no parameter to train")
        return groups

    def export(self, model: nn.Module, cfg: TrainConfig, out_dir: Path) -> Path:
        """Write the trained model in its final form; the default saves a safetensors state dict."""
        from safetensors.torch import save_file

        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / "model.safetensors"
        save_file({k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}, str(path))
        return path


class StageModule(nn.Module):
    """Wraps a model so DDP sees the stage's loss as the forward pass (and syncs its gradients)."""

    def __init__(self, stage: Stage, model: nn.Module):
        super().__init__()
        self.stage = stage
        self.model = model

    def forward(self, batch):
        return self.stage.loss(self.model, batch)


def get_stage(name: str) -> Stage:
    """A built-in stage by name, or any Stage subclass as "package.module:Class"."""
    target = STAGES.get(name, name)
    if ":" not in target:
        raise InputError(f"unknown stage '{name}' (known: {', '.join(STAGES)}, or module:Class)")
    module, attr = target.split(":", 1)
    try:
        cls = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise InputError(f"cannot load stage '{name}' from {target}: {exc}") from exc
    return cls()


def move_to(batch, device: torch.device):
    """Move every tensor inside lists, tuples, dicts and dataclasses to `device`."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: move_to(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(move_to(v, device) for v in batch)
    if is_dataclass(batch) and not isinstance(batch, type):
        return type(batch)(**{f.name: move_to(getattr(batch, f.name), device) for f in fields(batch)})
    return batch
