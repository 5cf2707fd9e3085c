"""Training ablations of stage 4 on SynthRef: the motion stream, clip length T and decoder layers N_d.

    python training/ablate_train.py motion           # without / as first shipped / crop kinematics / + path summary
    python training/ablate_train.py clip_length      # T in 4, 8, 12, 16 (seed: local peak at 8, best at 12)
    python training/ablate_train.py decoder_layers   # N_d in 1, 2, 3, 4, 6 (seed: gains plateau beyond 3)

Every variant is the same stage-4 run (training/configs/synthref_tiny_derrvos.yaml) on the same frozen
trajectory branch (`--branch`, the shipped SynthRef model's by default) and its shared trajectory cache,
the same seed, data order and schedule (`--steps`, lr x 0.1 at 7/8 of it), with one setting changed.
The "base" variant (T = 8, N_d = 3, kinematics over the crop + path summary) is trained once and serves
all three; each variant's overrides apply on top of the base settings.

Each trained variant is scored on the first `--limit` expressions of SynthRef valid: one model run per
expression at crop size 36, then every threshold 0.1 ... 0.9 from the same scores; the table reports each
variant at its own best threshold (as the pipeline calibrates one) and at 0.3, per category, beside the
largest-trajectory baseline of the same trajectories. Resumable: a finished run or score is not redone.
Writes ablation_<name>.json/.md/.png into `--out` and refreshes the model card's Ablations section.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CONFIG = "training/configs/synthref_tiny_derrvos.yaml"
THRESHOLDS = tuple(round(0.1 * i, 1) for i in range(1, 10))
GROUPS = ("all", "appearance", "motion", "position", "relation", "multi_target", "no_target")

#: variant -> (label, `--set` overrides); "base" is shared by every ablation.
BASE_SETTINGS = ["tais.motion_summary=true", "options.motion_from_crop=true"]
ABLATIONS = {
    "motion": {
        "claim": "the seed's motion-guided selector: motion features should lift motion expressions",
        "axis": "motion stream",
        "variants": {
            "none": ("no motion stream", ["tais.motion_stream=false"]),
            "sampled": ("per-frame kinematics of the T sampled frames (shipped default)",
                        ["tais.motion_summary=false", "options.motion_from_crop=false"]),
            "crop": ("per-frame kinematics over the crop", ["tais.motion_summary=false"]),
            "base": ("crop kinematics + path summary", []),
        },
    },
    "clip_length": {
        "claim": "seed: J&F has a local peak at T = 8 and is best at T = 12",
        "axis": "training clip length T (frames)",
        "variants": {"T4": ("4", ["data.clip_length=4"]), "base": ("8", []),
                     "T12": ("12", ["data.clip_length=12"]), "T16": ("16", ["data.clip_length=16"])},
    },
    "decoder_layers": {
        "claim": "seed: gains plateau beyond N_d = 3",
        "axis": "decoder layers N_d",
        "variants": {"Nd1": ("1", ["tais.num_layers=1"]), "Nd2": ("2", ["tais.num_layers=2"]),
                     "base": ("3", []), "Nd4": ("4", ["tais.num_layers=4"]),
                     "Nd6": ("6", ["tais.num_layers=6"])},
    },
}


def train_variant(name: str, overrides: list[str], args) -> Path:
    """Train one variant (resumable); returns its final model folder."""
    out = ROOT / args.runs / name
    if (out / "final" / "model.safetensors").is_file():
        return out / "final"
    branch = Path(args.branch)
    steps = int(args.steps)
    tokenizer = f"tokenizer={branch / 'tokenizer.spm'}" if (branch / "tokenizer.spm").is_file() \
        else "options.tokenizer=bytes"  # a branch saved without a sentencepiece model reads UTF-8 bytes
    common = ["init=null", f"init_trajectory={branch}", tokenizer,
              f"name=ablate_{name}", f"out={out}", f"data.cache_dir={Path(args.cache).resolve()}",
              f"data.root={args.root}", f"schedule.max_steps={steps}", f"schedule.decay_steps=[{steps * 7 // 8}]",
              f"schedule.warmup_steps={min(200, steps // 8)}", f"checkpoint_every={max(steps // 4, 50)}", "seed=0"]
    command = [sys.executable, "training/train.py", "--config", CONFIG, "--resume", "--no-progress"]
    for item in common + overrides:
        command += ["--set", item]
    print(f"[{time.strftime('%H:%M:%S')}] train {name}: {' '.join(overrides) or '(base)'}", flush=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=env, check=True)
    (out / "wall_seconds.txt").write_text(f"{time.perf_counter() - start:.0f}\n")
    return out / "final"


def score_variant(checkpoint: Path, args) -> dict:
    """Per-threshold, per-category J&F on the first `limit` valid expressions (cached in scores.json)."""
    path = checkpoint.parent / f"scores-{args.split}-{args.limit}.json"
    if path.is_file():
        return json.loads(path.read_text())
    import torch

    from derrvos_core.datasets import open_dataset
    from derrvos_core.evaluation.baselines import compose, decode_trajectories, largest_selection
    from derrvos_core.evaluation.scoring import score_masks
    from derrvos_core.model import load_model
    from training.trainer.fast_eval import memoize_trajectories

    torch.set_num_threads(1)
    model = memoize_trajectories(load_model(str(checkpoint)))
    samples = open_dataset("synthref", args.root, args.split)
    total = min(args.limit, len(samples)) if args.limit else len(samples)
    rows, start = [], time.perf_counter()
    for i in range(total):
        sample = samples[i]
        frames, gt = sample.load_frames(), np.asarray(sample.target_masks, dtype=bool)
        result = model.segment(frames, sample.expression, model.defaults.settings(crop_size=36, threshold=0.5))
        row = {"category": sample.category,
               "model": {str(t): score_masks(gt, result.select(t).masks).JF for t in THRESHOLDS}}
        trajectories = decode_trajectories(result)
        largest = compose(trajectories, largest_selection(trajectories), *gt.shape)
        row["largest"] = score_masks(gt, largest).JF
        rows.append(row)
        if (i + 1) % 25 == 0 or i + 1 == total:
            print(f"  scored {i + 1}/{total} ({time.perf_counter() - start:.0f} s)", flush=True)
    path.write_text(json.dumps(rows))
    return rows


def summarise(rows: list) -> dict:
    """Best threshold over all expressions; J&F per group at it, at 0.3, and of the largest baseline."""
    def mean(values):
        return float(np.mean(values)) if values else float("nan")

    by_t = {t: mean([r["model"][t] for r in rows]) for t in map(str, THRESHOLDS)}
    best = max(by_t, key=by_t.get)
    out = {"best_threshold": float(best), "by_threshold": by_t, "groups": {},
           "per_expression": [r["model"][best] for r in rows]}  # in split order: for paired comparisons
    for g in GROUPS:
        sel = [r for r in rows if g == "all" or r["category"] == g]
        out["groups"][g] = {"n": len(sel), "best": mean([r["model"][best] for r in sel]),
                            "at_0.3": mean([r["model"]["0.3"] for r in sel]),
                            "largest": mean([r["largest"] for r in sel])}
    return out


def paired_interval(a: list[float], b: list[float], draws: int = 4000, seed: int = 0) -> tuple[float, float, float]:
    """mean(a) - mean(b) over the same expressions, with its 95% paired-bootstrap interval (expressions
    resampled with replacement, `draws` times)."""
    diff = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    if diff.size == 0:
        raise ValueError("no expressions to compare")
    means = diff[np.random.default_rng(seed).integers(0, diff.size, (draws, diff.size))].mean(axis=1)
    return float(diff.mean()), float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def _versus_base(key: str, results: dict) -> str:
    """The table's "all - base" cell: the paired difference and its interval, where both rows kept their
    per-expression scores."""
    if key == "base":
        return "(reference)"
    a, b = results.get(key, {}).get("per_expression"), results.get("base", {}).get("per_expression")
    if not a or not b or len(a) != len(b):
        return "n/a"
    mean, low, high = paired_interval(a, b)
    return f"{mean:+.3f} [{low:+.3f}, {high:+.3f}]"


def markdown(name: str, spec: dict, results: dict, args) -> str:
    shown = ("all", "motion", "position", "appearance")
    base_label = spec["variants"]["base"][0]
    lines = [f"### {spec['axis']}", "",
             (f"`python training/ablate_train.py {name}`: stage 4 retrained per row on the same frozen trajectory "
             f"branch, seed and {args.steps}-step schedule; SynthRef {args.split}, first {args.limit} expressions, "
             "crop size 36. J&F at each row's own best threshold (in brackets: at 0.3). The last column: "
             f"the row's J&F over all expressions minus the base row's ({base_label}), with its 95% "
             "paired-bootstrap interval over expressions (n/a: a row scored before per-expression scores "
             "were kept)."), "",
             "| " + spec["axis"] + " | best threshold | " + " | ".join(shown) + " | all - base [95%] |",
             "|---|---|" + "---|" * len(shown) + "---|"]
    for key, (label, _) in spec["variants"].items():
        if key not in results:
            lines.append(f"| {label} | not run | " + " | ".join("" for _ in shown) + " | |")
            continue
        s = results[key]
        cells = [f"{s['groups'][g]['best']:.3f} ({s['groups'][g]['at_0.3']:.3f})" for g in shown]
        lines.append(f"| {label} | {s['best_threshold']:.1f} | " + " | ".join(cells) +
                     f" | {_versus_base(key, results)} |")
    any_result = next(iter(results.values()), None)
    if any_result:
        cells = [f"{any_result['groups'][g]['largest']:.3f}" for g in shown]
        lines.append("| largest trajectory (baseline) | | " + " | ".join(cells) + " | |")
        counts = ", ".join(f"{g} {any_result['groups'][g]['n']}" for g in shown)
        lines += ["", f"Expressions per group: {counts}. Claim compared: {spec['claim']}.", "",
                  f"![{spec['axis']}](ablation_{name}.png)"]
    return "\n".join(lines) + "\n"


def plot(name: str, spec: dict, results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [k for k in spec["variants"] if k in results]
    labels = [spec["variants"][k][0] for k in keys]
    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    for group, style in (("all", "o-"), ("motion", "s--"), ("position", "^:")):
        ax.plot(range(len(keys)), [results[k]["groups"][group]["best"] for k in keys], style, label=group)
    if keys:
        ax.axhline(results[keys[0]]["groups"]["motion"]["largest"], color="grey", lw=0.8, ls="--")
        ax.text(0, results[keys[0]]["groups"]["motion"]["largest"], " largest, motion", color="grey", fontsize=7,
                va="bottom")
    short = labels if name != "motion" else [k for k in keys]
    ax.set_xticks(range(len(keys)), short)
    ax.set_xlabel(spec["axis"])
    ax.set_ylabel("J&F (best threshold)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(spec["claim"], fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("ablation", choices=sorted(ABLATIONS))
    p.add_argument("--branch", default="assets/models/derrvos-tiny-synthref",
                   help="DeRVOS model folder whose frozen trajectory branch and tokenizer every variant uses")
    p.add_argument("--root", default="data/synthref")
    p.add_argument("--split", default="valid")
    p.add_argument("--limit", type=int, default=150, help="score the first N expressions of the split")
    p.add_argument("--steps", type=int, default=800, help="stage-4 steps of every variant")
    p.add_argument("--runs", default="runs/ablate", help="run folders")
    p.add_argument("--cache", default="runs/branch-cache",
                   help="the frozen branch's trajectory cache (shared with train_default.py --branch)")
    p.add_argument("--only", nargs="*", default=None, help="these variants only (e.g. base T4)")
    p.add_argument("--out", default="assets/models/derrvos-tiny-synthref")
    p.add_argument("--report", action="store_true", help="rewrite the table and plot from the stored results only")
    args = p.parse_args(argv)
    spec = ABLATIONS[args.ablation]
    results_path = Path(args.out) / f"ablation_{args.ablation}.json"
    stored = json.loads(results_path.read_text()) if results_path.is_file() else {}
    results = stored.get("results", {})
    order = ["base"] + [k for k in spec["variants"] if k != "base"]  # the shared run first
    if args.report:
        args.steps, args.split, args.limit = stored["steps"], stored["split"], stored["limit"]
        order = []
        for key in spec["variants"]:  # re-summarised from the stored scores where the runs are here
            run = "base" if key == "base" else f"{args.ablation}-{key}"
            scores = ROOT / args.runs / run / f"scores-{args.split}-{args.limit}.json"
            if scores.is_file():
                results[key] = {**results.get(key, {}), **summarise(json.loads(scores.read_text()))}
        results_path.write_text(json.dumps({**stored, "results": results}, indent=2))
        (Path(args.out) / f"ablation_{args.ablation}.md").write_text(markdown(args.ablation, spec, results, args))
        plot(args.ablation, spec, results, Path(args.out) / f"ablation_{args.ablation}.png")
    for key in order:
        overrides = spec["variants"][key][1]
        if args.only and key not in args.only:
            continue
        run = "base" if key == "base" else f"{args.ablation}-{key}"
        final = train_variant(run, BASE_SETTINGS + overrides, args)
        results[key] = summarise(score_variant(final, args))
        wall = ROOT / args.runs / run / "wall_seconds.txt"
        results[key]["train_seconds"] = float(wall.read_text()) if wall.is_file() else None
        results_path.parent.mkdir(parents=True, exist_ok=True)
        results_path.write_text(json.dumps({"ablation": args.ablation, "steps": args.steps, "split": args.split,
                                            "limit": args.limit, "branch": str(args.branch), "results": results},
                                           indent=2))
        (Path(args.out) / f"ablation_{args.ablation}.md").write_text(markdown(args.ablation, spec, results, args))
        plot(args.ablation, spec, results, Path(args.out) / f"ablation_{args.ablation}.png")
        print(markdown(args.ablation, spec, results, args), flush=True)
    from training.ablate import refresh_card_ablations

    refresh_card_ablations(Path(args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
