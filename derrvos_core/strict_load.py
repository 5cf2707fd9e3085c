"""Strict weight loading, the one check every loader shares (our checkpoints, the official DVIS++ and BEiT-3
files, the training stages' hand-offs and resumed training checkpoints): every tensor the module has must be
given with its shape and nothing extra, or a CheckpointError names the missing, unexpected and mis-shaped
keys. Nothing is loaded unless everything fits (torch's own `strict=False` would load a partial state and
a shape mismatch would surface as a RuntimeError traceback).

Imports only torch and the errors, so any package can use it without an import cycle.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from derrvos_core.errors import CheckpointError

#: How many mis-shaped tensors a message lists before "(+N more)".
SHOWN = 8


def check_fits(expected: Mapping[str, Sequence[int]], found: Mapping[str, Sequence[int]], what: str,
               prefix: str = "") -> None:
    """CheckpointError unless `found` has exactly the names of `expected`, each with the same shape.

    `expected` and `found` map names to shapes (a tensor's `.shape`, or a safetensors header's shape, so
    a file can be checked before any tensor is read); `what` names the file or checkpoint in the message;
    `prefix` is put before every name shown (the checkpoint's own spelling of our keys).
    """
    missing = sorted(prefix + k for k in set(expected) - set(found))
    unexpected = sorted(prefix + k for k in set(found) - set(expected))
    if missing or unexpected:
        raise CheckpointError(f"{what} does not match the model", missing=missing, unexpected=unexpected)
    wrong = [f"{prefix}{k}: checkpoint {tuple(found[k])} vs model {tuple(v)}"
             for k, v in expected.items() if tuple(found[k]) != tuple(v)]
    if wrong:
        more = f" (+{len(wrong) - SHOWN} more)" if len(wrong) > SHOWN else ""
        raise CheckpointError(f"{what} has tensors of the wrong shape for the model: "
                              f"{'; '.join(wrong[:SHOWN])}{more}")


def load_strict(module: torch.nn.Module, state: Mapping[str, torch.Tensor], what: str, prefix: str = "") -> None:
    """Load `state` into `module` after `check_fits` (see there); nothing is loaded when it does not fit."""
    expected = module.state_dict()
    check_fits({k: v.shape for k, v in expected.items()}, {k: v.shape for k, v in state.items()}, what, prefix)
    module.load_state_dict(dict(state), strict=True)
