"""Run length and learning-rate schedule: linear warm-up, then step decay at epoch or step milestones."""
from __future__ import annotations

import math

from torch.optim.lr_scheduler import LambdaLR

from derrvos_core.errors import InputError

from .config import ScheduleConfig


def total_steps(schedule: ScheduleConfig, steps_per_epoch: int) -> int:
    """Planned optimizer steps: max_steps when given, else epochs x steps_per_epoch."""
    if schedule.max_steps is not None:
        return int(schedule.max_steps)
    if schedule.epochs is None:
        raise InputError("schedule needs 'epochs' or 'max_steps'")
    return max(int(math.ceil(schedule.epochs * steps_per_epoch)), 1)


def milestones(schedule: ScheduleConfig, steps_per_epoch: int) -> list[int]:
    """Steps after which the lr is multiplied by decay_factor (epoch milestones converted to steps)."""
    steps = [int(round(e * steps_per_epoch)) for e in schedule.decay_epochs]
    return sorted(steps + [int(s) for s in schedule.decay_steps])


def lr_factor(step: int, schedule: ScheduleConfig, steps_per_epoch: int) -> float:
    """Multiplier of the base lr for the optimizer step after `step` steps have been taken."""
    warm = min(1.0, (step + 1) / schedule.warmup_steps) if schedule.warmup_steps > 0 else 1.0
    passed = sum(1 for m in milestones(schedule, steps_per_epoch) if step >= m)
    return warm * schedule.decay_factor ** passed


def build_scheduler(optimizer, schedule: ScheduleConfig, steps_per_epoch: int) -> LambdaLR:
    """A LambdaLR stepped once per optimizer step (its state is just the step count)."""
    return LambdaLR(optimizer, lambda step: lr_factor(step, schedule, steps_per_epoch))
