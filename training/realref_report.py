"""RealRef report: per category, a model's answer against the oracle, largest-trajectory and random
selections of its own trajectories (box IoU on keyframes, J&F on the masked ones).

    python training/realref_report.py --checkpoint default --split test [--out runs/realref/real-test]
    python training/realref_report.py --checkpoint synthref --split all

Needs the clips: python training/realref_setup.py.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from derrvos_core.model.catalog import load_model  # noqa: E402
from training.realref_eval import DEFAULT_ROOT, evaluate_model, format_table, load_clips, summarize  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", default="default", help="model folder or name (default, real, synthref)")
    p.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="RealRef set-up folder")
    p.add_argument("--split", default="test", choices=["tune", "test", "all"])
    p.add_argument("--crop-size", type=int, default=None, help="default: the model's")
    p.add_argument("--threshold", type=float, default=None, help="default: the model's")
    p.add_argument("--link-crops", action="store_true", help="link crops (default: the model's own default)")
    p.add_argument("--out", type=Path, default=None, help="write summary.json, rows.json and table.md here")
    args = p.parse_args(argv)
    model = load_model(args.checkpoint)
    settings = model.defaults.settings(args.crop_size, args.threshold, link_crops=args.link_crops or None)
    clips = load_clips(args.root, args.split)
    start = time.time()
    rows = evaluate_model(model, args.root, clips, settings, progress=lambda m: print(m, file=sys.stderr))
    summary = summarize(rows)
    label = (f"{model.version} on RealRef {args.split} ({len(rows)} expressions; crop {settings.crop_size}, "
             f"threshold {settings.threshold}, linking {'on' if settings.link_crops else 'off'})")
    table = format_table(summary, label)
    print(table)
    print(f"{time.time() - start:.0f} s", file=sys.stderr)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "summary.json").write_text(json.dumps(summary, indent=2))
        (args.out / "table.md").write_text(table)
        (args.out / "rows.json").write_text(json.dumps([
            {"clip": r.clip_id, "expression_id": r.expression_id, "text": r.text, "category": r.category,
             "split": r.split, "selected": r.selected, "best_score": r.best_score, "ignored": list(r.ignored),
             "scores": {k: v.as_dict() for k, v in r.scores.items()}} for r in rows], indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
