"""RealRef evaluation of any model: its answer and the oracle / largest / random selections of its
trajectories, per category, from one `segment` call per expression (the per-frame cache makes the
second and later expressions of a clip cheap). Also the pieces the real model's fitting reuses: one
run per clip that records each crop's trajectory facts, and re-scoring with other selector numbers
without running the branch again.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from derrvos_core.datasets.realref_format import RealRefClip, load_annotations
from derrvos_core.evaluation.realref import summarize_realref
from derrvos_core.evaluation.realref_selection import SELECTIONS, TrajectoryFrames, eval_frames, score_selections
from derrvos_core.model.cache import SegmentCache
from derrvos_core.model.linking import apply_linked_scores
from derrvos_core.result import select_trajectories
from derrvos_core.selection import SelectorParams, TrajectoryFacts, score_facts

REPO = Path(__file__).resolve().parents[1]
DEFAULT_ROOT = REPO / "data" / "realref"


def load_clips(root: Path, split: str) -> list[RealRefClip]:
    clips = load_annotations(REPO / "assets" / "realref" / "annotations")
    return [c for c in clips if split in ("all", c.split)]


def clip_video(root: Path, clip: RealRefClip) -> Path:
    folder = root / "clips" / clip.clip_id
    if not folder.is_dir():
        raise SystemExit(f"{folder} is missing: run python training/realref_setup.py")
    return folder


@dataclass
class ExpressionRow:
    clip_id: str
    expression_id: str
    text: str
    category: str
    split: str
    scores: dict  # selection -> RealRefScore
    selected: int
    best_score: float
    ignored: tuple


def evaluate_model(model, root: Path, clips: list[RealRefClip], settings, progress=print) -> list[ExpressionRow]:
    """One row per expression: the model's answer at `settings` and the baselines on its trajectories."""
    rows = []
    cache = SegmentCache(max_bytes=2 << 30)
    for clip in clips:
        video = clip_video(root, clip)
        frames = None
        for exp_id, expression in clip.expressions.items():
            result = model.segment(video, expression.text, settings, cache=cache)
            # the trajectories (and their links) do not depend on the expression: decode them once
            frames = frames or TrajectoryFrames(result, eval_frames(clip))
            rows.append(_row(clip, exp_id, result, score_selections(result, clip, exp_id, trajectories=frames)))
        progress(f"{clip.clip_id}: {len(clip.expressions)} expressions")
    return rows


def _row(clip: RealRefClip, exp_id: str, result, scores: dict) -> ExpressionRow:
    expression = clip.expressions[exp_id]
    best = max((t.score for t in result.trajectories), default=0.0)
    return ExpressionRow(clip.clip_id, exp_id, expression.text, expression.category, clip.split, scores,
                         len(result.selected), best, tuple(result.ignored))


def summarize(rows: list[ExpressionRow]) -> dict:
    """{selection: {category: means}} plus, per selection, how often a no-target expression got nothing."""
    out = {}
    for name in SELECTIONS:
        out[name] = summarize_realref((r.category, r.scores[name]) for r in rows)
    none = [r for r in rows if r.category == "none"]
    out["none_answered_empty"] = float(np.mean([r.selected == 0 for r in none])) if none else None
    return out


def format_table(summary: dict, label: str) -> str:
    categories = [c for c in ("category", "colour", "position", "motion", "multi", "none", "all")
                  if c in summary["model"]]
    lines = [f"### {label}", "", "| category | n | " + " | ".join(
        f"{s} box IoU | {s} J&F" for s in SELECTIONS) + " |", "|---|---|" + "---|---|" * len(SELECTIONS)]
    for c in categories:
        cells = []
        for s in SELECTIONS:
            m = summary[s][c]
            cells += [_fmt(m["box_iou"]), _fmt(m["JF"])]
        lines.append(f"| {c} | {summary['model'][c]['count']} | " + " | ".join(cells) + " |")
    lines += ["", f"No-target expressions answered empty: {_fmt(summary['none_answered_empty'])}", ""]
    return "\n".join(lines)


def _fmt(v) -> str:
    return "–" if v is None else f"{v:.3f}"


# -- fitting support: record facts once per clip, re-score without the branch -------------------------
class RecordingSelector:
    """Wraps a selector and keeps the facts of every crop it scores, in crop order."""

    def __init__(self, inner):
        self.inner = inner
        self.facts: list[TrajectoryFacts] = []

    def scores(self, trajectories, tokens, expression):
        self.facts.append(TrajectoryFacts.of(trajectories))
        return self.inner.scores(trajectories, tokens, expression)


@dataclass
class ClipRun:
    clip: RealRefClip
    result: object
    facts: list
    frames: TrajectoryFrames


def record_clip(model, root: Path, clip: RealRefClip, settings, cache: SegmentCache) -> ClipRun:
    inner = model.tais
    recorder = RecordingSelector(inner)
    model.tais = recorder
    try:
        first = next(iter(clip.expressions.values())).text
        result = model.segment(clip_video(root, clip), first, settings, cache=cache)
    finally:
        model.tais = inner
    return ClipRun(clip, result, recorder.facts, TrajectoryFrames(result, eval_frames(clip)))


def rescore(run: ClipRun, query, params: SelectorParams, threshold: float):
    """The run's result with every trajectory scored again for `query` at `params`, selected at `threshold`."""
    scores = np.concatenate([score_facts(f, query, params) for f in run.facts]) if run.facts else np.zeros(0)
    trajectories = [replace(t, score=float(s)) for t, s in zip(run.result.trajectories, scores)]
    if run.result.settings.link_crops:
        trajectories = apply_linked_scores(trajectories)
    settings = run.result.settings.with_threshold(threshold)
    return replace(run.result, trajectories=tuple(trajectories), settings=settings,
                   selected=select_trajectories(trajectories, threshold, settings.at_least_one))
