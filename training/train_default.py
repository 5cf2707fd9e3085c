"""Train the shipped tiny default on SynthRef from nothing, evaluate it, and ship it (resumable).

    python training/train_default.py                      # everything: data, 5 training runs, upsampler,
                                                          # calibrate, eval, ship
    python training/train_default.py --only eval ship     # some steps only
    python training/train_default.py --branch assets/models/derrvos-tiny-synthref   # stage 4 only, on that
                                                          # model's frozen trajectory branch (and tokenizer)

Steps (each skipped when its output exists, so re-running continues where it stopped):
    data      training/make_synthref.py: train 600 videos (seed 0), valid 60 (seed 1), test 100 (seed 2)
    stages    training/train.py --config training/configs/synthref_tiny_{segmenter,tracker,refiner,derrvos,
              derrvos_phase2}.yaml --resume (stage 4 in two phases: the second at a fifth of the lr)
    upsampler training/train_upsampler.py: the image-guided mask upsampler, trained on the stage-4 model's own
              trajectories over 300 train videos (everything else frozen) -> runs/upsampler/final
    calibrate training/ablate.py --split valid --crop-sizes --recommend: the threshold sweep on valid; its
              best threshold becomes the model's recommended one (config.json), used by eval and the app
    eval      training/evaluate.py --dataset synthref --split test at that threshold (model + random/largest/
              oracle baselines)
    ship      fp16 weights + config + tokenizer + MODEL_CARD.md into assets/models/derrvos-tiny-synthref
Wall time of every step goes to runs/default_pipeline.json (read by the model card).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
DATA = ("train", 600, 0), ("valid", 60, 1), ("test", 100, 2)
STAGES = ("synthref_tiny_segmenter", "synthref_tiny_tracker", "synthref_tiny_refiner", "synthref_tiny_derrvos",
          "synthref_tiny_derrvos_phase2")
EVAL_DIR = ROOT / "runs" / "eval" / "synthref-test"
CALIBRATION_DIR = ROOT / "runs" / "eval" / "synthref-valid-threshold"
CALIBRATION_EXPRESSIONS = 120
LOG = ROOT / "runs" / "default_pipeline.json"
UPSAMPLER = ROOT / "runs" / "upsampler"


def _record(step: str, seconds: float, command: list[str]) -> None:
    LOG.parent.mkdir(parents=True, exist_ok=True)
    log = json.loads(LOG.read_text()) if LOG.is_file() else {}
    entry = log.get(step, {"seconds": 0.0})
    log[step] = {"seconds": entry["seconds"] + seconds, "command": " ".join(command)}
    LOG.write_text(json.dumps(log, indent=2))


def _run(step: str, command: list[str]) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {step}: {' '.join(command)}", flush=True)
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=env, check=True)
    _record(step, time.perf_counter() - start, command)


def make_data(root: Path) -> None:
    for split, videos, seed in DATA:
        if not (root / split / "meta_expressions.json").is_file():
            _run(f"data_{split}", [PY, "training/make_synthref.py", "--out", str(root), "--split", split,
                                   "--num-videos", str(videos), "--seed", str(seed), "--workers", "2"])


def branch_overrides(name: str, branch: Path) -> list[str]:
    """`--set` items that run a stage-4 config on `branch`'s frozen trajectory branch and tokenizer
    (its trajectory cache kept beside the branch's, under runs/branch-cache)."""
    items = [f"tokenizer={branch / 'tokenizer.spm'}", f"data.cache_dir={ROOT / 'runs' / 'branch-cache'}"]
    if name == STAGES[3]:
        items = ["init=null", f"init_trajectory={branch}"] + items
    return [arg for item in items for arg in ("--set", item)]


def train_stages(stages=STAGES, nproc: int = 1, branch: Path | None = None) -> None:
    """Each stage in turn (skipped once its final model exists); `nproc` > 1 runs DDP (gloo on CPU) via torchrun.
    With `branch` (a DeRVOS model folder) stages 1-3 are skipped and stage 4 starts from its branch."""
    for name in stages:
        if (ROOT / "runs" / name / "final").is_dir() or (branch is not None and name not in STAGES[3:]):
            continue
        launcher = [PY, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}"] \
            if nproc > 1 else [PY]
        extra = branch_overrides(name, branch) if branch is not None else []
        _run(name, launcher + ["training/train.py", "--config", f"training/configs/{name}.yaml", "--resume",
                               "--no-progress"] + extra)


def upsampler(root: Path, checkpoint: Path) -> None:
    """The mask upsampler on `checkpoint`'s trajectories (training/train_upsampler.py; skipped once done)."""
    if (UPSAMPLER / "final" / "config.json").is_file():
        return
    _run("upsampler", [PY, "training/train_upsampler.py", "--checkpoint", str(checkpoint), "--root",
                       str(root), "--work", str(UPSAMPLER), "--out", str(UPSAMPLER / "final")])


def calibrate(root: Path, checkpoint: Path) -> None:
    """Threshold sweep on valid (training/ablate.py); the best threshold goes into the model's config."""
    if (CALIBRATION_DIR / "ablation.json").is_file():
        return
    _run("calibrate", [PY, "training/ablate.py", "--checkpoint", str(checkpoint), "--root", str(root),
                       "--split", "valid", "--out", str(CALIBRATION_DIR), "--limit", str(CALIBRATION_EXPRESSIONS),
                       "--crop-sizes", "--recommend"])


def evaluate(root: Path, checkpoint: Path, workers: int = 1, limit: int | None = None) -> None:
    """training/evaluate.py's numbers (same library calls), with the trajectories of a video computed once
    for all its expressions (training/trainer/fast_eval.py): 6x fewer trajectory-branch runs on SynthRef."""
    from derrvos_core.evaluation import format_summary
    from training.trainer.fast_eval import evaluate_checkpoint

    start = time.perf_counter()  # at the model's recommended threshold (set by `calibrate`)
    report = evaluate_checkpoint(checkpoint, "synthref", root, "test", EVAL_DIR, workers=workers, limit=limit)
    threshold = report.settings["threshold"]
    print(format_summary(report), flush=True)
    _record("eval_test", time.perf_counter() - start,
            ["python", "training/train_default.py", "--only", "eval", "  # = training/evaluate.py --dataset synthref",
             "--split", "test", f"--threshold {threshold}", "--no-annotations" + (f" --limit {limit}" if limit else "")
             + f", trajectories computed once per video, {workers} process(es)"])


def ship(checkpoint: Path, notes: str = "") -> None:
    from derrvos_core.model.catalog import SYNTHREF_MODEL
    from training.trainer.model_card import ship_model

    path = ship_model(checkpoint, SYNTHREF_MODEL, EVAL_DIR / "results.json", LOG, notes=notes)
    print(f"shipped {path}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="data/synthref")
    p.add_argument("--only", nargs="*", choices=("data", "stages", "upsampler", "calibrate", "eval", "ship"),
                   default=None)
    p.add_argument("--stages", nargs="*", choices=STAGES, default=list(STAGES), help="which training stages")
    p.add_argument("--branch", default=None,
                   help="a DeRVOS model folder: skip stages 1-3, train stage 4 on its frozen trajectory branch")
    p.add_argument("--nproc", type=int, default=1, help="processes per stage (DDP under torchrun, gloo on CPU)")
    p.add_argument("--eval-workers", type=int, default=1, help="processes for the test evaluation")
    p.add_argument("--eval-limit", type=int, default=None, help="evaluate the first N test expressions only")
    p.add_argument("--notes", default=None, help="a markdown file appended to the model card as its Notes")
    args = p.parse_args(argv)
    steps = args.only or ["data", "stages", "upsampler", "calibrate", "eval", "ship"]
    root = ROOT / args.data
    trained = ROOT / "runs" / STAGES[-1] / "final"
    final = UPSAMPLER / "final"
    if "data" in steps:
        make_data(root)
    if "stages" in steps:
        train_stages(args.stages, args.nproc, Path(args.branch) if args.branch else None)
    if "upsampler" in steps:
        upsampler(root, trained)
    if "calibrate" in steps:
        calibrate(root, final)
    if "eval" in steps:
        evaluate(root, final, args.eval_workers, args.eval_limit)
    if "ship" in steps:
        ship(final, Path(args.notes).read_text() if args.notes else "")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
