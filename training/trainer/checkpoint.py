"""Training checkpoints: everything needed to continue a run exactly.

A checkpoint holds the model weights, the optimizer and scheduler state, the RNG states and the
data position (epoch, items consumed in it). It is written atomically (temp file + rename) so a run
killed mid-save leaves the previous checkpoint intact, and read with `weights_only=True`.
"""
from __future__ import annotations

import os
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from derrvos_core.errors import CheckpointError
from derrvos_core.strict_load import load_strict


@dataclass
class TrainState:
    """Progress counters of a run.

    Attributes:
        step: optimizer steps done.
        epoch: current epoch (0-based).
        epoch_offset: items of this rank's share of `epoch` already consumed.
        elapsed: wall-clock seconds spent in the training loop, summed over resumed sessions.
    """

    step: int = 0
    epoch: int = 0
    epoch_offset: int = 0
    elapsed: float = 0.0


def checkpoint_dir(out_dir: Path) -> Path:
    return Path(out_dir) / "checkpoints"


def rng_state() -> dict:
    """This process's RNG states: torch (CPU and every CUDA device), Python's `random`, numpy's global.

    Kept in types `weights_only` loading accepts (tensors, ints, floats, tuples, lists).
    """
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    return {"cpu": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "python": random.getstate(),
            "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(gauss)]}


def set_rng_state(rng: dict) -> None:
    torch.set_rng_state(rng["cpu"].cpu())
    if torch.cuda.is_available() and rng["cuda"]:
        torch.cuda.set_rng_state_all([s.cpu() for s in rng["cuda"]])
    random.setstate(_tuples(rng["python"]))
    kind, keys, pos, has_gauss, gauss = rng["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))


def _tuples(x):
    return tuple(_tuples(v) for v in x) if isinstance(x, (list, tuple)) else x


def save_checkpoint(out_dir: Path, state: TrainState, model: torch.nn.Module, optimizer, scheduler,
                    config_json: str, rng_per_rank: list[dict], keep: int = 2) -> Path:
    """Write checkpoints/step_XXXXXXX.pt and point checkpoints/latest at it; prune old ones.

    `rng_per_rank` holds `rng_state()` of every rank, so each rank of a DDP run resumes its own
    dropout stream (the model and optimizer are identical on all ranks and saved once).
    """
    folder = checkpoint_dir(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    payload = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "rng": [{**r, "cpu": r["cpu"].cpu(), "cuda": [c.cpu() for c in r["cuda"]]} for r in rng_per_rank],
        "step": state.step,
        "epoch": state.epoch,
        "epoch_offset": state.epoch_offset,
        "elapsed": float(state.elapsed),
        "config": config_json,
    }
    path = folder / f"step_{state.step:07d}.pt"
    tmp = path.with_suffix(".pt.tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)
    latest_tmp = folder / "latest.tmp"
    latest_tmp.write_text(path.name)
    os.replace(latest_tmp, folder / "latest")
    for old in sorted(folder.glob("step_*.pt"))[:-keep] if keep > 0 else []:
        old.unlink()
    return path


def latest_checkpoint(out_dir: Path) -> Path | None:
    """The checkpoint `latest` names, or None when the run has none yet."""
    pointer = checkpoint_dir(out_dir) / "latest"
    if not pointer.is_file():
        return None
    path = checkpoint_dir(out_dir) / pointer.read_text().strip()
    if not path.is_file():
        raise CheckpointError(f"{pointer} names {path.name}, which does not exist")
    return path


def load_checkpoint(path: Path, model: torch.nn.Module, optimizer, scheduler,
                    device: torch.device, rank: int = 0) -> tuple[TrainState, str]:
    """Restore model, optimizer, scheduler and RNG states; returns the TrainState and saved config JSON."""
    try:
        payload = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # corrupt or foreign file
        raise CheckpointError(f"cannot read training checkpoint {path}: {exc}") from exc
    load_strict(model, payload["model"], f"training checkpoint {path}")
    optimizer.load_state_dict(payload["optimizer"])
    scheduler.load_state_dict(payload["scheduler"])
    set_rng_state(payload["rng"][rank % len(payload["rng"])])
    state = TrainState(step=int(payload["step"]), epoch=int(payload["epoch"]),
                       epoch_offset=int(payload["epoch_offset"]), elapsed=float(payload.get("elapsed", 0.0)))
    return state, payload["config"]
