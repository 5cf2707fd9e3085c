"""Selection rules beyond one threshold, swept from one model run per expression of a SynthRef split.

    python training/selection_rules.py --checkpoint synthref --root data/synthref --split valid --limit 120

The model runs once per expression at crop size 36 (as `training/ablate.py`'s threshold sweep); every rule
then re-selects from the result's trajectory scores, with no model call:
- threshold t: the trajectories at score >= t (`SegmentationResult.select`, the shipped rule);
- relative (t, r, floor): those, plus in every crop whose top score reaches `floor` the trajectories at
  >= r x that top score (a weak but clear winner of its crop is kept);
- gated (t, gate): nothing when no trajectory of the whole video reaches `gate`, else those at >= t (t below
  the gate: whether the video holds a target is decided on its best trajectory, which trajectories are
  its answer on a lower bar).
It prints, per category, the quartiles of each expression's top trajectory score (how far "nothing fits"
lies from a weak match) and, for every rule, J&F over all expressions and per category. Rules are chosen
on valid; a test split is for reading the chosen one.
"""
from __future__ import annotations

import argparse
import itertools
import json
import sys
from dataclasses import replace
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from derrvos_core.datasets import open_dataset  # noqa: E402
from derrvos_core.evaluation.scoring import score_masks  # noqa: E402

THRESHOLDS = (0.2, 0.25, 0.3, 0.35)
RATIOS = (0.5, 0.6, 0.7, 0.8)
FLOORS = (0.2, 0.25, 0.3)
GATED = (0.15, 0.2, 0.25)
GATES = (0.3, 0.35, 0.4)


def relative_selection(result, threshold: float, ratio: float, floor: float) -> tuple:
    """trajectory_ids of `result.select(threshold)` plus, per crop whose top score reaches `floor`, those
    at >= ratio x that top score."""
    chosen = set(result.select(threshold).selected)
    top: dict[int, float] = {}
    for t in result.trajectories:
        top[t.crop_index] = max(top.get(t.crop_index, 0.0), t.score)
    chosen |= {t.trajectory_id for t in result.trajectories
               if top[t.crop_index] >= floor and t.score >= ratio * top[t.crop_index]}
    return tuple(sorted(chosen))


def gated_selection(result, threshold: float, gate: float) -> tuple:
    """trajectory_ids at score >= `threshold` when some trajectory of the video reaches `gate`, else none."""
    if max((t.score for t in result.trajectories), default=0.0) < gate:
        return ()
    return tuple(sorted(t.trajectory_id for t in result.trajectories if t.score >= threshold))


def rules(thresholds=THRESHOLDS, ratios=RATIOS, floors=FLOORS, gated=GATED, gates=GATES) -> list[tuple]:
    """("threshold", t) for each t, then ("relative", t, r, floor) and ("gated", t, gate) for each
    combination."""
    return [("threshold", t) for t in thresholds] + [("relative", *c) for c in
                                                      itertools.product(thresholds, ratios, floors)] \
        + [("gated", *c) for c in itertools.product(gated, gates)]


def select(result, rule: tuple):
    """`result` re-selected by `rule` (see `rules`)."""
    if rule[0] == "threshold":
        return result.select(rule[1])
    chosen = gated_selection if rule[0] == "gated" else relative_selection
    return replace(result, selected=chosen(result, *rule[1:]))


def sweep(model, samples, rule_list, crop_size: int = 36, progress=print) -> dict:
    """{"top_scores": {category: [top score per expression]}, "jf": {rule: {category: [J&F]}}}."""
    tops: dict[str, list[float]] = {}
    jf: dict[tuple, dict[str, list[float]]] = {r: {} for r in rule_list}
    for n, sample in enumerate(samples, 1):
        gt = np.asarray(sample.target_masks, dtype=bool)
        result = model.segment(sample.load_frames(), sample.expression,
                               model.defaults.settings(crop_size=crop_size))
        category = sample.category or "all"
        tops.setdefault(category, []).append(max((t.score for t in result.trajectories), default=0.0))
        for rule in rule_list:
            jf[rule].setdefault(category, []).append(score_masks(gt, select(result, rule).masks).JF)
        if progress and (n % 20 == 0 or n == len(samples)):
            progress(f"  {n}/{len(samples)} expressions")
    return {"top_scores": tops, "jf": jf}


def rule_name(rule: tuple) -> str:
    if rule[0] == "threshold":
        return f"score >= {rule[1]:g}"
    if rule[0] == "gated":
        return f"score >= {rule[1]:g} if the video's top >= {rule[2]:g}"
    return f"score >= {rule[1]:g} or >= {rule[2]:g} x crop top (top >= {rule[3]:g})"


def report(res: dict) -> tuple[str, dict]:
    """A markdown report and its numbers (rules sorted by J&F over all expressions, best first)."""
    categories = sorted(res["top_scores"])
    lines = ["Top trajectory score per expression (median, quartiles):", "",
             "| category | n | median | p25 | p75 |", "|---|---|---|---|---|"]
    tops = {}
    for c in categories:
        q = np.percentile(res["top_scores"][c], [50, 25, 75])
        tops[c] = {"n": len(res["top_scores"][c]), "median": q[0], "p25": q[1], "p75": q[2]}
        lines.append(f"| {c} | {tops[c]['n']} | {q[0]:.3f} | {q[1]:.3f} | {q[2]:.3f} |")
    rows = []
    for rule, by_cat in res["jf"].items():
        every = [x for c in categories for x in by_cat[c]]
        rows.append({"rule": rule_name(rule), "all": float(np.mean(every)),
                     **{c: float(np.mean(by_cat[c])) for c in categories}})
    rows.sort(key=lambda r: -r["all"])
    lines += ["", "J&F per rule (best first):", "", "| rule | all | " + " | ".join(categories) + " |",
              "|---|---|" + "---|" * len(categories)]
    lines += [f"| {r['rule']} | {r['all']:.3f} | " + " | ".join(f"{r[c]:.3f}" for c in categories) + " |"
              for r in rows]
    return "\n".join(lines), {"top_scores": tops, "rules": rows}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", default="synthref", help="the SynthRef model (default) or a DeRVOS folder")
    p.add_argument("--root", default="data/synthref")
    p.add_argument("--split", default="valid")
    p.add_argument("--limit", type=int, default=120, help="first N expressions only")
    p.add_argument("--crop-size", type=int, default=36)
    p.add_argument("--out", default=None, help="folder for selection_rules.md and .json")
    args = p.parse_args(argv)
    from derrvos_core.model import load_model
    from training.trainer.fast_eval import memoize_trajectories

    model = memoize_trajectories(load_model(args.checkpoint), max_crops=64)  # a video's crops, once
    dataset = open_dataset("synthref", args.root, args.split)
    n = len(dataset) if args.limit is None else min(args.limit, len(dataset))
    table, numbers = report(sweep(model, [dataset[i] for i in range(n)], rules(), args.crop_size))
    print(table)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "selection_rules.md").write_text(table + "\n")
        (out / "selection_rules.json").write_text(json.dumps(numbers, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
