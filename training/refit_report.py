"""A refit's numbers: J, F and J&F of the held-out (and training) expressions before and after, as a
JSON-ready report, a printed table and the new model's card."""
from __future__ import annotations

import csv
from pathlib import Path

from derrvos_core.evaluation import EvalSettings, evaluate, model_segmenter

from .trainer.fast_eval import forget_trajectories, memoize_trajectories

SETS = ("held_out", "train")
_COLUMNS = ("JF", "J", "F")


def score_sets(model, sets: dict[str, list], settings: EvalSettings, work_dir: Path) -> dict[str, dict]:
    """{set: {"summary": {method: summarize dict}, "records": [ExpressionRecord]}} with the model's own
    selection (and the baselines when `settings.baselines`); PNGs go under `work_dir` only if asked."""
    out = {}
    was_training = model.training
    model.eval()
    # Expressions of a video come together (store order): its crops' trajectories are computed once.
    # A few crops only: a full-size crop's segmenter features take hundreds of MB.
    memoize_trajectories(model, max_crops=4)
    try:
        for name, samples in sets.items():
            if samples:
                report = evaluate(model_segmenter(model, settings), samples, work_dir / name, settings)
                out[name] = {"summary": report.overall, "records": report.records}
    finally:
        forget_trajectories(model)
        model.train(was_training)
    return out


def build_report(before: dict, after: dict, samples: dict[str, list]) -> dict:
    """{set: {"before", "after", "oracle"?, "count"}} and per-expression rows (J&F before / after)."""
    report: dict = {}
    for name in SETS:
        if name not in before:
            continue
        entry = {"before": before[name]["summary"]["model"], "after": after[name]["summary"]["model"],
                 "count": len(samples[name])}
        if "oracle" in before[name]["summary"]:  # the frozen trajectories' ceiling: same before and after
            entry["oracle"] = before[name]["summary"]["oracle"]
        report[name] = entry
    rows = []
    for name in SETS:
        if name not in before:
            continue
        for sample, old, new in zip(samples[name], before[name]["records"], after[name]["records"]):
            rows.append({"set": name, "run_id": sample.extra.get("run_id"), "video_id": sample.video_id,
                         "expression_id": sample.expression_id, "expression": sample.expression,
                         "JF_before": old.scores["model"].JF, "JF_after": new.scores["model"].JF,
                         "selected_before": list(old.selected), "selected_after": list(new.selected)})
    report["per_expression"] = rows
    return report


def format_table(report: dict) -> str:
    """A plain before/after table (percent) for the terminal."""
    names = " ".join(f"{k.replace('JF', 'J&F'):>6s}" for k in _COLUMNS)
    lines = [f"{'set':10s} {'model':8s} {names}     n"]
    for name in SETS:
        if name not in report:
            continue
        entry = report[name]
        for label in ("before", "after", "oracle"):
            if label in entry:
                s = entry[label]
                lines.append(f"{name:10s} {label:8s} " + " ".join(f"{100 * s[k]:6.1f}" for k in _COLUMNS)
                             + f" {s['count']:5d}")
        lines.append(f"{name:10s} {'change':8s} "
                     + " ".join(f"{100 * (entry['after'][k] - entry['before'][k]):+6.1f}" for k in _COLUMNS))
    return "\n".join(lines)


def markdown_table(report: dict) -> str:
    rows = ["| set | model | J&F | J | F | n |", "|---|---|---|---|---|---|"]
    for name in SETS:
        for label in ("before", "after", "oracle"):
            if name in report and label in report[name]:
                s = report[name][label]
                scores = " | ".join(f"{s[k]:.3f}" for k in _COLUMNS)
                rows.append(f"| {name} | {label} | {scores} | {s['count']} |")
    return "\n".join(rows) + "\n"


def write_per_expression(rows: list[dict], path: Path) -> None:
    columns = ["set", "run_id", "video_id", "expression_id", "expression", "JF_before", "JF_after"]
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([f"{row[c]:.6f}" if isinstance(row[c], float) else row[c] for c in columns])


def card_text(name: str, version: str, report: dict, command: str) -> str:
    """MODEL_CARD.md of a refit model: its base, its data (store run ids), its training and its scores."""
    data, train = report["data"], report["training"]
    return "\n".join([
        f"# {name}\n",
        f"Version: `{version}`\n",
        f"Refit of `{report['base_version']}` (from `{report['base_path']}`) on human corrections stored in "
        f"`{data['db']}`: TAIS (lr {train['lr_rest']:g}) and BEiT-3 (lr {train['lr_multimodal']:g}) "
        "fine-tuned with the stage-4 machinery; the trajectory branch (DVIS++) is frozen and unchanged.\n",
        "```\n" + command + "\n```\n",
        "## Data\n",
        f"Corrected expressions split by video (held-out fraction {data['holdout']}, seed {data['seed']}):\n",
        f"- train: {len(data['train_run_ids'])} expressions on videos {data['train_video_ids']}, "
        f"run ids {data['train_run_ids']}",
        f"- held out: {len(data['held_out_run_ids'])} expressions on videos {data['held_out_video_ids']}, "
        f"run ids {data['held_out_run_ids']}\n",
        "## Training\n",
        f"{train['steps']} steps, batch {train['batch_size']}, clips of {train['clip_length']} frames, flip "
        f"probability {train['flip_prob']}, seed {data['seed']}; {train['wall_seconds']:.0f} s; loss "
        f"{train['first_loss']:.4f} (first logged) -> {train['last_loss']:.4f} (last logged).\n",
        "## Before / after\n",
        f"J, F, J&F of the model's own selection (crop size {report['eval']['crop_size']}, threshold "
        f"{report['eval']['threshold']}) against the corrected answers. `oracle` is the best selection of "
        "the frozen trajectories given the answer (the ceiling of any refit).\n",
        markdown_table(report),
        "Per expression: `refit_per_expression.csv`; everything: `refit_report.json`.\n",
    ])
