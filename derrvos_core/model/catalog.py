"""The shipped models by name, and one `load_model` for every kind of model folder.

    "default" / "real"   the real-video model (assets/models/derrvos-real): COCO detector + tracker +
                         expression reader + fact selector; what the app opens on
    "synthref"           the tiny DeRVOS trained here on SynthRef (assets/models/derrvos-tiny-synthref)
    a folder             a real model folder (config.json kind "real") or a DeRVOS checkpoint
"""
from __future__ import annotations

from pathlib import Path

import torch

from derrvos_core.errors import CheckpointError

from . import checkpoint
from .real import is_real_folder, load_real_model

ASSETS = Path(__file__).resolve().parents[2] / "assets" / "models"
REAL_MODEL = ASSETS / "derrvos-real"
#: Shipped model names and their folders ("default" is the real model).
SHIPPED = {"real": REAL_MODEL, "synthref": checkpoint.DEFAULT_MODEL}
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
    folder = model_folder(path_or_name)
    if is_real_folder(folder):
        if torch.device(device).type != "cpu":
            raise CheckpointError(f"{folder.name}: the real model runs on the CPU (ONNX Runtime); "
                                  f"leave --device at cpu")
        return load_real_model(folder)
    return checkpoint.load_model(folder, device=device)
