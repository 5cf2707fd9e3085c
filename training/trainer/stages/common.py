"""Pieces the trajectory-branch stages share: building the branch, loading earlier stages, freezing.

Stages 1-3 train a `TrajectoryHolder` (the generator under the attribute `trajectory`, so its
parameter names are those it has inside DeRVOS) and export `trajectory.safetensors` +
`trajectory_config.json`; the next stage, and stage 4, start from that folder.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from safetensors.torch import load_file, save_file
from torch import nn

from derrvos_core.errors import CheckpointError, InputError
from derrvos_core.strict_load import load_strict
from derrvos_core.trajectory.config import TrajectoryConfig, UpsamplerConfig
from derrvos_core.trajectory.generator import TrajectoryGenerator

from ..config import TrainConfig
from ..instances import read_video_tracks

TRAJECTORY_WEIGHTS = "trajectory.safetensors"
TRAJECTORY_CONFIG = "trajectory_config.json"


class TrajectoryHolder(nn.Module):
    """The trajectory branch alone, named as inside DeRVOS (`trajectory.*`)."""

    def __init__(self, cfg: TrajectoryConfig):
        super().__init__()
        self.trajectory = TrajectoryGenerator.from_config(cfg)


def without_upsampler_weights(state: dict, prefix: str = "") -> dict:
    """`state` without the mask upsampler's tensors (`<prefix>upsampler.*`; prefix "trajectory." for a
    whole model's state dict)."""
    return {k: v for k, v in state.items() if not k.startswith(f"{prefix}upsampler.")}


def branch_weights(branch: nn.Module) -> dict:
    """A trajectory branch's weights without its mask upsampler: the upsampler was trained on this
    branch's own trajectories, so a stage that starts from the branch leaves it behind (a model built
    from the result gets its own, `training/train_upsampler.py`)."""
    return without_upsampler_weights(branch.state_dict())


def without_upsampler(cfg: TrajectoryConfig) -> TrajectoryConfig:
    return dataclasses.replace(cfg, upsampler=UpsamplerConfig())


def trajectory_config(cfg: TrainConfig) -> TrajectoryConfig:
    """The branch config a training config names: a preset, a model folder or a config.json."""
    name = cfg.model
    if name == "tiny":
        return TrajectoryConfig.tiny()
    if name == "full":
        return TrajectoryConfig.full()
    path = Path(name)
    if path.is_dir():
        path = path / TRAJECTORY_CONFIG if (path / TRAJECTORY_CONFIG).is_file() else path / "config.json"
    if not path.is_file():
        raise InputError(f"model '{name}' is neither 'tiny', 'full' nor a config file or model folder")
    data = json.loads(path.read_text())
    return TrajectoryConfig.from_dict(data.get("trajectory", data))


def build_trajectory_holder(cfg: TrainConfig) -> TrajectoryHolder:
    """The branch, initialised from `init` (an earlier stage's folder, or a DeRVOS model folder whose
    trajectory branch is taken, e.g. to train the shipped branch on at a larger input size) or the
    official DVIS++ weights."""
    if cfg.init and is_model_folder(cfg.init):
        from derrvos_core.model import load_model

        source = load_model(str(cfg.init)).trajectory
        holder = TrajectoryHolder(without_upsampler(source.cfg))
        load_strict(holder.trajectory, branch_weights(source), f"{cfg.init} (its trajectory branch)")
        return holder
    init_cfg = _init_config(cfg)
    holder = TrajectoryHolder(init_cfg or trajectory_config(cfg))
    if cfg.init:
        load_trajectory_weights(holder.trajectory, cfg.init)
    elif cfg.init_dvis:
        from derrvos_core.trajectory.convert import load_official_dvis

        load_official_dvis(cfg.init_dvis, holder.trajectory)
    return holder


def is_model_folder(folder: str | Path) -> bool:
    """A whole DeRVOS model (model.safetensors + config.json) rather than a stage's branch export."""
    folder = Path(folder)
    return not (folder / TRAJECTORY_WEIGHTS).is_file() and (folder / "model.safetensors").is_file()


def _init_config(cfg: TrainConfig) -> TrajectoryConfig | None:
    if cfg.init and (Path(cfg.init) / TRAJECTORY_CONFIG).is_file():
        return TrajectoryConfig.from_json((Path(cfg.init) / TRAJECTORY_CONFIG).read_text())
    return None


def load_trajectory_weights(generator: TrajectoryGenerator, folder: str | Path) -> None:
    """Strictly load an earlier stage's `trajectory.safetensors` into `generator`."""
    path = Path(folder) / TRAJECTORY_WEIGHTS
    if not path.is_file():
        raise CheckpointError(f"{path} not found: train the previous stage first (its <out>/final folder)")
    load_strict(generator, load_file(str(path)), f"{path} (the trajectory branch)")


def export_trajectory(holder: nn.Module, out_dir: Path) -> Path:
    """Write trajectory.safetensors + trajectory_config.json for the next stage."""
    gen = holder.trajectory
    out_dir.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous().cpu() for k, v in gen.state_dict().items()}
    save_file(state, str(out_dir / TRAJECTORY_WEIGHTS))
    (out_dir / TRAJECTORY_CONFIG).write_text(gen.cfg.to_json())
    return out_dir / TRAJECTORY_WEIGHTS


def train_only(model: nn.Module, prefixes: tuple[str, ...]) -> None:
    """requires_grad only for parameters whose name starts with one of `prefixes`; frozen parts in eval()."""
    for name, p in model.named_parameters():
        p.requires_grad_(name.startswith(prefixes))
    if not any(p.requires_grad for p in model.parameters()):
        raise InputError(f"no parameter matches {prefixes}")


def video_tracks(cfg: TrainConfig):
    """Object tracks of the configured split (MeViS layout: MeViS, SynthRef)."""
    if cfg.data.dataset.lower() not in ("synthref", "mevis"):
        raise InputError(f"the trajectory stages read MeViS-layout instance tracks; dataset "
                         f"'{cfg.data.dataset}' is not supported yet (use synthref or mevis)")
    videos = read_video_tracks(cfg.data.root, cfg.data.split)
    return videos[: cfg.data.max_samples] if cfg.data.max_samples else videos
