"""Fit the real model's selector numbers and threshold on the RealRef tuning split, and write them into
the model's config.json (the test split is never read here).

    python training/fit_real_selector.py [--checkpoint default] [--trials 300] [--dry-run]

The detector branch runs once per tuning clip (its per-crop trajectory facts are recorded); every trial
then re-scores the facts with other numbers, so a trial costs no model call. Objective: the mean over
expressions of (box IoU + J&F where masks are drawn) / 2 of the answer at the threshold, each category
weighted equally (so the six "none" expressions of a clip do not outweigh its two motion ones).
Search: random trials around the current numbers, each at the best of the thresholds 0.05 .. 0.95.
`search` maximises any `SelectionObjective` (training/refit_real.py passes the J&F of re-scored answers
against stored corrections).
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from dataclasses import asdict
from pathlib import Path
from typing import Protocol

import numpy as np

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from derrvos_core.evaluation.realref_selection import objective, score_answer  # noqa: E402
from derrvos_core.model.cache import SegmentCache  # noqa: E402
from derrvos_core.model.catalog import load_model, model_folder  # noqa: E402
from derrvos_core.model.real import read_real_config, write_selector  # noqa: E402
from derrvos_core.selection import SelectorParams  # noqa: E402
from training.realref_eval import DEFAULT_ROOT, load_clips, record_clip, rescore  # noqa: E402

THRESHOLDS = tuple(np.round(np.arange(0.05, 0.96, 0.05), 2))
#: Ranges searched for each number (log-uniform where the number is a scale).
RANGES = {"class_power": (0.3, 3.0), "candidate_floor": (0.1, 0.6), "quality_power": (0.0, 2.0),
          "rank_decay": (0.05, 0.8), "soft_power": (0.3, 3.0), "colour_width": (0.02, 1.0), "colour_min": (-0.5, 0.6), "related_missing": (0.05, 1.0),
          "moving_speed": (0.003, 0.05), "speed_width": (0.001, 0.03),
          "direction_width": (0.005, 0.1), "count_factor": (0.1, 0.95)}


class SelectionObjective(Protocol):
    """What `search` maximises: for a trial's selector numbers, the value at each threshold in THRESHOLDS."""

    def curve(self, params: SelectorParams) -> dict[float, float]: ...


def best_on_curve(curve: dict[float, float]) -> tuple[float, float]:
    """(value, threshold) of the best point; ties go to the higher threshold (fewer false selections)."""
    threshold = max(curve, key=lambda t: (curve[t], t))
    return curve[threshold], threshold


class Tuning:
    """The recorded tuning clips and their parsed expressions; `curve(params)` scores a trial."""

    def __init__(self, model, root: Path, settings):
        cache = SegmentCache(max_bytes=2 << 30)
        self.runs = [record_clip(model, root, clip, settings, cache) for clip in load_clips(root, "tune")]
        self.items = [(run, exp_id, model.multimodal.read(exp.text).query, exp.category)
                      for run in self.runs for exp_id, exp in run.clip.expressions.items()]

    def curve(self, params: SelectorParams) -> dict[float, float]:
        """Objective at every threshold (category-balanced mean)."""
        per_threshold = {}
        for threshold in THRESHOLDS:
            by_category = defaultdict(list)
            for run, exp_id, query, category in self.items:
                result = rescore(run, query, params, float(threshold))
                by_category[category].append(objective(score_answer(result, run.clip, exp_id, run.frames)))
            per_threshold[float(threshold)] = float(np.mean([np.mean(v) for v in by_category.values()]))
        return per_threshold

    def best(self, params: SelectorParams) -> tuple[float, float]:
        return best_on_curve(self.curve(params))


def search(objective: SelectionObjective, start: SelectorParams, trials: int, seed: int, log
           ) -> tuple[SelectorParams, float, float]:
    """(numbers, value, threshold): the best of `start` and `trials` random steps from the best so far."""
    rng = np.random.default_rng(seed)
    best_params, (best_value, best_threshold) = start, best_on_curve(objective.curve(start))
    log(f"start: {best_value:.4f} at threshold {best_threshold}")
    for trial in range(trials):
        params = _perturb(best_params, rng, scale=1.0 if trial < trials // 2 else 0.4)
        value, threshold = best_on_curve(objective.curve(params))
        if value > best_value + 1e-9:
            best_params, best_value, best_threshold = params, value, threshold
            log(f"trial {trial}: {best_value:.4f} at threshold {best_threshold}")
    return best_params, best_value, best_threshold


def _perturb(params: SelectorParams, rng: np.random.Generator, scale: float) -> SelectorParams:
    """Change two to four numbers: log-normal steps clipped to their ranges."""
    values = asdict(params)
    names = rng.choice(sorted(RANGES), size=int(rng.integers(2, 5)), replace=False)
    for name in names:
        lo, hi = RANGES[name]
        values[name] = float(np.clip(values[name] * np.exp(rng.normal(0, 0.5 * scale)), lo, hi))
    return SelectorParams(**values)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", default="default")
    p.add_argument("--root", type=Path, default=DEFAULT_ROOT)
    p.add_argument("--trials", type=int, default=300)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--link-crops", action="store_true", help="fit with cross-crop linking on (default: the model's own default)")
    p.add_argument("--dry-run", action="store_true", help="print, do not write config.json")
    args = p.parse_args(argv)
    folder = model_folder(args.checkpoint)
    cfg = read_real_config(folder)
    model = load_model(folder)
    settings = model.defaults.settings(link_crops=args.link_crops or None)
    tuning = Tuning(model, args.root, settings)
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    log(f"{len(tuning.items)} tuning expressions on {len(tuning.runs)} clips")
    params, value, threshold = search(tuning, cfg.selector, args.trials, args.seed, log)
    curve = tuning.curve(params)
    print(json.dumps({"objective": value, "threshold": threshold, "selector": asdict(params),
                      "curve": curve}, indent=2))
    if not args.dry_run:
        log(f"wrote {write_selector(folder, params, threshold)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
