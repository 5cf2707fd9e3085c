"""Write an EvaluationReport: results.json (numbers) and per_expression.csv (one row per expression)."""
from __future__ import annotations

import csv
import json
from pathlib import Path

from derrvos_core.evaluation.baselines import BASELINES

_METRICS = ("J", "F", "JF", "tIoU", "vIoU", "IoU")
ORACLE_METHOD = "greedy forward selection on J&F over the trajectories that overlap the ground truth"
_NO_GT = "no ground truth in this split: only Annotations/ was written (for the benchmark server)"


def write_report(report, out_dir) -> dict:
    """Write results.json and per_expression.csv under out_dir; return {"results": path, "csv": path}."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    results = {"dataset": report.dataset, "split": report.split, "settings": report.settings,
               "has_ground_truth": report.has_ground_truth, "num_expressions": len(report.records),
               "overall": report.overall, "groups": report.groups, "seconds": round(report.seconds, 3),
               "seconds_per_expression": round(report.seconds / max(len(report.records), 1), 4),
               "oracle_method": ORACLE_METHOD,
               **report.info}
    if not report.has_ground_truth:
        results["note"] = _NO_GT
    results_path = out / "results.json"
    results_path.write_text(json.dumps(results, indent=2))
    csv_path = out / "per_expression.csv"
    methods = ("model",) + tuple(b for b in BASELINES if report.records and b in report.records[0].scores)
    with open(csv_path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        header = ["video_id", "expression_id", "expression", "category", "num_frames", "num_targets",
                  "num_trajectories", "selected"] + list(_METRICS) + [f"{m}_JF" for m in methods[1:]]
        writer.writerow(header)
        for r in report.records:
            model = r.scores.get("model")
            row = [r.video_id, r.expression_id, r.expression, r.groups.get("category", ""), r.num_frames,
                   r.num_targets, r.num_trajectories, " ".join(map(str, r.selected))]
            row += [f"{getattr(model, k):.6f}" if model else "" for k in _METRICS]
            row += [f"{r.scores[m].JF:.6f}" if m in r.scores else "" for m in methods[1:]]
            writer.writerow(row)
    return {"results": results_path, "csv": csv_path}


def format_summary(report) -> str:
    """A small table: one line per method (and per group value) with J&F, J, F, tIoU, vIoU, mIoU, oIoU."""
    if not report.has_ground_truth:
        n = len(report.records)
        return f"{report.dataset} {report.split}: {n} expressions predicted (no ground truth)"
    lines = [f"{report.dataset} {report.split}: {len(report.records)} expressions in {report.seconds:.1f} s",
             f"{'':24s} " + " ".join(f"{k:>6s}" for k in ("J&F", "J", "F", "tIoU", "vIoU", "mIoU", "oIoU"))
             + "    n"]
    for method, s in report.overall.items():
        lines.append(_line(method, s))
    for key, values in report.groups.items():
        for value, per_method in values.items():
            lines.append(_line(f"{key}={value}", per_method["model"]))
    return "\n".join(lines)


def _line(label: str, s: dict) -> str:
    vals = " ".join(f"{100 * s[k]:6.1f}" for k in ("JF", "J", "F", "tIoU", "vIoU", "mIoU", "oIoU"))
    return f"{label[:24]:24s} {vals} {s['count']:4d}"
