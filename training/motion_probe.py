"""Does a model's answer depend on how trajectories move? Two measurements on a SynthRef split.

    python training/motion_probe.py --checkpoint assets/models/derrvos-tiny-synthref [--limit 120]

1. Shuffled motion: the same model run with every crop's motion inputs (kinematics and path summary)
   rolled by one trajectory, so each trajectory carries another one's motion while its appearance and
   region tokens stay its own. The drop in J&F per category is how much the answer uses motion; a
   selector that ignores the motion stream loses nothing.
2. Frame attention: the normalised entropy (1 = uniform over the crop's frames) of the last selector's
   softmax-over-time weights for the highest-scoring trajectory, per category: whether the selector
   listens to particular frames on motion expressions.

Crop size 36, each model's recommended threshold. Prints a markdown table and writes --out (JSON).
"""
from __future__ import annotations

import argparse
import importlib
import json
import math
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from derrvos_core.datasets import open_dataset  # noqa: E402
from derrvos_core.evaluation.scoring import score_masks  # noqa: E402

GROUPS = ("all", "appearance", "motion", "position", "relation", "multi_target", "no_target")


class ShuffledMotion:
    """Context manager: TAIS reads crop c's motion inputs rolled by one trajectory (see module doc)."""

    def __init__(self):
        self.module = importlib.import_module("derrvos_core.tais.tais")
        self.original = self.module.crop_motion

    def __enter__(self):
        original = self.original

        def rolled(trajectories, frame_index=None, summary=True):
            kin, path = original(trajectories, frame_index, summary)
            return kin.roll(1, dims=0), None if path is None else path.roll(1, dims=0)

        self.module.crop_motion = rolled
        return self

    def __exit__(self, *exc):
        self.module.crop_motion = self.original


def frame_entropy_hook(model, store: list):
    """Record, per TAIS call, the normalised entropy of the top trajectory's last-layer frame weights."""
    def hook(_module, _inputs, out):
        weights = out.frame_weights[-1].float()  # [N, T]
        t = weights.shape[1]
        top = int(out.logits.argmax())
        w = weights[top].clamp_min(1e-12)
        store.append(float(-(w * w.log()).sum() / math.log(t)) if t > 1 else 1.0)
    return model.tais.register_forward_hook(hook)


def probe(checkpoint: str, root: str, split: str, limit: int | None) -> dict:
    from derrvos_core.model import SegmentCache, load_model

    torch.set_num_threads(1)
    model = load_model(checkpoint)
    settings = model.defaults.settings(crop_size=36)
    samples = open_dataset("synthref", root, split)
    total = min(limit, len(samples)) if limit else len(samples)
    cache = SegmentCache(max_bytes=1 << 30)
    rows, start = [], time.perf_counter()
    for i in range(total):
        sample = samples[i]
        frames, gt = sample.load_frames(), np.asarray(sample.target_masks, dtype=bool)
        entropies: list = []
        handle = frame_entropy_hook(model, entropies)
        normal = score_masks(gt, model.segment(frames, sample.expression, settings, cache=cache).masks).JF
        handle.remove()
        with ShuffledMotion():
            shuffled = score_masks(gt, model.segment(frames, sample.expression, settings, cache=cache).masks).JF
        rows.append({"category": sample.category, "normal": normal, "shuffled": shuffled,
                     "entropy": float(np.mean(entropies))})
        if (i + 1) % 30 == 0 or i + 1 == total:
            print(f"  {i + 1}/{total} expressions ({time.perf_counter() - start:.0f} s)", flush=True)
    out = {"checkpoint": checkpoint, "split": split, "expressions": total, "threshold": settings.threshold,
           "groups": {}}
    for g in GROUPS:
        sel = [r for r in rows if g == "all" or r["category"] == g]
        if sel:
            out["groups"][g] = {k: float(np.mean([r[k] for r in sel])) for k in ("normal", "shuffled", "entropy")}
            out["groups"][g]["n"] = len(sel)
    return out


def markdown(res: dict) -> str:
    lines = [f"`training/motion_probe.py --checkpoint {res['checkpoint']}` (SynthRef {res['split']}, first "
             f"{res['expressions']} expressions, threshold {res['threshold']}):", "",
             "| category | n | J&F | J&F, motion shuffled | drop | frame-weight entropy |", "|---|---|---|---|---|---|"]
    for g, v in res["groups"].items():
        lines.append(f"| {g} | {v['n']} | {v['normal']:.3f} | {v['shuffled']:.3f} | {v['normal'] - v['shuffled']:+.3f} "
                     f"| {v['entropy']:.2f} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", default="synthref")
    p.add_argument("--root", default="data/synthref")
    p.add_argument("--split", default="valid")
    p.add_argument("--limit", type=int, default=120)
    p.add_argument("--out", default=None, help="JSON file for the numbers")
    args = p.parse_args(argv)
    res = probe(args.checkpoint, args.root, args.split, args.limit)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(res, indent=2))
    print(markdown(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
