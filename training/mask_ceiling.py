"""How well a mask head of a given resolution can do at best: ground-truth masks through the model's path.

    python training/mask_ceiling.py --root data/synthref-fresh --split test --videos 40 --sides 32 48 64 96

The trajectory branch predicts masks at 1/4 of its input size (32 x 32 at the shipped 128-px input)
and a mask at the video's size is its bilinearly upsampled logits > 0 (`derrvos_core.model.rle`). This
sends each ground-truth object mask through that path with no model at all: area-downsampled to the
mask side (the fraction of each cell the object covers), turned into logits (log-odds of the coverage,
clamped at 1e-3), upsampled bilinearly to the frame and thresholded at 0. The IoU with the original mask
is what a query that got its object exactly right at that side gives back, a practical cap on the
oracle's per-frame J (a cleverer logit map could do a little better, none of ours does). Prints mean IoU
over object-frames, and over objects under 100 pixels, per side.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from derrvos_core.datasets import open_dataset  # noqa: E402
from derrvos_core.metrics import region_similarity  # noqa: E402
from training.script import script_main  # noqa: E402
from training.trainer.instances import expression_objects  # noqa: E402

SMALL_PIXELS = 100


def object_masks(root, split: str, videos: int, every: int) -> list[np.ndarray]:
    """bool [H, W] masks of each target object of the first `videos` videos, every `every`-th frame,
    empty frames left out."""
    dataset = open_dataset("synthref", root, split)
    return [frame for _, objects in expression_objects(dataset, videos) for track in objects.values()
            for frame in track[::every] if frame.any()]


def ceiling_iou(masks: list[np.ndarray], side: int) -> np.ndarray:
    """Per mask, the IoU of its round trip through a `side` x `side` logit map."""
    ious = np.empty(len(masks))
    for n, mask in enumerate(masks):
        full = torch.from_numpy(mask)[None, None].float()
        coverage = F.interpolate(full, size=(side, side), mode="area")
        logits = torch.logit(coverage, eps=1e-3)
        back = F.interpolate(logits, size=mask.shape, mode="bilinear", align_corners=False)[0, 0] > 0
        ious[n] = region_similarity(mask, back.numpy())[0]
    return ious


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--root", default="data/synthref-fresh")
    p.add_argument("--split", default="test")
    p.add_argument("--videos", type=int, default=40, help="the first N videos of the split")
    p.add_argument("--every", type=int, default=6, help="every N-th frame of each object")
    p.add_argument("--sides", type=int, nargs="+", default=[32, 48, 64, 96],
                   help="mask sides to try (input size / 4)")


def run(args: argparse.Namespace) -> int:
    masks = object_masks(args.root, args.split, args.videos, args.every)
    if not masks:
        print(f"no object masks in {args.split} of {args.root}", file=sys.stderr)
        return 1
    small = np.array([m.sum() < SMALL_PIXELS for m in masks])
    print(f"{len(masks)} object-frames ({int(small.sum())} under {SMALL_PIXELS} px), "
          f"{args.videos} videos of {args.root}/{args.split}, every {args.every}th frame\n")
    print(f"| mask side | input size | mean IoU | objects < {SMALL_PIXELS} px |")
    print("|---|---|---|---|")
    for side in args.sides:
        ious = ceiling_iou(masks, side)
        under = f"{ious[small].mean():.3f}" if small.any() else "-"
        print(f"| {side} | {side * 4} | {ious.mean():.3f} | {under} |")
    return 0


if __name__ == "__main__":
    sys.exit(script_main(__doc__, add_arguments, run))
