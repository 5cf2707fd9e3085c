"""The shipped model's card: how it was made (commands, seeds, wall time, hardware) and how it scores."""
from __future__ import annotations

import json
import os
import platform
import subprocess
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
METHODS = ("model", "random", "largest", "oracle")
SIZE_LIMIT_MB = 40


def hardware() -> str:
    cpu = "unknown CPU"
    if Path("/proc/cpuinfo").is_file():
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return (f"{os.cpu_count()} CPU cores ({cpu}), shared with other jobs; no GPU; "
            f"torch {torch.__version__}, Python {platform.python_version()}")


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def results_table(results: dict) -> str:
    """Markdown: overall and per-category J&F / J / F for the model and the baselines."""
    head = "| split / group | method | J&F | J | F | n |\n|---|---|---|---|---|---|\n"
    rows = []
    for method in METHODS:
        if method in results.get("overall", {}):
            s = results["overall"][method]
            rows.append(f"| all | {method} | {s['JF']:.3f} | {s['J']:.3f} | {s['F']:.3f} | {s['count']} |")
    for key, values in results.get("groups", {}).items():
        for value, per_method in values.items():
            for method in METHODS:
                if method in per_method:
                    s = per_method[method]
                    rows.append(f"| {key}={value} | {method} | {s['JF']:.3f} | {s['J']:.3f} | {s['F']:.3f} "
                                f"| {s['count']} |")
    return head + "\n".join(rows) + "\n"


def stage_table(pipeline: dict) -> str:
    head = "| step | wall time (min) | steps | steps/s (last session) | command |\n|---|---|---|---|---|\n"
    rows = []
    for step, entry in pipeline.items():
        info = ROOT / "runs" / step / "final" / "training.json"
        extra = json.loads(info.read_text()) if info.is_file() else {}
        rate = extra.get("steps_per_second_last_session", extra.get("steps_per_second"))
        rows.append(f"| {step} | {entry['seconds'] / 60:.1f} | {extra.get('steps', '')} | "
                    f"{'' if rate is None else f'{rate:.2f}'} | `{entry['command'].replace(str(ROOT) + '/', '')}` |")
    return head + "\n".join(rows) + "\n"


def card_text(results: dict | None, pipeline: dict, notes: str = "") -> str:
    total = sum(e["seconds"] for e in pipeline.values()) / 60
    parts = [
        "# derrvos-tiny-synthref\n",
        "The default DeRVOS model of DeRVOS Studio: the `tiny` configuration (DVIS++-style trajectory "
        "branch, BEiT-3-style multiway encoder, TAIS with N_d = 3) trained from nothing on SynthRef, "
        "the project's procedural referring-video benchmark. It knows SynthRef's world only "
        "(coloured, textured shapes that move, stop, turn, bounce, leave and come back); it is a "
        "working default for the app and a check of the pipeline, not a model of real videos.\n",
        "## How it was made\n",
        f"Code at commit `{git_commit()}`. One command reproduces everything (resumable):\n",
        "```\npython training/train_default.py\n```\n",
        "which runs, in order (data seeds: train 0, valid 1, test 2; 128 x 128 frames):\n",
        stage_table(pipeline),
        f"Total wall time: {total:.0f} min on {hardware()}.\n",
        "Stage-4 trajectory cache: the frozen branch runs once per video, in consecutive crops of 36 frames "
        "(as inference cuts videos), on the unflipped video; training clips sample their 8 frames inside "
        "one cached crop. The flip augmentation mirrors the cached masks and boxes, the frames BEiT-3 sees "
        "and the target, and swaps left/right in the text; the trajectory embeddings of the mirrored "
        "video are not recomputed (an approximation that halves the cache cost).\n",
        "Weights are stored in float16 (they load as float32).\n",
    ]
    if results:
        s = results.get("settings", {})
        parts += ["## SynthRef test results\n",
                  f"`training/evaluate.py --dataset synthref --split test` numbers (crop size {s.get('crop_size')}, "
                  f"threshold {s.get('threshold')}; {results.get('num_expressions')} expressions; run by "
                  f"{results.get('evaluated_by', 'training/evaluate.py')}). Baselines "
                  "use the model's own trajectories: random (a random trajectory), largest (the largest "
                  f"one), oracle ({results.get('oracle_method', 'best subset given the ground truth')}).\n",
                  results_table(results)]
    if notes:
        parts += ["## Notes\n", notes + "\n"]
    return "\n".join(parts)


def ship_model(checkpoint: Path, out_dir: Path, results_path: Path, pipeline_path: Path, notes: str = "") -> Path:
    """Save `checkpoint` in float16 with its card into out_dir; check it reloads and fits the size limit."""
    from derrvos_core.model import load_model

    model = load_model(str(checkpoint))
    results = json.loads(Path(results_path).read_text()) if Path(results_path).is_file() else None
    pipeline = json.loads(Path(pipeline_path).read_text()) if Path(pipeline_path).is_file() else {}
    model.save(out_dir, card_text=card_text(results, pipeline, notes), dtype=torch.float16)
    from training.ablate import refresh_card_ablations

    refresh_card_ablations(Path(out_dir))  # the ablation notes the folder already holds
    size = sum(p.stat().st_size for p in Path(out_dir).iterdir() if p.is_file()) / 2**20
    if size >= SIZE_LIMIT_MB:
        raise RuntimeError(f"{out_dir} is {size:.1f} MB; the shipped model must stay under {SIZE_LIMIT_MB} MB")
    load_model(str(out_dir))  # the shipped folder must load as the app will load it
    return Path(out_dir)
