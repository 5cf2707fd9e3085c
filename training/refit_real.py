r"""Refit the real model's selector numbers and threshold on the corrections stored by the app.

    python training/refit_real.py --db sqlite:///derrvos.db --base default --out runs/refit/real-1 \
        [--trials 200] [--seed 0] [--frame-stride 5] [--holdout 0] [--realref-split test]
    python training/refit.py --db ... --base default --out ...      (refit.py dispatches here)

1. reads every corrected (video, expression) whose run was made with a real model (the base's version or
   name, or a registered real model folder); its target is the store's corrected answer (`final_masks`);
2. runs the base's detector branch again on each stored video at the run's settings and records every
   crop's trajectory facts (the branch is deterministic: the trajectories are the stored run's, which is
   checked; a run whose trajectories differ is left out and named in the report);
3. searches the selector numbers and threshold with `fit_real_selector.search`, maximising the mean J&F
   (derrvos_core/metrics.py) of the re-scored answer against the corrected answers, on every
   `--frame-stride`-th frame and every frame a human drew on (no model call per trial);
4. writes the refit model (a copy of the base folder with the new config.json, and a MODEL_CARD.md
   section saying what it was refit on), scores the saved model again on the corrections and, when the
   RealRef clips are set up, base and refit on the held-out RealRef split (box IoU and J&F per category);
5. moves it to --out with refit_report.json and registers the version in the store (base_version = the
   base's version).

As in refit.py, everything is built in a hidden folder beside --out and moved in at the end, and the
store is written once, after the move.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from derrvos_core.errors import DeRVOSError, InputError  # noqa: E402
from derrvos_core.model.real import write_selector  # noqa: E402
from derrvos_core.selection import SelectorParams  # noqa: E402
from training.fit_real_selector import THRESHOLDS, search  # noqa: E402
from training.realref_eval import DEFAULT_ROOT  # noqa: E402
from training.refit import REPORT, RefitResult, publish  # noqa: E402
from training.refit_real_data import CorrectedRun, CorrectionsObjective, load_corrections, real_runs  # noqa: E402
from training.refit_report import write_per_expression  # noqa: E402

PER_EXPRESSION = "refit_per_expression.csv"


@dataclass(frozen=True)
class RealRefitSettings:
    """One refit of a real model."""

    base: str  # real model folder, or "default" / "real"
    out: str  # folder to create with the refit model (must not exist or be empty)
    db: str | None = None  # store URL; None: $DERRVOS_DB, else sqlite:///derrvos.db
    trials: int = 200  # random search trials (each re-scores every correction at every threshold)
    seed: int = 0  # search seed (and the held-out video choice)
    frame_stride: int = 5  # score every n-th frame (and every frame a human drew on)
    holdout: float = 0.0  # fraction of corrected videos kept out of the fit and reported apart; 0: none
    realref_root: Path = DEFAULT_ROOT  # RealRef set-up folder (training/realref_setup.py)
    realref_split: str | None = "test"  # RealRef split scored before and after; None: skip
    name: str | None = None  # model name of the result; None: "<base name>-refit"


# -- the refit -----------------------------------------------------------------------------------------
def refit_real(s: RealRefitSettings, log=print) -> RefitResult:
    """Run the whole refit (see the module doc). InputError before any work when the data do not allow it."""
    from derrvos_core.model.catalog import load_model, model_folder
    from derrvos_core.model.real import is_real_folder
    from derrvos_core.store import Store
    from derrvos_core.store.engine import redact

    out = Path(s.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError(f"--out {out} already exists and is not an empty folder; choose a new one")
    if s.trials < 0 or s.frame_stride < 1 or not 0.0 <= s.holdout < 1.0:
        raise InputError(f"--trials >= 0, --frame-stride >= 1 and --holdout in [0, 1) needed, got "
                         f"{s.trials}, {s.frame_stride}, {s.holdout}")
    base_dir = model_folder(s.base)
    if not is_real_folder(base_dir):
        raise InputError(f"{base_dir} is not a real model folder (config.json kind \"real\"); a DeRVOS "
                         f"checkpoint is refit by training/refit.py")
    model = load_model(base_dir)
    with Store.open(s.db) as store:
        runs = real_runs(store, model)
        if not runs:
            raise InputError(f"{store!r} holds no corrections of runs made with a real model ({model.name}): "
                             f"run the real model in the app and correct its answers (accept / reject a "
                             f"trajectory, draw, erase or set a mask) before refitting")
        corrected, skipped = load_corrections(store, model, runs, s.frame_stride, log)
        if not corrected:
            reasons = "; ".join(f"run {x['run_id']}: {x['reason']}" for x in skipped)
            raise InputError(f"none of the {len(runs)} corrected real-model runs can be re-scored with "
                             f"{base_dir}: {reasons}")
        fit, held = _split(corrected, s.holdout, s.seed)
        log(f"{store!r}: {len(corrected)} corrected expressions on {len({c.video_id for c in corrected})} "
            f"videos (fit {len(fit)}, held out {len(held)}; {len(skipped)} left out)")
        context = {"db": redact(store.url), "skipped": skipped,
                   "videos": {c.video_id: store.get_video(c.video_id).path for c in corrected}}
        return publish(store, out, lambda work: _build(s, base_dir, model, fit, held, context, work, log))


def _split(runs: list[CorrectedRun], holdout: float, seed: int) -> tuple[list, list]:
    if holdout == 0.0:
        return runs, []
    from training.refit_data import held_out_videos

    held = held_out_videos([r.video_id for r in runs], holdout, seed)
    return [r for r in runs if str(r.video_id) not in held], [r for r in runs if str(r.video_id) in held]


def _build(s: RealRefitSettings, base_dir: Path, model, fit: list, held: list, context: dict, work: Path,
           log) -> dict:
    """Search, write work/model, score the saved model; its card, report and per-expression rows."""
    from derrvos_core.model.catalog import load_model
    from derrvos_core.model.real import read_real_config

    base = read_real_config(base_dir)
    objective = CorrectionsObjective(fit)
    log(f"searching the selector numbers: {s.trials} trials on {len(fit)} corrected expressions ...")
    params, _, threshold = search(objective, base.selector, s.trials, s.seed, log)
    name = s.name or (base.name if base.name.endswith("-refit") else f"{base.name}-refit")
    model_dir = _write_folder(base_dir, work / "model", name, params, threshold)
    refitted, new = load_model(model_dir), read_real_config(model_dir)  # score what was saved, as it loads
    corrections, rows = _score_corrections({"fit": objective, "held_out": CorrectionsObjective(held)},
                                           base, new)
    report = {
        "kind": "refit-real", "name": name, "version": refitted.version, "base_version": model.version,
        "base_path": str(base_dir),
        "data": {"db": context["db"], "run_ids": [r.run_id for r in fit],
                 "held_out_run_ids": [r.run_id for r in held], "video_ids": sorted({r.video_id for r in fit}),
                 "held_out_video_ids": sorted({r.video_id for r in held}), "left_out": context["skipped"],
                 "holdout": s.holdout, "seed": s.seed},
        "search": {"trials": s.trials, "seed": s.seed, "frame_stride": s.frame_stride,
                   "thresholds": [float(t) for t in THRESHOLDS],
                   "objective": "mean J&F of the re-scored answer against the corrected answer"},
        "threshold": {"before": base.defaults.threshold, "after": new.defaults.threshold},
        "selector": {"before": base.selector.to_dict(), "after": new.selector.to_dict()},
        "corrections": corrections,
        "realref": _realref(s, model, refitted, context["videos"], log),
        "per_expression": rows,
    }
    card = _card_section(report, _command(s))
    old_card = base_dir / "MODEL_CARD.md"
    head = old_card.read_text().rstrip() + "\n\n" if old_card.is_file() else f"# {name}\n\n"
    (model_dir / "MODEL_CARD.md").write_text(head + card)
    (model_dir / REPORT).write_text(json.dumps(report, indent=2))
    write_per_expression(rows, model_dir / PER_EXPRESSION)
    return report


def _score_corrections(sets: dict, base, new) -> tuple[dict, list]:
    """({set: {count, before, after}}, per-expression rows) for the base's and the saved numbers."""
    corrections, rows = {}, []
    for set_name, scorer in sets.items():
        if not scorer.runs:
            continue
        before = scorer.answers(base.selector, base.defaults.threshold)
        after = scorer.answers(new.selector, new.defaults.threshold)
        corrections[set_name] = {"count": len(scorer.runs), "before": _means(before), "after": _means(after),
                                 "corrected_selection": _means(scorer.ceiling())}
        rows += [{"set": set_name, "run_id": r.run_id, "video_id": r.video_id,
                  "expression_id": r.expression_id, "expression": r.text, "JF_before": b["JF"], "JF_after": a["JF"],
                  "selected_before": b["selected"], "selected_after": a["selected"]}
                 for r, b, a in zip(scorer.runs, before, after)]
    return corrections, rows


def _means(answers: list[dict]) -> dict:
    return {k: float(np.mean([a[k] for a in answers])) for k in ("JF", "J", "F")}


def _write_folder(base_dir: Path, folder: Path, name: str, params: SelectorParams, threshold: float) -> Path:
    """A copy of the base folder (parts, licences, card) whose config.json has the new name, numbers and
    threshold; everything else in the config is the base's."""
    shutil.copytree(base_dir, folder, ignore=shutil.ignore_patterns(REPORT, PER_EXPRESSION))
    write_selector(folder, params, threshold, name=name)
    return folder


def _realref(s: RealRefitSettings, base, refitted, videos: dict, log) -> dict:
    """Base and refit on a RealRef split (per category, with the oracle and baselines of the trajectories),
    or why not. `overlap`: corrected videos that are clips of that split (then it is not held out)."""
    from training.realref_eval import evaluate_model, load_clips, summarize

    if s.realref_split is None:
        return {"skipped": "not asked for (--realref-split none)"}
    if not (s.realref_root / "clips").is_dir():
        return {"skipped": f"{s.realref_root / 'clips'} is missing: run python training/realref_setup.py"}
    clips = load_clips(s.realref_root, s.realref_split)
    folders = {(s.realref_root / "clips" / c.clip_id).resolve(): c.clip_id for c in clips}
    corrected = {Path(p).resolve() for p in videos.values()}
    out = {"split": s.realref_split, "clips": [c.clip_id for c in clips],
           "overlap": sorted(folders[p] for p in corrected if p in folders)}
    for label, m in (("before", base), ("after", refitted)):
        log(f"RealRef {s.realref_split}: scoring the {label} model {m.version} ...")
        out[label] = summarize(evaluate_model(m, s.realref_root, clips, m.defaults.settings(), progress=log))
    return out


# -- tables and card -----------------------------------------------------------------------------------
CATEGORIES = ("category", "colour", "position", "motion", "multi", "none", "all")


def corrections_table(report: dict) -> str:
    """J&F against the corrected answers: base numbers, refit numbers, and the corrected selection itself
    (what selecting exactly the trajectories the human kept scores: the ceiling up to hand-drawn pixels)."""
    labels = {"before": "before (base)", "after": "after (refit)", "corrected_selection": "corrected selection"}
    rows = ["| set | answer | J&F | J | F | n |", "|---|---|---|---|---|---|"]
    for set_name, entry in report["corrections"].items():
        for key, label in labels.items():
            m = entry[key]
            rows.append(f"| corrections ({set_name}) | {label} | {m['JF']:.3f} | {m['J']:.3f} | "
                        f"{m['F']:.3f} | {entry['count']} |")
    return "\n".join(rows) + "\n"


def realref_table(realref: dict) -> str:
    """Per category: box IoU and J&F of the model's answer before and after, and the oracle's."""
    if "skipped" in realref:
        return f"RealRef: skipped ({realref['skipped']}).\n"
    before, after = realref["before"], realref["after"]
    rows = [f"RealRef {realref['split']} ({', '.join(realref['clips'])}):", "",
            ("| category | n | box IoU before | box IoU after | J&F before | J&F after | oracle box IoU "
             "| oracle J&F |"),
            "|---|---|---|---|---|---|---|---|"]
    for c in (c for c in CATEGORIES if c in before["model"]):
        b, a, o = before["model"][c], after["model"][c], before["oracle"][c]
        rows.append(f"| {c} | {b['count']} | {_f(b['box_iou'])} | {_f(a['box_iou'])} | {_f(b['JF'])} | "
                    f"{_f(a['JF'])} | {_f(o['box_iou'])} | {_f(o['JF'])} |")
    rows += ["", (f"No-target expressions answered empty: {_f(before['none_answered_empty'])} before, "
                  f"{_f(after['none_answered_empty'])} after.")]
    if realref["overlap"]:
        rows.append(f"Not held out: the corrections include {', '.join(realref['overlap'])}.")
    return "\n".join(rows) + "\n"


def _f(v) -> str:
    return "–" if v is None else f"{v:.3f}"


def _card_section(report: dict, command: str) -> str:
    data, search_ = report["data"], report["search"]
    before, after = report["selector"]["before"], report["selector"]["after"]
    changed = [f"{k} {before[k]:g} -> {after[k]:g}" for k in before if abs(before[k] - after[k]) > 1e-9]
    return "\n".join([
        f"## Refit on corrections: {report['name']} (`{report['version']}`)\n",
        (f"Refit of `{report['base_version']}` (from `{report['base_path']}`) on {len(data['run_ids'])} "
         f"human-corrected expressions (videos {data['video_ids']}, store run ids {data['run_ids']}) "
         f"stored in `{data['db']}`. Only the selector numbers and the recommended threshold changed; the "
         "detector branch, its ONNX parts and the expression reader are the base's.\n"),
        (f"Search: `training/fit_real_selector.search`, {search_['trials']} trials, seed {search_['seed']}; "
         "objective: mean J&F of the re-scored answer against the store's corrected answer (`final_masks`), "
         f"on every {search_['frame_stride']}th frame and every frame a human drew on.\n"),
        "```\n" + command + "\n```\n",
        (f"Threshold {report['threshold']['before']} -> {report['threshold']['after']}; numbers changed: "
         f"{', '.join(changed) or 'none'}.\n"),
        corrections_table(report),
        realref_table(report["realref"]),
        (f"Left out: {data['left_out'] or 'nothing'}. Per expression: `{PER_EXPRESSION}`; "
         f"everything: `{REPORT}`.\n"),
    ])


def _command(s: RealRefitSettings) -> str:
    from derrvos_core.store.engine import redact, resolve_url

    return (f"python training/refit_real.py --db {redact(resolve_url(s.db))} --base {s.base} --out {s.out} "
            f"--trials {s.trials} --seed {s.seed} --frame-stride {s.frame_stride} --holdout {s.holdout} "
            f"--realref-root {s.realref_root} --realref-split {s.realref_split or 'none'}")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    d = RealRefitSettings(base="", out="")
    p.add_argument("--db", default=None, help="store URL (default: $DERRVOS_DB, else sqlite:///derrvos.db)")
    p.add_argument("--base", required=True, help="real model folder, or default / real")
    p.add_argument("--out", required=True, help="new folder for the refit model")
    p.add_argument("--trials", type=int, default=d.trials)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--frame-stride", type=int, default=d.frame_stride,
                   help="score every n-th frame (and every frame a human drew on)")
    p.add_argument("--holdout", type=float, default=d.holdout,
                   help="fraction of corrected videos kept out of the fit and reported apart (default 0)")
    p.add_argument("--realref-root", type=Path, default=d.realref_root, help="RealRef set-up folder")
    p.add_argument("--realref-split", default=d.realref_split, choices=["tune", "test", "all", "none"],
                   help="RealRef split scored before and after (none: skip)")
    p.add_argument("--name", default=None, help="model name of the result (default: <base name>-refit)")
    return p


def main(argv: list[str] | None = None) -> int:
    a = build_parser().parse_args(argv)
    split = None if a.realref_split == "none" else a.realref_split
    settings = RealRefitSettings(base=a.base, out=a.out, db=a.db, trials=a.trials, seed=a.seed,
                                 frame_stride=a.frame_stride, holdout=a.holdout, realref_root=a.realref_root,
                                 realref_split=split, name=a.name)
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    try:
        result = refit_real(settings, log=log)
    except DeRVOSError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(corrections_table(result.report))
    print(realref_table(result.report["realref"]))
    print(f"{result.version} (base {result.base_version}) saved to {result.out_dir} and registered")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
