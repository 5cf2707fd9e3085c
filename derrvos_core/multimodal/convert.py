"""Load official BEiT-3 checkpoints (`beit3_base_patch16_224.pth`, ...) into `BEiT3Encoder`.

Official files are torch pickles holding the weights under `model` (or `module`, or bare) with keys
`beit3.*`; fine-tuned ones add task heads outside `beit3.`. Our module's keys are the official ones
minus the `beit3.` prefix, so conversion is a prefix strip plus, when the image size differs, the
same bicubic resize of the vision position grid the official fine-tuning code applies.
Files are read with `weights_only=True`: no pickled code ever runs.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch

from derrvos_core.errors import CheckpointError
from derrvos_core.multimodal.beit3 import BEiT3Encoder
from derrvos_core.multimodal.config import POSITION_OFFSET, BEiT3Config
from derrvos_core.multimodal.embeddings import resize_vision_positions
from derrvos_core.strict_load import load_strict

PREFIX = "beit3."
VISION_POSITIONS = "encoder.embed_positions.A.weight"


def read_checkpoint(path_or_state_dict: str | Path | Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The flat tensor dict of an official checkpoint (unwrapped from `model`/`module` if present)."""
    if isinstance(path_or_state_dict, Mapping):
        data = path_or_state_dict
    else:
        path = Path(path_or_state_dict)
        if not path.is_file():
            raise CheckpointError(f"BEiT-3 checkpoint not found: {path}")
        try:
            if path.suffix == ".safetensors":
                from safetensors.torch import load_file

                data = load_file(str(path))
            else:
                data = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # unreadable, truncated, or holds objects other than tensors
            raise CheckpointError(f"cannot read BEiT-3 checkpoint {path}: {exc}") from exc
    for key in ("model", "module"):
        if isinstance(data.get(key), Mapping):
            data = data[key]
            break
    tensors = {k: v for k, v in data.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise CheckpointError("the checkpoint holds no tensors (expected BEiT-3 weights under 'model')")
    return tensors


def convert_official_state_dict(
    state_dict: Mapping[str, torch.Tensor], config: BEiT3Config, ignore_task_heads: bool = False
) -> dict[str, torch.Tensor]:
    """Official `beit3.*` weights -> `BEiT3Encoder` keys, vision positions resized to `config`.

    Keys outside `beit3.` (task heads of fine-tuned checkpoints) raise CheckpointError unless
    `ignore_task_heads`; a checkpoint without any `beit3.` key is not a BEiT-3 checkpoint.
    """
    ours = {k[len(PREFIX):]: v for k, v in state_dict.items() if k.startswith(PREFIX)}
    others = sorted(k for k in state_dict if not k.startswith(PREFIX))
    if not ours:
        raise CheckpointError("not a BEiT-3 checkpoint: no key starts with 'beit3.'", unexpected=others)
    if others and not ignore_task_heads:
        raise CheckpointError(
            "keys outside 'beit3.' (task heads?); pass ignore_task_heads=True to load the encoder only",
            unexpected=others,
        )
    table = ours.get(VISION_POSITIONS)
    if table is not None and table.shape[0] != POSITION_OFFSET + config.num_vision_tokens:
        ours[VISION_POSITIONS] = resize_vision_positions(table, (config.grid_size, config.grid_size))
    return ours


def load_official_beit3(
    path_or_state_dict: str | Path | Mapping[str, torch.Tensor],
    config: BEiT3Config,
    into: BEiT3Encoder | None = None,
    ignore_task_heads: bool = False,
) -> BEiT3Encoder:
    """Build a BEiT3Encoder for `config` (or fill `into`) from an official checkpoint, strictly.

    Raises CheckpointError naming the missing and unexpected keys and any shape mismatch.
    """
    weights = convert_official_state_dict(read_checkpoint(path_or_state_dict), config, ignore_task_heads)
    model = into if into is not None else BEiT3Encoder(config)
    load_strict(model, weights, "BEiT-3 checkpoint", prefix=PREFIX)
    return model
