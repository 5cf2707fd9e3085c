"""Evaluate a segmenter on a dataset: one model call per expression, baselines from the same trajectories.

    for step in iter_evaluate(segment, dataset, out_dir, EvalSettings()):
        ...  # EvalProgress after each expression, and last the EvaluationReport
    report = evaluate(segment, dataset, out_dir)                             # the same, without progress

`segment(frames uint8 [T, H, W, 3], expression) -> SegmentationResult`; `model_segmenter(model, settings)`
makes one from a DeRVOS model. Predictions are written in the benchmark-server layout
`Annotations/<video>/<exp_id>/<frame>.png` (0/255), ready to zip.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from derrvos_core.errors import InputError
from derrvos_core.evaluation.baselines import (BASELINES, baseline_selections, compose, decode_trajectories,
                                               sample_rng)
from derrvos_core.evaluation.scoring import score_masks, summarize
from derrvos_core.masks import write_binary_png
from derrvos_core.settings import ModelDefaults

GROUP_KEYS = ("category", "annotator", "held_out")  # reported apart when a dataset has them


@dataclass(frozen=True)
class EvalSettings:
    """How to evaluate.

    Attributes:
        crop_size: frames per inference crop; None: the model's recommended one (`for_model`).
        threshold: confidence threshold of the model's selection; None: the model's recommended one
            (0.3 for the shipped model, not the paper's 0.7 it rarely reaches).
        limit: evaluate only the first `limit` expressions (None: all).
        seed: seed of the random baseline.
        baselines: also score the random / largest / oracle selections.
        write_annotations: write the benchmark-server PNGs.
    """

    crop_size: int | None = None
    threshold: float | None = None
    limit: int | None = None
    seed: int = 0
    baselines: bool = True
    write_annotations: bool = True

    def for_model(self, defaults: ModelDefaults) -> EvalSettings:
        """These settings with the model's recommended crop size and threshold where none is named."""
        run = defaults.settings(crop_size=self.crop_size, threshold=self.threshold)
        return replace(self, crop_size=run.crop_size, threshold=run.threshold)


@dataclass
class ExpressionRecord:
    """One evaluated expression: ids, text, groups, per-method scores (None without ground truth)."""

    video_id: str
    expression_id: str
    expression: str
    num_frames: int
    num_targets: int
    groups: dict
    scores: dict
    num_trajectories: int
    selected: tuple
    seconds: float


@dataclass(frozen=True)
class EvalProgress:
    done: int
    total: int
    video_id: str
    expression_id: str


@dataclass
class EvaluationReport:
    """Benchmark numbers: overall[method] and groups[key][value][method] are `summarize` dicts."""

    dataset: str
    split: str
    settings: dict
    has_ground_truth: bool
    overall: dict = field(default_factory=dict)
    groups: dict = field(default_factory=dict)
    records: list = field(default_factory=list)
    seconds: float = 0.0
    info: dict = field(default_factory=dict)


def model_segmenter(model, settings: EvalSettings) -> Callable:
    """segment(frames, expression) with the model's own selection at settings.threshold (or its default)."""
    run = model.defaults.settings(crop_size=settings.crop_size, threshold=settings.threshold)

    def segment(frames: np.ndarray, expression: str):
        return model.segment(frames, expression, run)
    return segment


def evaluate(segment: Callable, dataset, out_dir, settings: EvalSettings = EvalSettings(),
             progress: Callable[[EvalProgress], None] | None = None) -> EvaluationReport:
    """Run iter_evaluate to the end and return its report."""
    report = None
    for step in iter_evaluate(segment, dataset, out_dir, settings):
        if isinstance(step, EvalProgress):
            if progress:
                progress(step)
        else:
            report = step
    return report


def iter_evaluate(segment: Callable, dataset, out_dir, settings: EvalSettings = EvalSettings()) -> Iterator:
    """Yield EvalProgress after each expression, then the EvaluationReport (stop iterating to cancel)."""
    if settings.limit is not None and settings.limit < 1:
        raise InputError(f"limit must be >= 1, got {settings.limit}")
    out = Path(out_dir)
    total = len(dataset) if settings.limit is None else min(settings.limit, len(dataset))
    start = time.perf_counter()
    records = []
    for i in range(total):
        sample = dataset[i]
        records.append(evaluate_sample(segment, sample, out, settings))
        yield EvalProgress(i + 1, total, sample.video_id, sample.expression_id)
    yield build_report(getattr(dataset, "name", "dataset"), getattr(dataset, "split", ""), settings, records,
                       time.perf_counter() - start)


def evaluate_sample(segment: Callable, sample, out: Path, settings: EvalSettings) -> ExpressionRecord:
    """Segment one expression, score it and its baselines, and write its PNGs."""
    tic = time.perf_counter()
    frames = sample.load_frames()
    result = segment(frames, sample.expression)
    gt = np.asarray(sample.target_masks, dtype=bool)
    if (result.num_frames, result.height, result.width) != gt.shape:
        raise InputError(f"{sample.video_id}/{sample.expression_id}: the result is "
                         f"{(result.num_frames, result.height, result.width)}, the ground truth {gt.shape}")
    trajectories = decode_trajectories(result)
    shape = gt.shape
    pred = compose(trajectories, result.selected, *shape)
    if settings.write_annotations:
        write_annotations(out, sample.video_id, sample.expression_id, sample.frame_names, pred)
    has_gt = sample.extra.get("has_annotations", True)
    scores = {}
    if has_gt:
        scores["model"] = score_masks(gt, pred)
        if settings.baselines:
            rng = sample_rng(settings.seed, sample.video_id, sample.expression_id)
            for name, ids in baseline_selections(trajectories, gt, rng).items():
                scores[name] = score_masks(gt, compose(trajectories, ids, *shape))
    groups = {k: v for k, v in (("category", sample.category), ("annotator", sample.extra.get("annotator")),
                                ("held_out", sample.extra.get("held_out"))) if v is not None}
    return ExpressionRecord(sample.video_id, sample.expression_id, sample.expression, shape[0],
                            len(sample.object_ids), groups, scores, len(trajectories), tuple(result.selected),
                            time.perf_counter() - tic)


def write_annotations(out: Path, video_id: str, expression_id: str, frame_names, pred: np.ndarray) -> None:
    folder = out / "Annotations" / video_id / expression_id
    folder.mkdir(parents=True, exist_ok=True)
    for name, mask in zip(frame_names, pred):
        write_binary_png(folder / f"{name}.png", mask)


def build_report(dataset: str, split: str, settings: EvalSettings, records: list,
                 seconds: float) -> EvaluationReport:
    """Overall and per-group summaries of every method that was scored."""
    has_gt = any(r.scores for r in records)
    methods = ("model",) + (BASELINES if settings.baselines else ())
    report = EvaluationReport(dataset, split, asdict(settings), has_gt, records=records, seconds=seconds)
    if not has_gt:
        return report
    scored = [r for r in records if r.scores]
    report.overall = {m: summarize([r.scores[m] for r in scored]) for m in methods}
    for key in GROUP_KEYS:
        values = sorted({str(r.groups[key]) for r in scored if key in r.groups})
        if values:
            members = {v: [r for r in scored if str(r.groups.get(key)) == v] for v in values}
            report.groups[key] = {v: {m: summarize([r.scores[m] for r in rs]) for m in methods}
                                  for v, rs in members.items()}
    return report
