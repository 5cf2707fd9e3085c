"""Put a retrained trajectory branch into a DeRVOS model folder, optionally at another input size.

    python training/graft_branch.py --model assets/models/derrvos-tiny-synthref \\
        --branch runs/synthref_tiny_refiner_192/final --input-size 192 --out runs/grafted-192

`--branch` is a stage 1-3 output folder (trajectory.safetensors + trajectory_config.json), or a model
folder whose branch is taken without its mask upsampler (`--branch` = `--model`: the model as it is,
upsampler left out); the model's multimodal branch and TAIS are kept as they are. The result loads
like any model folder, so `training/evaluate.py --checkpoint OUT` gives the new branch's oracle (and
the old selector's J&F on it), and stage 4 can start from it (`--set init_trajectory=OUT`). Weights are
written as float32.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from derrvos_core.model import DeRVOS, DeRVOSConfig, load_model  # noqa: E402
from derrvos_core.model.checkpoint import save_model  # noqa: E402
from derrvos_core.strict_load import load_strict  # noqa: E402
from training.script import script_main  # noqa: E402
from training.trainer.stages.common import (TrajectoryHolder, branch_weights, is_model_folder,  # noqa: E402
                                           load_trajectory_weights, without_upsampler_weights)


def graft(model_dir: str | Path, branch_dir: str | Path, out: str | Path, input_size: int | None = None,
          duplicate_iou: float | None = None) -> Path:
    """`model_dir` with its trajectory branch replaced by `branch_dir`'s, saved to `out`. A mask upsampler
    of `model_dir` stays behind (it was fitted to the old branch's trajectories; train_upsampler.py fits
    one to the new). `input_size` and `duplicate_iou` (`TrajectoryConfig.duplicate_iou`) replace the
    model's own when given."""
    source = load_model(str(model_dir))
    config = source.cfg.to_dict()
    config["trajectory"].pop("upsampler", None)
    if input_size is not None:
        config["input_size"] = int(input_size)
    if duplicate_iou is not None:
        config["trajectory"]["duplicate_iou"] = float(duplicate_iou)
    model = DeRVOS.from_config(DeRVOSConfig.from_dict(config), tokenizer_path=source.multimodal.tokenizer_path)
    model.load_state_dict(without_upsampler_weights(source.state_dict(), "trajectory."))
    holder = TrajectoryHolder(model.trajectory.cfg)
    if is_model_folder(branch_dir):  # a whole model's branch, its upsampler left behind
        load_strict(holder.trajectory, branch_weights(load_model(str(branch_dir)).trajectory),
                    f"{branch_dir} (its trajectory branch)")
    else:  # strict: a branch of other sizes is refused
        load_trajectory_weights(holder.trajectory, branch_dir)
    model.trajectory.load_state_dict(holder.trajectory.state_dict())
    return save_model(model, out)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="DeRVOS model folder whose selector is kept")
    parser.add_argument("--branch", required=True,
                        help="stage 1-3 output folder (trajectory.safetensors), or a model folder: its "
                             "branch")
    parser.add_argument("--out", required=True, help="new model folder")
    parser.add_argument("--input-size", type=int, default=None, help="trajectory-branch input size (px)")
    parser.add_argument("--duplicate-iou", type=float, default=None,
                        help="drop a trajectory whose clip mask IoU with a better-scored one of its crop "
                             "reaches this (TrajectoryConfig.duplicate_iou; 0 keeps all)")


def run(args: argparse.Namespace) -> int:
    out = graft(args.model, args.branch, args.out, args.input_size, args.duplicate_iou)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(script_main(__doc__, add_arguments, run))
