"""Training configuration: one YAML file per stage, read into frozen dataclasses and saved as JSON.

Unknown keys are errors (a typo in a config must not silently train with a default), and every
field can be overridden from the command line with `--set section.field=value` (value parsed as YAML).
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from derrvos_core.errors import InputError


@dataclass(frozen=True)
class DataConfig:
    """Where the training samples come from and how clips are cut from them."""

    dataset: str = "synthref"  # reader name for derrvos_core.datasets.open_dataset (or "fixture")
    root: str = "data/synthref"  # dataset root folder
    split: str = "train"  # split read for training
    clip_length: int = 8  # T: frames randomly sampled per training clip (paper: 8); 1 for image data
    image_size: int = 128  # frames are resized to image_size x image_size (model input size)
    flip_prob: float = 0.5  # horizontal flip probability; a flip swaps "left"/"right" in the text
    max_samples: int | None = None  # use only the first N samples (smoke runs, tests)
    num_workers: int = 0  # DataLoader worker processes
    cache_dir: str | None = None  # stage 4: frozen trajectory outputs cached here (default: <out>/cache)


@dataclass(frozen=True)
class OptimConfig:
    """AdamW with two learning-rate groups: the multimodal encoder and everything else trained."""

    lr: float = 1e-4  # learning rate of every trained parameter outside the multimodal encoder
    lr_multimodal: float = 1e-5  # learning rate of the multimodal encoder (BEiT-3) parameters
    weight_decay: float = 0.05
    betas: tuple[float, float] = (0.9, 0.999)
    grad_clip: float | None = 1.0  # max global gradient norm; None disables clipping


@dataclass(frozen=True)
class ScheduleConfig:
    """Length of training and the step-decay schedule. Give `epochs` or `max_steps` (steps win)."""

    epochs: float | None = None  # passes over the training set
    max_steps: int | None = None  # optimizer steps; overrides epochs when both are set
    decay_epochs: tuple[float, ...] = ()  # multiply lr by decay_factor after each of these epochs
    decay_steps: tuple[int, ...] = ()  # the same, in optimizer steps
    decay_factor: float = 0.1
    warmup_steps: int = 0  # linear warm-up from 0 over the first steps


@dataclass(frozen=True)
class TrainConfig:
    """One training run of one stage."""

    name: str  # run name; checkpoints and logs go to `out` (default runs/<name>)
    stage: str  # segmenter | tracker | refiner | derrvos | ris, or "package.module:Class" for a custom stage
    model: str = "tiny"  # DeRVOSConfig preset ("tiny" | "full") or a path to a config.json
    init: str | None = None  # model directory (our format) to start from, e.g. the previous stage's output
    init_trajectory: str | None = None  # DeRVOS model folder whose trajectory branch only is loaded (stage 4)
    tais: dict = field(default_factory=dict)  # overrides of the model's TAISConfig fields, e.g. {num_layers: 1}
    init_dvis: str | None = None  # official DVIS++ checkpoint (.pth) loaded into the trajectory branch
    init_beit3: str | None = None  # official BEiT-3 checkpoint (.pth) loaded into the multimodal encoder
    tokenizer: str | None = None  # sentencepiece model; None: train one on the training expressions (tiny)
    out: str | None = None
    seed: int = 0
    batch_size: int = 2  # samples per optimizer step per process (per GPU under DDP)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    checkpoint_every: int = 500  # optimizer steps between training checkpoints
    keep_checkpoints: int = 2  # most recent training checkpoints kept on disk
    log_every: int = 10  # steps between metric rows (CSV, TensorBoard)
    amp: str = "auto"  # "auto": bf16 autocast on CUDA, off on CPU; "bf16"; "off"
    num_threads: int | None = None  # torch.set_num_threads on CPU (None: leave torch's default)
    options: dict = field(default_factory=dict)  # stage-specific settings (documented by each stage)

    @property
    def out_dir(self) -> Path:
        return Path(self.out or f"runs/{self.name}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)


_SECTIONS = {"data": DataConfig, "optim": OptimConfig, "schedule": ScheduleConfig}


def config_from_dict(raw: dict, source: str = "<dict>") -> TrainConfig:
    """A TrainConfig from nested plain values; unknown or missing keys raise InputError naming them."""
    if not isinstance(raw, dict):
        raise InputError(f"{source}: a training config must be a mapping, got {type(raw).__name__}")
    kwargs: dict[str, Any] = {}
    top = {f.name for f in dataclasses.fields(TrainConfig)}
    for key, value in raw.items():
        if key not in top:
            raise InputError(f"{source}: unknown key '{key}' (known: {', '.join(sorted(top))})")
        if key in _SECTIONS:
            kwargs[key] = _section(_SECTIONS[key], value or {}, f"{source}: {key}")
        else:
            kwargs[key] = value
    for required in ("name", "stage"):
        if required not in kwargs:
            raise InputError(f"{source}: missing required key '{required}'")
    return TrainConfig(**kwargs)


def _section(cls, raw: dict, where: str):
    if not isinstance(raw, dict):
        raise InputError(f"{where} must be a mapping")
    names = {f.name: f for f in dataclasses.fields(cls)}
    for key in raw:
        if key not in names:
            raise InputError(f"{where}: unknown key '{key}' (known: {', '.join(sorted(names))})")
    # YAML gives lists; tuples keep the dataclass hashable and frozen in spirit.
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()}
    return cls(**{k: _number(v, names[k].type, f"{where}.{k}") for k, v in values.items()})


def _number(value: Any, annotation: str, where: str) -> Any:
    """`value` as the float or int its field declares. YAML 1.1 reads `2e-4` (no dot) as a string,
    which would otherwise reach the optimizer and fail deep inside it, or train with a wrong type."""
    kind = annotation.split("|")[0].strip()
    if kind not in ("float", "int") or value is None or isinstance(value, bool):
        return value
    if kind == "float" and isinstance(value, (int, float)):
        return float(value)
    if kind == "int" and isinstance(value, int):
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{where} must be a number ({kind}), got {value!r}") from None
    if kind == "int":
        if not number.is_integer():
            raise InputError(f"{where} must be a whole number, got {value!r}")
        return int(number)
    return number


def load_config(path: str | Path, overrides: list[str] | None = None) -> TrainConfig:
    """Read a YAML config and apply `section.field=value` overrides (values parsed as YAML)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"training config not found: {path}")
    raw = yaml.safe_load(path.read_text()) or {}
    for item in overrides or []:
        if "=" not in item:
            raise InputError(f"override '{item}' must look like section.field=value")
        dotted, text = item.split("=", 1)
        node = raw
        *parents, leaf = dotted.strip().split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = yaml.safe_load(text)
    return config_from_dict(raw, source=str(path))
