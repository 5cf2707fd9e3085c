"""A seeded, shardable, resumable sampler.

Every epoch is a permutation drawn from (seed, epoch) alone, so the order never depends on what
ran before; each item also carries its own augmentation seed, drawn from (seed, epoch, position),
so random frame sampling and flips do not depend on global RNG state or on worker processes.
Resuming is then exact: start the epoch at the saved offset.
"""
from __future__ import annotations

import math

import torch
from torch.utils.data import Sampler


class ResumableSampler(Sampler):
    """Yields (dataset_index, sample_seed) pairs for one rank of `world_size`.

    Args:
        num_samples: dataset length.
        seed: run seed; the permutation of epoch e depends only on (seed, e).
        rank, world_size: this process's shard (DistributedSampler semantics: the permutation is
            padded by repetition to a multiple of world_size and rank takes every world_size-th item).
        shuffle: permute each epoch (False: dataset order, still with per-item seeds).
    """

    def __init__(self, num_samples: int, seed: int = 0, rank: int = 0, world_size: int = 1,
                 shuffle: bool = True):
        if num_samples <= 0:
            raise ValueError("the training set is empty: no samples to draw")
        self.num_samples = num_samples
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.shuffle = shuffle
        self.epoch = 0
        self.start = 0  # items of this rank's epoch already consumed (set on resume)

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        """Position the sampler at `start` items into `epoch` (for this rank)."""
        self.epoch = epoch
        self.start = start

    def per_rank(self) -> int:
        return math.ceil(self.num_samples / self.world_size)

    def __len__(self) -> int:
        return max(self.per_rank() - self.start, 0)

    def epoch_items(self, epoch: int) -> list[tuple[int, int]]:
        """All (index, seed) pairs of this rank for `epoch`, in order."""
        g = torch.Generator().manual_seed(_mix(self.seed, epoch))
        order = torch.randperm(self.num_samples, generator=g).tolist() if self.shuffle \
            else list(range(self.num_samples))
        total = self.per_rank() * self.world_size
        order = (order * math.ceil(total / len(order)))[:total]
        seeds = torch.randint(0, 2**31 - 1, (total,), generator=g).tolist()
        return list(zip(order, seeds))[self.rank::self.world_size]

    def __iter__(self):
        yield from self.epoch_items(self.epoch)[self.start:]


def _mix(seed: int, epoch: int) -> int:
    # Distinct, well-spread generator seeds per (seed, epoch) pair.
    return (seed * 1_000_003 + epoch * 7_919 + 12_345) % (2**63 - 1)
