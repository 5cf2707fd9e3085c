"""The generic training loop: one stage, one process or many (DDP), resumable exactly."""
from __future__ import annotations

import contextlib
import json
import math
import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader
from tqdm import tqdm

from .checkpoint import TrainState, latest_checkpoint, load_checkpoint, rng_state, save_checkpoint
from .config import TrainConfig
from .distributed import DistContext, all_mean, init_distributed
from .metrics_log import MetricLogger
from .sampler import ResumableSampler
from .schedule import build_scheduler, total_steps
from .stage import Stage, StageModule, get_stage, move_to


@dataclass
class TrainResult:
    """What a finished (or stopped) run leaves behind.

    Attributes:
        model: the trained model (unwrapped, on its device).
        state: step / epoch counters at the end.
        out_dir: the run folder (checkpoints/, metrics.csv, tb/, final/).
        export_path: what the stage exported at the end (None when stopped early by max_steps).
        steps_per_second: measured over this process's steps (excluding the first, warm-up step).
    """

    model: torch.nn.Module
    state: TrainState
    out_dir: Path
    export_path: Path | None
    steps_per_second: float


def run_training(cfg: TrainConfig, resume: bool = False, max_steps: int | None = None,
                 progress: bool = True, stage: Stage | None = None) -> TrainResult:
    """Train `cfg` to its planned length, or stop after `max_steps` total steps (a checkpoint is saved)."""
    ctx = init_distributed()
    if cfg.num_threads and ctx.device.type == "cpu":
        torch.set_num_threads(cfg.num_threads)
    stage = stage or get_stage(cfg.stage)
    stage.setup(cfg)
    out_dir = cfg.out_dir
    if ctx.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "config.json").write_text(cfg.to_json())
    torch.manual_seed(cfg.seed)  # same initial weights on every rank
    model = stage.build_model(cfg, ctx).to(ctx.device)
    dataset = stage.build_dataset(cfg, model, ctx)
    sampler = ResumableSampler(len(dataset), seed=cfg.seed, rank=ctx.rank, world_size=ctx.world_size)
    steps_per_epoch = max(sampler.per_rank() // cfg.batch_size, 1)
    planned = total_steps(cfg.schedule, steps_per_epoch)
    optimizer = torch.optim.AdamW(stage.param_groups(model, cfg), betas=tuple(cfg.optim.betas),
                                  weight_decay=cfg.optim.weight_decay)
    scheduler = build_scheduler(optimizer, cfg.schedule, steps_per_epoch)
    state = TrainState()
    _seed_all(cfg.seed + 1_000 * ctx.rank + 1)  # per-rank dropout / noise streams
    ckpt = latest_checkpoint(out_dir) if resume else None
    if ckpt is not None:
        state, _ = load_checkpoint(ckpt, model, optimizer, scheduler, ctx.device, rank=ctx.rank)
    stop_at = min(planned, max_steps) if max_steps else planned
    wrapped = StageModule(stage, model)
    if ctx.distributed:
        wrapped = DistributedDataParallel(wrapped, device_ids=[ctx.local_rank] if ctx.device.type == "cuda"
                                          else None, find_unused_parameters=stage.find_unused_parameters)
    logger = MetricLogger(out_dir, resume_step=state.step, enabled=ctx.is_main)
    speed = _train_steps(cfg, ctx, stage, wrapped, model, optimizer, scheduler, dataset, sampler, state,
                         stop_at, planned, logger, progress)
    logger.close()
    export_path = None
    if state.step >= planned and ctx.is_main:
        model.eval()
        export_path = stage.export(model, cfg, out_dir / "final")
        (out_dir / "final" / "training.json").write_text(json.dumps(
            {"steps": state.step, "epochs": state.epoch, "steps_per_epoch": steps_per_epoch,
             "world_size": ctx.world_size, "wall_seconds": state.elapsed,
             "steps_per_second_last_session": speed}, indent=2))
    ctx.barrier()
    return TrainResult(model=model, state=state, out_dir=out_dir, export_path=export_path,
                       steps_per_second=speed)


def _seed_all(seed: int) -> None:
    torch.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)


def _autocast(cfg: TrainConfig, device: torch.device):
    use = cfg.amp == "bf16" or (cfg.amp == "auto" and device.type == "cuda")
    return torch.autocast(device.type, dtype=torch.bfloat16) if use else contextlib.nullcontext()


def _train_steps(cfg, ctx: DistContext, stage, wrapped, model, optimizer, scheduler, dataset, sampler,
                 state: TrainState, stop_at: int, planned: int, logger: MetricLogger,
                 progress: bool) -> float:
    bar = tqdm(total=stop_at, initial=state.step, disable=not (progress and ctx.is_main),
               dynamic_ncols=True, desc=cfg.name, mininterval=2.0)
    trained = [p for g in optimizer.param_groups for p in g["params"]]
    timed_steps, timed_seconds = 0, 0.0
    window: dict[str, list[float]] = {}
    session_start, elapsed_before = time.perf_counter(), state.elapsed
    wrapped.train()
    while state.step < stop_at:
        sampler.set_epoch(state.epoch, start=state.epoch_offset)
        loader = DataLoader(dataset, batch_size=cfg.batch_size, sampler=sampler, drop_last=True,
                            collate_fn=stage.collate, num_workers=cfg.data.num_workers,
                            # its own generator: a new loader must not draw from the global RNG
                            generator=torch.Generator().manual_seed(cfg.seed + state.epoch))
        for batch in loader:
            t0 = time.perf_counter()
            stage.progress = state.step / max(planned, 1)  # stages may change behaviour over training
            with _autocast(cfg, ctx.device):
                loss, metrics = wrapped(move_to(batch, ctx.device))
            if not torch.isfinite(loss):
                raise FloatingPointError(f"{cfg.name}: loss is {loss.item()} at step {state.step + 1}")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.optim.grad_clip:
                metrics["grad_norm"] = float(torch.nn.utils.clip_grad_norm_(trained, cfg.optim.grad_clip))
            optimizer.step()
            scheduler.step()
            state.step += 1
            state.epoch_offset += cfg.batch_size
            state.elapsed = elapsed_before + time.perf_counter() - session_start
            dt = time.perf_counter() - t0
            if state.step > 1:
                timed_steps, timed_seconds = timed_steps + 1, timed_seconds + dt
            for k, v in {"loss": float(loss.detach()), **metrics}.items():
                window.setdefault(k, []).append(float(v))
            bar.update(1)
            bar.set_postfix(loss=f"{float(loss.detach()):.4f}", refresh=False)
            if state.step % cfg.log_every == 0 or state.step == stop_at:
                if bar.disable and ctx.is_main:  # background runs: one plain line per logged step
                    print(f"{cfg.name} step {state.step}/{stop_at} epoch {state.epoch} "
                          f"loss {sum(window['loss']) / len(window['loss']):.4f} "
                          f"{timed_steps / max(timed_seconds, 1e-9):.2f} steps/s "
                          f"elapsed {state.elapsed / 60:.1f} min", flush=True)
                _log(ctx, logger, optimizer, state, window, timed_steps, timed_seconds)
                window = {}
            if state.step % cfg.checkpoint_every == 0 or state.step == stop_at:
                _checkpoint(cfg, ctx, model, optimizer, scheduler, state)
            if state.step >= stop_at:
                break
        else:  # epoch exhausted (a resumed run whose offset is at the epoch's end lands here at once)
            state.epoch += 1
            state.epoch_offset = 0
    bar.close()
    return timed_steps / timed_seconds if timed_seconds > 0 else math.nan


def _log(ctx, logger, optimizer, state, window, timed_steps, timed_seconds) -> None:
    metrics = {k: all_mean(sum(v) / len(v), ctx) for k, v in sorted(window.items())}
    for g in optimizer.param_groups:
        metrics[f"lr/{g.get('name', 'group')}"] = g["lr"]
    if timed_seconds > 0:
        metrics["steps_per_second"] = timed_steps / timed_seconds
    logger.log(state.step, state.epoch, metrics)


def _checkpoint(cfg, ctx, model, optimizer, scheduler, state) -> None:
    rngs = [rng_state()]
    if ctx.distributed:
        rngs = [None] * ctx.world_size
        dist.all_gather_object(rngs, rng_state())
    if ctx.is_main:
        save_checkpoint(cfg.out_dir, state, model, optimizer, scheduler, cfg.to_json(), rngs,
                        keep=cfg.keep_checkpoints)
    ctx.barrier()
