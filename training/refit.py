r"""Refit a DeRVOS checkpoint on the corrections stored in the database, and register the result.

    python training/refit.py --db sqlite:///derrvos.db --base assets/models/derrvos-tiny-synthref \
        --out runs/refit/2026-01-01 [--holdout 0.2] [--steps 200] [--seed 0] \
        [--lr-multimodal 5e-6 --lr-rest 2e-5]

1. reads every corrected (video, expression) from the store: its target is the corrected answer;
2. splits them by video into train / held out (deterministic in --seed; at least one video each);
3. scores the base model on both (J, F, J&F of its own selection against the corrected answers);
4. fine-tunes TAIS, and BEiT-3 at its small lr, on the train part with stage 4's machinery (DVIS++
   frozen and cached, clips of T frames, flip with left/right swap, selection loss);
5. saves the model (our format, in the base's dtype) and scores the saved model again;
6. moves it to --out with MODEL_CARD.md and refit_report.json, and registers the new version in the
   store with the report (base_version = the base model's version).

Everything is built in a hidden folder beside --out and moved in at the end, and the store is only
written once, after the move: an interrupted refit leaves neither a half model nor a registration.

A real model (`--base default`, `real`, or a folder whose config.json says kind "real") has no weights to
train: its selector numbers and threshold are refit by training/refit_real.py, which this command runs.
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from derrvos_core.errors import DeRVOSError, InputError  # noqa: E402
from derrvos_core.evaluation import EvalSettings  # noqa: E402
from training.refit_data import RefitStage, share_frames, split_by_video  # noqa: E402
from training.refit_report import (build_report, card_text, format_table, score_sets,  # noqa: E402
                                   write_per_expression)

REPORT = "refit_report.json"
PER_EXPRESSION = "refit_per_expression.csv"
METRICS = "refit_metrics.csv"


@dataclass(frozen=True)
class RefitSettings:
    """One refit. Defaults are the paper's MeViS fine-tuning rates (DESIGN.md §1)."""

    base: str  # DeRVOS checkpoint folder of the model to refit (a real model: training/refit_real.py)
    out: str  # folder to create with the refit model (must not exist or be empty)
    db: str | None = None  # store URL; None: $DERRVOS_DB, else sqlite:///derrvos.db
    holdout: float = 0.2  # fraction of the corrected videos held out for the before/after report
    steps: int = 200  # optimizer steps
    seed: int = 0  # split, sampling and augmentation seed
    lr_multimodal: float = 5e-6  # BEiT-3
    lr_rest: float = 2e-5  # TAIS
    batch_size: int = 2  # expressions per step (capped at the number of training expressions)
    clip_length: int = 8  # T frames per training clip
    flip_prob: float = 0.5  # horizontal flip (left/right swapped in the text)
    crop_size: int | None = None  # inference (and cache) crop; None: the base model's default
    threshold: float | None = None  # selection threshold when scoring; None: the base model's default
    name: str | None = None  # model name of the result; None: "<base name>-refit"
    num_threads: int | None = None  # torch CPU threads (None: torch's default)
    eval_train: bool = True  # also score the training expressions before and after
    progress: bool = True  # tqdm bar during training (plain lines when off)


@dataclass(frozen=True)
class RefitResult:
    """What a finished refit produced: the model folder, its registered version, and the report."""

    out_dir: Path
    name: str
    version: str
    base_version: str
    report: dict


def refit(s: RefitSettings, log=print) -> RefitResult:
    """Run the whole refit (see the module doc). InputError before any work when the data do not allow it."""
    from derrvos_core.model.catalog import model_folder
    from derrvos_core.model.checkpoint import checkpoint_folder
    from derrvos_core.store import Store
    from derrvos_core.store.samples import store_samples

    out = Path(s.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError(f"--out {out} already exists and is not an empty folder; choose a new one")
    if s.steps < 1:
        raise InputError(f"--steps must be at least 1, got {s.steps}")
    if is_real_base(s.base):
        raise InputError(f"{s.base} is a real model: refit it with training.refit_real.refit_real")
    base_dir = checkpoint_folder(model_folder(s.base))
    with Store.open(s.db) as store:
        samples = store_samples(store, corrected_only=True)
        train, held_out = split_by_video(share_frames(samples), s.holdout, s.seed)
        log(f"store {store!r}: {len(samples)} corrected expressions; train {len(train)} "
            f"({len({x.video_id for x in train})} videos), held out {len(held_out)} "
            f"({len({x.video_id for x in held_out})} videos)")
        return publish(store, out, lambda work: _build(s, base_dir, train, held_out,
                                                       _data(store, s, train, held_out), work, log))


def publish(store, out: Path, build) -> RefitResult:
    """`build(work)` writes the refit model into `work / "model"` and returns its report; the folder is
    moved to `out` in one rename (complete or absent), then registered in the store with the report."""
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.refit-", dir=out.parent))
    try:
        report = build(work)
        os.replace(work / "model", out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    summary = {k: v for k, v in report.items() if k != "per_expression"}
    summary["report_file"] = str((out / REPORT).resolve())
    store.register_model_version(report["name"], report["version"], out.resolve(), summary,
                                 base_version=report["base_version"])
    return RefitResult(out_dir=out, name=report["name"], version=report["version"],
                       base_version=report["base_version"], report=report)


def _build(s: RefitSettings, base_dir: Path, train: list, held_out: list, data: dict, work: Path,
           log) -> dict:
    """Score the base, train, save to work/model, score the saved model; write its card and report."""
    from derrvos_core.model import load_checkpoint

    if s.num_threads:
        torch.set_num_threads(s.num_threads)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = load_checkpoint(base_dir, device=device)
    base_version, base_name = model.version, model.name
    name = s.name or (base_name if base_name.endswith("-refit") else f"{base_name}-refit")
    ev = EvalSettings(crop_size=s.crop_size or None, threshold=s.threshold, seed=s.seed,
                      write_annotations=False).for_model(model.defaults)
    sets = {"held_out": held_out, **({"train": train} if s.eval_train else {})}
    log(f"scoring the base model {base_version} ...")
    before = score_sets(model, sets, ev, work / "eval")
    training = _train(model, base_dir, train, s, ev.crop_size, work / "train")
    model_dir = _save(model, name, _base_dtype(base_dir), work / "model")
    refitted = load_checkpoint(model_dir, device=device)  # score what was saved, as it loads
    log(f"scoring the refit model {refitted.version} ...")
    after = score_sets(refitted, sets, dataclasses.replace(ev, baselines=False), work / "eval")
    report = build_report(before, after, sets)
    report.update(kind="refit", name=name, version=refitted.version, base_version=base_version,
                  base_path=str(base_dir), eval={"crop_size": ev.crop_size, "threshold": ev.threshold},
                  data=data, training=training)
    _finish(model_dir, report, work / "train", _command(s, data["db"]))
    return report


def _train(model, base_dir: Path, train: list, s: RefitSettings, crop_size: int, work: Path) -> dict:
    """Stage 4 on the training expressions; returns what the card and the report record."""
    from training.trainer import run_training
    from training.trainer.config import DataConfig, OptimConfig, ScheduleConfig, TrainConfig

    cfg = TrainConfig(
        name="refit", stage="derrvos", model=str(base_dir), init=str(base_dir), out=str(work), seed=s.seed,
        batch_size=min(s.batch_size, len(train)),  # a batch larger than the data would never fill
        data=DataConfig(dataset="store", root="", split="corrected", clip_length=s.clip_length,
                        image_size=model.cfg.input_size, flip_prob=s.flip_prob),
        optim=OptimConfig(lr=s.lr_rest, lr_multimodal=s.lr_multimodal),
        schedule=ScheduleConfig(max_steps=s.steps),
        checkpoint_every=s.steps, keep_checkpoints=1, log_every=max(1, s.steps // 20),
        num_threads=s.num_threads, options={"crop_size": crop_size, "loss_kind": "bce"})
    result = run_training(cfg, progress=s.progress, stage=RefitStage(model, train))
    with open(work / "metrics.csv", newline="") as f:
        losses = [float(row["loss"]) for row in csv.DictReader(f)]
    return {"steps": result.state.step, "batch_size": cfg.batch_size, "clip_length": s.clip_length,
            "flip_prob": s.flip_prob, "lr_rest": s.lr_rest, "lr_multimodal": s.lr_multimodal,
            "trained": ["multimodal", "tais"], "frozen": ["trajectory"],
            "wall_seconds": result.state.elapsed, "first_loss": losses[0], "last_loss": losses[-1]}


def _save(model, name: str, dtype: torch.dtype, folder: Path) -> Path:
    model.eval()
    if model.name != name:
        model.rename(name)
    model.refresh_version()
    return model.save(folder, card_text="", dtype=dtype)


def _finish(model_dir: Path, report: dict, train_dir: Path, command: str) -> None:
    (model_dir / "MODEL_CARD.md").write_text(card_text(report["name"], report["version"], report, command))
    (model_dir / REPORT).write_text(json.dumps(report, indent=2))
    write_per_expression(report["per_expression"], model_dir / PER_EXPRESSION)
    shutil.copyfile(train_dir / "metrics.csv", model_dir / METRICS)


def _base_dtype(folder: Path) -> torch.dtype:
    """The dtype the base was saved in (a shipped fp16 model stays fp16 after a refit)."""
    meta = json.loads((folder / "config.json").read_text()).get("checkpoint", {})
    return {"float16": torch.float16, "bfloat16": torch.bfloat16}.get(meta.get("dtype"), torch.float32)


def _data(store, s: RefitSettings, train: list, held_out: list) -> dict:
    from derrvos_core.store.engine import redact

    def ids(samples, key):
        return sorted({int(x.extra["run_id"]) if key == "run" else int(x.video_id) for x in samples})

    return {"db": redact(store.url), "holdout": s.holdout, "seed": s.seed,
            "train_run_ids": ids(train, "run"), "held_out_run_ids": ids(held_out, "run"),
            "train_video_ids": ids(train, "video"), "held_out_video_ids": ids(held_out, "video")}


def _command(s: RefitSettings, db: str) -> str:
    return (f"python training/refit.py --db {db} --base {s.base} --out {s.out} "
            f"--holdout {s.holdout} --steps {s.steps} --seed {s.seed} --lr-multimodal {s.lr_multimodal:g} "
            f"--lr-rest {s.lr_rest:g} --batch-size {s.batch_size} --clip-length {s.clip_length} "
            f"--flip-prob {s.flip_prob}")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    d = RefitSettings(base="", out="")
    p.add_argument("--db", default=None, help="store URL (default: $DERRVOS_DB, else sqlite:///derrvos.db)")
    p.add_argument("--base", required=True,
                   help="checkpoint folder of the model to refit; default / real / a real model folder: "
                        "training/refit_real.py")
    p.add_argument("--out", required=True, help="new folder for the refit model")
    p.add_argument("--holdout", type=float, default=d.holdout, help="fraction of corrected videos held out")
    p.add_argument("--steps", type=int, default=d.steps)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--lr-multimodal", type=float, default=d.lr_multimodal, help="BEiT-3 learning rate")
    p.add_argument("--lr-rest", type=float, default=d.lr_rest, help="TAIS learning rate")
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--clip-length", type=int, default=d.clip_length)
    p.add_argument("--flip-prob", type=float, default=d.flip_prob)
    p.add_argument("--crop-size", type=int, default=None, help="default: the base model's")
    p.add_argument("--threshold", type=float, default=None, help="default: the base model's")
    p.add_argument("--name", default=None, help="model name of the result (default: <base name>-refit)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--no-train-eval", action="store_true", help="score only the held-out expressions")
    p.add_argument("--no-progress", action="store_true")
    return p


def is_real_base(base: str) -> bool:
    """Whether --base names a real model: default, real, or a folder whose config.json says kind real."""
    from derrvos_core.model.real import is_real_folder

    return base in ("default", "real") or is_real_folder(Path(base))


def main(argv: list[str] | None = None) -> int:
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--base")
    base = pre.parse_known_args(argv)[0].base
    if base is not None and is_real_base(base):
        from training.refit_real import main as refit_real_main

        return refit_real_main(argv)
    a = build_parser().parse_args(argv)
    settings = RefitSettings(base=a.base, out=a.out, db=a.db, holdout=a.holdout, steps=a.steps, seed=a.seed,
                             lr_multimodal=a.lr_multimodal, lr_rest=a.lr_rest, batch_size=a.batch_size,
                             clip_length=a.clip_length, flip_prob=a.flip_prob, crop_size=a.crop_size,
                             threshold=a.threshold, name=a.name, num_threads=a.threads,
                             eval_train=not a.no_train_eval, progress=not a.no_progress)
    try:
        result = refit(settings)
    except DeRVOSError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(format_table(result.report))
    print(f"{result.version} (base {result.base_version}) saved to {result.out_dir} and registered")
    return 0


if __name__ == "__main__":
    sys.exit(main())
