"""Multiway routing: vision tokens go through expert A, text tokens through expert B.

Tokens are always laid out vision first, then text, so one integer (`split`, the number of
leading vision tokens) says which expert sees which token. Unlike torchscale, which stores the
split on every module before each call, the split is passed down explicitly: the modules keep no
per-call state, so one model can serve several threads.
"""
from __future__ import annotations

import copy

import torch
from torch import nn


class Multiway(nn.Module):
    """Two copies of a token-wise module: `A` for vision tokens, `B` for text tokens.

    State-dict keys are `A.*` and `B.*`, as in the official checkpoints.
    """

    def __init__(self, module: nn.Module):
        super().__init__()
        self.A = module
        # Same structure; the owning encoder re-initialises every weight afterwards, so B does
        # not stay a copy of A.
        self.B = copy.deepcopy(module)

    def forward(self, x: torch.Tensor, split: int) -> torch.Tensor:
        """x: [B, S, ...]; tokens [:split] are vision, [split:] text. Returns the same shape."""
        return route(self.A, self.B, x, split)


def route(vision: nn.Module, text: nn.Module, x: torch.Tensor, split: int) -> torch.Tensor:
    """Apply `vision` to x[:, :split] and `text` to x[:, split:] and join them again."""
    if split >= x.shape[1]:
        return vision(x)
    if split <= 0:
        return text(x)
    return torch.cat([vision(x[:, :split]), text(x[:, split:])], dim=1)
