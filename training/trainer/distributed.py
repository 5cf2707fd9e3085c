"""Process-group setup for `torchrun --nproc_per_node=K`: NCCL on GPUs, gloo on CPUs.

A plain `python training/train.py` run is a world of one and never touches torch.distributed.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistContext:
    """Where this process sits in the run.

    Attributes:
        rank, world_size, local_rank: torchrun's RANK, WORLD_SIZE, LOCAL_RANK (0, 1, 0 when alone).
        device: this process's device (cuda:LOCAL_RANK on GPUs, else cpu).
    """

    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()


def init_distributed(device: str | None = None) -> DistContext:
    """Join the process group torchrun describes in the environment (idempotent)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() and device != "cpu"
    if use_cuda:
        torch.cuda.set_device(local)
        dev = torch.device("cuda", local)
    else:
        dev = torch.device("cpu")
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo", rank=rank, world_size=world)
    return DistContext(rank=rank, world_size=world, local_rank=local, device=dev)


def shutdown_distributed() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def all_mean(value: float, ctx: DistContext) -> float:
    """The mean of a scalar over all ranks (for logging)."""
    if not ctx.distributed:
        return value
    t = torch.tensor([value], dtype=torch.float64, device=ctx.device)
    dist.all_reduce(t)
    return float(t.item()) / ctx.world_size
