"""Evaluate a DeRVOS checkpoint on a benchmark split, with the selection baselines from the same run.

    python training/evaluate.py --dataset synthref --root data/synthref --split test \
        --checkpoint assets/models/derrvos-tiny-synthref --out runs/eval/synthref-test [--crop-size 36]
        [--threshold 0.7] [--limit N]

Writes OUT/results.json (J, F, J&F overall and per category / annotator / held-out; tIoU and vIoU;
mIoU and oIoU), OUT/per_expression.csv, and OUT/Annotations/<video>/<exp_id>/<frame>.png (0/255),
the benchmark-server layout. Baselines (random, largest, oracle trajectory) reuse the model's own
trajectories: no extra model call.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from derrvos_core.datasets import DATASETS, open_dataset  # noqa: E402
from derrvos_core.errors import DeRVOSError  # noqa: E402
from derrvos_core.evaluation import (EvalSettings, evaluate, format_summary, model_segmenter,  # noqa: E402
                                     write_report)
from training.script import script_main  # noqa: E402


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", required=True, help=f"one of {', '.join(DATASETS)}")
    parser.add_argument("--root", required=True, help="dataset root folder")
    parser.add_argument("--split", required=True)
    parser.add_argument("--checkpoint", default="default", help="model folder or name: default or real (the real-video model), synthref")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--crop-size", type=int, default=None, help="frames per crop (default: the model's)")
    parser.add_argument("--threshold", type=float, default=None,
                        help="selection threshold (default: the model's recommended one)")
    parser.add_argument("--limit", type=int, default=None, help="evaluate the first N expressions only")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random-trajectory baseline")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--no-baselines", action="store_true")
    parser.add_argument("--no-annotations", action="store_true", help="do not write the PNGs")


def run(args: argparse.Namespace) -> int:
    settings = EvalSettings(crop_size=args.crop_size, threshold=args.threshold, limit=args.limit,
                            seed=args.seed,
                            baselines=not args.no_baselines, write_annotations=not args.no_annotations)
    try:
        from derrvos_core.model import load_model

        dataset = open_dataset(args.dataset, args.root, args.split)
        model = load_model(args.checkpoint, device=args.device)
        settings = settings.for_model(model.defaults)
        report = evaluate(model_segmenter(model, settings), dataset, args.out, settings, progress=_progress)
        report.info = {"checkpoint": str(args.checkpoint), "model_version": model.version}
        paths = write_report(report, args.out)
    except DeRVOSError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(format_summary(report))
    pngs = "" if args.no_annotations else f", {Path(args.out) / 'Annotations'}"
    print(f"wrote {paths['results']}, {paths['csv']}{pngs}")
    return 0


def _progress(step) -> None:
    if step.done == step.total or step.done % max(1, step.total // 20) == 0:
        print(f"  {step.done}/{step.total} expressions", file=sys.stderr, flush=True)


def main(argv=None) -> int:
    return script_main(__doc__, add_arguments, run, argv)


if __name__ == "__main__":
    sys.exit(main())
