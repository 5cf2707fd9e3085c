"""Train one stage of DeRVOS from a YAML config.

    python training/train.py --config training/configs/synthref_tiny_segmenter.yaml [--resume]
        [--max-steps N] [--out DIR] [--model-config tiny] [--set section.field=value ...]
    torchrun --nproc_per_node=K training/train.py --config ...   # DDP (NCCL on GPUs, gloo on CPUs)

Checkpoints, metrics.csv and TensorBoard events go to the run folder (runs/<name> unless --out);
the stage's final model goes to <out>/final when the planned length is reached.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from training.trainer import load_config, run_training  # noqa: E402
from training.trainer.distributed import shutdown_distributed  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", required=True, help="training/configs/<name>.yaml")
    p.add_argument("--resume", action="store_true", help="continue from the run folder's latest checkpoint")
    p.add_argument("--max-steps", type=int, default=None,
                   help="stop (with a checkpoint) after this many total steps; the schedule is unchanged")
    p.add_argument("--out", default=None, help="run folder (default runs/<name>)")
    p.add_argument("--model-config", default=None,
                   help="replace the config's model preset (e.g. 'tiny' to exercise a full config on CPU)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config field, e.g. --set data.root=fixtures --set batch_size=1")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    overrides = list(args.set)
    if args.out:
        overrides.append(f"out={args.out}")
    if args.model_config:
        overrides.append(f"model={args.model_config}")
    cfg = load_config(args.config, overrides)
    try:
        result = run_training(cfg, resume=args.resume, max_steps=args.max_steps, progress=not args.no_progress)
    finally:
        shutdown_distributed()
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"{cfg.name}: step {result.state.step}, {result.steps_per_second:.3f} steps/s, "
              f"final model: {result.export_path or '(not reached)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
