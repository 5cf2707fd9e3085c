"""Train a DeRVOS model's image-guided mask upsampler on its own trajectories (resumable).

    python training/train_upsampler.py --checkpoint runs/synthref_tiny_derrvos_phase2/final \
        --root data/synthref --work runs/upsampler --out runs/upsampler/final

The model's trajectory branch runs once over the first `--frames` frames of each of the first
`--videos` train videos (and valid videos, for the report); each ground-truth object is paired with
the trajectory that overlaps it best over the clip (IoU of the bilinearly upsampled masks), and every
`--every`-th frame where the object is visible becomes one example: the branch's prepared frame, that
trajectory's logits, the object's mask at the input size. The upsampler
(`derrvos_core.trajectory.upsampler`) learns the residual from the frame with BCE + dice; everything
else stays frozen. Examples are kept in `--work` (pairs_*.npz) and the training state every
`--save-every` steps, both named after a hash of the branch's weights, so a re-run continues and another
branch never reuses them. The output is the input model with the upsampler in its config and weights.
Prints the valid examples' mean IoU: bilinear (what the model outputs without an upsampler) and upsampled.

Only the branch matters, so the upsampler can be trained while stage 4 trains on the same frozen branch:

    python training/train_upsampler.py --checkpoint runs/synthref_tiny_refiner_192/final --input-size 192 \
        --work runs/upsampler                      # a stage 1-3 output: trains, writes no model
    python training/train_upsampler.py --checkpoint runs/synthref_tiny_derrvos_phase2/final \
        --work runs/upsampler --out runs/upsampler/final   # same branch: resumes at the last step, attaches
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from derrvos_core.datasets import open_dataset  # noqa: E402
from derrvos_core.metrics import mean_iou as masks_mean_iou  # noqa: E402
from derrvos_core.model import DeRVOS, load_model  # noqa: E402
from derrvos_core.model.derrvos import weights_hash  # noqa: E402
from derrvos_core.tais.losses import clip_ious  # noqa: E402
from derrvos_core.trajectory.branch import DVISBranch  # noqa: E402
from derrvos_core.trajectory.config import TrajectoryConfig, UpsamplerConfig  # noqa: E402
from derrvos_core.trajectory.upsampler import MaskUpsampler  # noqa: E402
from training.script import script_main  # noqa: E402
from training.trainer.instances import expression_objects  # noqa: E402
from training.trainer.stages.common import (TRAJECTORY_CONFIG, TRAJECTORY_WEIGHTS,  # noqa: E402
                                           branch_weights, load_trajectory_weights, without_upsampler,
                                           without_upsampler_weights)


def collect(branch: DVISBranch, dataset, videos: int, frames: int, every: int) -> dict[str, np.ndarray]:
    """The examples of one split (see the module docstring)."""
    images, logits, truths = [], [], []
    with torch.inference_mode():
        for load, objects in expression_objects(dataset, videos):
            clip = load()[:frames]
            prepared = branch.prepare(clip)
            traj, _ = branch.trajectories(branch.frame_features(prepared), branch.new_session())
            side = prepared.shape[-2:]
            up = F.interpolate(traj.mask_logits.float(), size=side, mode="bilinear", align_corners=False) > 0
            for track in objects.values():
                truth = F.interpolate(torch.from_numpy(track[:len(clip)]).float()[:, None], size=side,
                                      mode="area")[:, 0] >= 0.5
                best = int(clip_ious(up, truth)[:, 0].argmax())
                for t in range(0, len(clip), every):
                    if truth[t].any():
                        images.append(prepared[t].round().clamp(0, 255).to(torch.uint8).numpy())
                        logits.append(traj.mask_logits[best, t].float().numpy().astype(np.float16))
                        truths.append(truth[t].numpy())
    if not truths:
        return {}
    return {"images": np.stack(images), "logits": np.stack(logits), "truths": np.stack(truths)}


def cached_pairs(path: Path, make) -> dict[str, np.ndarray]:
    if path.is_file():
        with np.load(path) as data:
            return dict(data)
    pairs = make()
    if pairs:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path.with_suffix(".tmp.npz"), **pairs)
        path.with_suffix(".tmp.npz").replace(path)
    return pairs


def batch(pairs: dict, index: np.ndarray, flip: bool = False) -> tuple[torch.Tensor, ...]:
    images = torch.from_numpy(pairs["images"][index]).float()
    logits = torch.from_numpy(pairs["logits"][index].astype(np.float32))
    truths = torch.from_numpy(pairs["truths"][index]).float()
    if flip:
        images, logits, truths = images.flip(-1), logits.flip(-1), truths.flip(-1)
    return images, logits, truths


def mask_loss(pred: torch.Tensor, truths: torch.Tensor) -> torch.Tensor:
    """BCE + dice of logits `pred` [B, h, w], bilinearly upsampled to the truths' size [B, H, W]."""
    pred = F.interpolate(pred[:, None], size=truths.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
    bce = F.binary_cross_entropy_with_logits(pred, truths)
    prob, flat = torch.sigmoid(pred).flatten(1), truths.flatten(1)
    dice = 1 - (2 * (prob * flat).sum(1) + 1) / (prob.sum(1) + flat.sum(1) + 1)
    return bce + dice.mean()


def mean_iou(upsampler: MaskUpsampler | None, pairs: dict, windows: bool = False, chunk: int = 128) -> float:
    """Mean IoU of the examples' masks: the bilinear upsampling of the logits (None), the upsampler on
    whole frames (as trained), or with `windows` as a run applies it (`MaskUpsampler.upsample`)."""
    predicted = []
    with torch.inference_mode():
        for start in range(0, len(pairs["truths"]), chunk):
            images, logits, truths = batch(pairs, np.arange(start, min(start + chunk, len(pairs["truths"]))))
            if upsampler is None:
                pred = logits
            else:
                pred = upsampler.upsample(images, logits[None])[0] if windows else upsampler(images, logits)
            masks = F.interpolate(pred[:, None], size=truths.shape[-2:], mode="bilinear",
                                  align_corners=False)[:, 0] > 0
            predicted += zip((truths > 0).numpy(), masks.numpy())
    return masks_mean_iou(predicted)


def with_upsampler(model: DeRVOS, cfg: UpsamplerConfig) -> DeRVOS:
    """`model` rebuilt with an (untrained) upsampler of `cfg` (none: channels 0), the other weights copied."""
    trajectory = dataclasses.replace(model.cfg.trajectory, upsampler=cfg)
    new_cfg = dataclasses.replace(model.cfg, trajectory=trajectory)
    out = DeRVOS.from_config(new_cfg, tokenizer_path=model.multimodal.tokenizer_path)
    missing, unexpected = out.load_state_dict(without_upsampler_weights(model.state_dict(), "trajectory."),
                                              strict=False)
    if unexpected or any(not k.startswith("trajectory.upsampler.") for k in missing):
        raise RuntimeError(f"weights do not carry over: missing {missing}, unexpected {unexpected}")
    return out.eval()


def train(upsampler: MaskUpsampler, pairs: dict, args, state_path: Path, valid: dict) -> None:
    opt = torch.optim.AdamW(upsampler.parameters(), lr=args.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.steps, pct_start=0.1)
    step = 0
    if state_path.is_file():
        state = torch.load(state_path, weights_only=True)
        upsampler.load_state_dict(state["upsampler"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        step = int(state["step"])
        print(f"resumed at step {step}", flush=True)
    upsampler.train()
    start = time.perf_counter()
    while step < args.steps:
        rng = np.random.default_rng([args.seed, step])  # the same batches whether resumed or not
        index = rng.integers(0, len(pairs["truths"]), args.batch)
        images, logits, truths = batch(pairs, index, flip=bool(rng.random() < 0.5))
        loss = mask_loss(upsampler(images, logits), truths)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        step += 1
        if step % args.save_every == 0 or step == args.steps:
            torch.save({"upsampler": upsampler.state_dict(), "opt": opt.state_dict(),
                        "sched": sched.state_dict(), "step": step}, state_path.with_suffix(".tmp"))
            state_path.with_suffix(".tmp").replace(state_path)
            note = f", valid IoU {mean_iou(upsampler.eval(), valid):.3f}" if valid else ""
            upsampler.train()
            seconds = time.perf_counter() - start
            print(f"step {step}/{args.steps}: loss {loss.item():.3f}, {seconds:.0f} s{note}", flush=True)
    upsampler.eval()


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", required=True,
                   help="the DeRVOS model folder to add an upsampler to, or a stage 1-3 output (train only)")
    p.add_argument("--input-size", type=int, default=None,
                   help="the input size of a stage 1-3 output's branch (its stages' data.image_size)")
    p.add_argument("--root", default="data/synthref")
    p.add_argument("--train-split", default="train")
    p.add_argument("--valid-split", default="valid", help="examples for the report ('' for none)")
    p.add_argument("--videos", type=int, default=300, help="train videos to collect examples from")
    p.add_argument("--valid-videos", type=int, default=40)
    p.add_argument("--frames", type=int, default=36, help="the first N frames of each video (one crop)")
    p.add_argument("--every", type=int, default=3, help="every N-th frame of each object")
    p.add_argument("--channels", type=int, default=24)
    p.add_argument("--scale", type=int, default=2)
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--save-every", type=int, default=250)
    p.add_argument("--work", default="runs/upsampler", help="examples and training state (resumable)")
    p.add_argument("--out", default=None, help="the model folder to write (needed with a model folder)")


def run(args: argparse.Namespace) -> int:
    work = Path(args.work)
    folder = Path(args.checkpoint)
    if (folder / TRAJECTORY_WEIGHTS).is_file():  # a stage 1-3 output: the branch alone
        if not args.input_size or args.out:
            print(f"{folder} is a trajectory branch: give --input-size (its stages' data.image_size) and no "
                  "--out (a branch alone makes no model)", file=sys.stderr)
            return 1
        base, branch = None, branch_folder(folder, args.input_size)
    else:
        base = load_model(args.checkpoint)
        if not isinstance(base, DeRVOS) or base.cfg is None:
            print(f"{args.checkpoint}: not a DeRVOS checkpoint (the real model has no trainable upsampler)",
                  file=sys.stderr)
            return 1
        branch = base.trajectory
        if not args.out:
            print("--out is needed with a model folder", file=sys.stderr)
            return 1
    # examples and state belong to this branch: another branch (or input size) starts afresh
    tag = weights_hash(branch_weights(branch), salt=f"input_size={branch.input_size}")
    name = f"{args.videos}v-{args.frames}f-{args.every}-{tag}"
    pairs = cached_pairs(work / f"pairs_{args.train_split}_{name}.npz",
                         lambda: collect(branch, open_dataset("synthref", args.root, args.train_split),
                                         args.videos, args.frames, args.every))
    if not pairs:
        print(f"no examples in {args.train_split} of {args.root}", file=sys.stderr)
        return 1
    valid = {}
    if args.valid_split:
        valid_name = f"{args.valid_videos}v-{args.frames}f-{args.every}-{tag}"
        valid = cached_pairs(work / f"pairs_{args.valid_split}_{valid_name}.npz",
                             lambda: collect(branch, open_dataset("synthref", args.root, args.valid_split),
                                             args.valid_videos, args.frames, args.every))
    print(f"{len(pairs['truths'])} train examples, {len(valid.get('truths', ()))} valid", flush=True)
    cfg = UpsamplerConfig(channels=args.channels, scale=args.scale)
    seg = branch.cfg.segmenter
    torch.manual_seed(args.seed)  # the same start whatever was built before (a model or a branch alone)
    upsampler = MaskUpsampler(cfg, seg.pixel_mean, seg.pixel_std)
    work.mkdir(parents=True, exist_ok=True)
    state = work / f"state_{name}_{args.channels}c-{args.scale}x-{args.steps}s-{args.seed}.pt"
    train(upsampler, pairs, args, state, valid)
    if valid:
        start = time.perf_counter()
        whole = mean_iou(upsampler, valid)
        middle = time.perf_counter()
        windowed = mean_iou(upsampler, valid, windows=True)
        end = time.perf_counter()
        print(f"valid mean IoU: bilinear {mean_iou(None, valid):.4f}, upsampled {whole:.4f} on whole "
              f"frames ({middle - start:.1f} s), {windowed:.4f} in windows as a run applies it "
              f"({end - middle:.1f} s)")
    if base is None:
        print(f"trained in {work}; a model with this branch gets it with --checkpoint MODEL --work {work} "
              "--out OUT")
        return 0
    model = with_upsampler(base, cfg)
    model.trajectory.upsampler.load_state_dict(upsampler.state_dict())
    model.refresh_version()
    model.save(args.out)
    print(f"wrote {args.out} ({model.version})")
    return 0


def branch_folder(folder: Path, input_size: int) -> DVISBranch:
    """A stage 1-3 output (trajectory.safetensors + trajectory_config.json) as a branch at `input_size`."""
    cfg = without_upsampler(TrajectoryConfig.from_json((folder / TRAJECTORY_CONFIG).read_text()))
    branch = DVISBranch(cfg, input_size=input_size, top_k=cfg.top_k)
    load_trajectory_weights(branch, folder)
    return branch.eval()


if __name__ == "__main__":
    sys.exit(script_main(__doc__, add_arguments, run))
