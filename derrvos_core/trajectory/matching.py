"""Frame-to-frame query matching and the tracker's denoising training noise (DVIS++ `Noiser`)."""
from __future__ import annotations

import torch
from scipy.optimize import linear_sum_assignment


def match_embeddings(reference: torch.Tensor, current: torch.Tensor) -> torch.Tensor:
    """Hungarian match of the current queries to the reference queries on cosine similarity.

    Args:
        reference: float [Q, C]; the previous frame's (matched) query embeddings.
        current: float [Q, C]; this frame's query embeddings.
    Returns:
        LongTensor [Q]: `indices[i]` is the current query assigned to reference slot i, so
        `current[indices]` lines up with `reference`.
    """
    ref = reference.detach().float()
    cur = current.detach().float()
    ref = ref / (ref.norm(dim=1, keepdim=True) + 1e-6)
    cur = cur / (cur.norm(dim=1, keepdim=True) + 1e-6)
    cost = 1.0 - ref @ cur.T  # [Q_ref, Q_cur]
    cost = torch.nan_to_num(cost, nan=0.0).cpu().numpy()
    rows, cols = linear_sum_assignment(cost)
    indices = torch.empty(ref.shape[0], dtype=torch.long)
    indices[torch.as_tensor(rows)] = torch.as_tensor(cols, dtype=torch.long)
    return indices.to(current.device)


def weighted_average_noise(current: torch.Tensor,
                           generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """DVIS++ "weighted average" noise: blend each query with a randomly chosen other one.

    Each slot i gets w_i * q_i + (1 - w_i) * q_perm(i) with w_i ~ U(0, 1). Its identity (the index
    returned) is whichever of the two dominates, so the tracker learns to recover from wrong
    initial matches.

    Args:
        current: float [Q, C]; this frame's (un-normalised) query embeddings.
    Returns:
        (indices LongTensor [Q], noised float [Q, C]).
    """
    q = current.shape[0]
    perm = torch.randperm(q, generator=generator).to(current.device)
    weight = torch.rand(q, 1, generator=generator).to(current)
    noised = current * weight + current[perm] * (1.0 - weight)
    own = torch.arange(q, device=current.device)
    indices = torch.where(weight[:, 0] < 0.5, perm, own)
    return indices, noised
