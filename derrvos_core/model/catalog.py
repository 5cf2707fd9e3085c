"""The shipped models by name, and one `load_model` for every kind of model folder.

    "default" / "real"   the real-video model (assets/models/derrvos-real): COCO detector + tracker +
                         expression reader + fact selector; what the app opens on
    "synthref"           the tiny DeRVOS trained here on SynthRef (assets/models/derrvos-tiny-synthref)
    a folder             a real model folder (config.json kind "real") or a DeRVOS checkpoint
"""
from __future__ import annotations

from pathlib import Path

import torch

from derrvos_core.errors import CheckpointError, InputError

from . import checkpoint
from .real import is_real_folder, load_real_model

#: The shipped models' folder, found from the package (not the working directory).
ASSETS = Path(__file__).resolve().parents[2] / "assets" / "models"
#: The real-video model, the shipped default.
REAL_MODEL = ASSETS / "derrvos-real"
#: The tiny DeRVOS trained on SynthRef (training/train_default.py ships it here).
SYNTHREF_MODEL = ASSETS / "derrvos-tiny-synthref"
#: Shipped model names and their folders ("default" is the real model).
SHIPPED = {"real": REAL_MODEL, "synthref": SYNTHREF_MODEL}
DEFAULT_NAME = "real"


def model_folder(path_or_name: str | Path) -> Path:
    """The folder a name or path means; CheckpointError naming the choices when it is neither."""
    name = str(path_or_name)
    name = DEFAULT_NAME if name == "default" else name
    if name in SHIPPED:
        return SHIPPED[name]
    folder = Path(path_or_name)
    if not folder.exists():
        raise CheckpointError(f"{folder}: no such model folder; use a folder, or one of "
                              f"{', '.join(['default', *SHIPPED])}")
    return folder


def load_model(path_or_name: str | Path = "default", device: str | torch.device = "cpu"):
    """The model a name or folder means, ready for inference (see the module docstring)."""
    on = parse_device(device)
    folder = model_folder(path_or_name)
    if is_real_folder(folder):
        if on.type != "cpu":
            raise CheckpointError(f"{folder.name}: the real model runs on the CPU (ONNX Runtime), not on "
                                  f"{device!r}; leave --device at cpu")
        return load_real_model(folder)
    return checkpoint.load_checkpoint(folder, device=on)


def parse_device(device: str | torch.device) -> torch.device:
    """`device` as a torch device; InputError naming it when torch knows no such device."""
    if isinstance(device, torch.device):
        return device
    try:
        return torch.device(device)
    except (RuntimeError, TypeError, ValueError) as err:
        raise InputError(f"device {device!r} is not a device: use cpu, cuda, cuda:N or mps") from err
