"""The corrections a real-model refit learns from, made re-scorable (training/refit_real.py's data).

`real_runs` finds the corrected runs made with a real model; `load_corrections` re-runs the base's detector
branch on each stored video (deterministic: its trajectories must be the stored run's, else the run is left
out with the reason) and records every crop's trajectory facts and the corrected answer as a `CorrectedRun`;
`CorrectionsObjective` is the mean J&F of re-scored answers against those corrections, what
`fit_real_selector.search` maximises.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from derrvos_core.masks import decode_rle, encode_rle
from derrvos_core.metrics import boundary_f, region_similarity
from derrvos_core.model.linking import apply_linked_scores
from derrvos_core.result import SegmentationResult, select_trajectories
from derrvos_core.selection import SelectorParams, score_facts
from derrvos_core.store.records import CorrectionKind, RunRecord
from training.fit_real_selector import THRESHOLDS
from training.realref_eval import RecordingSelector


@dataclass(frozen=True)
class CorrectedRun:
    """One corrected (video, expression): the stored run, its crops' facts from the re-run, the target.

    Attributes:
        stored: the run as stored (its trajectories are what the corrections name and the user saw).
        facts: one TrajectoryFacts per crop, rows in trajectory order, from the re-run of the branch.
        frames: video frames scored, sorted.
        target: COCO RLE of the corrected answer on each scored frame.
        query: the expression as the base model reads it.
        corrected_selection: trajectory ids the corrections leave selected (accepted, or selected and not
            rejected): what a perfect selector would pick; it misses only pixels drawn by hand.
    """

    run_id: int
    video_id: int
    expression_id: int
    text: str
    stored: SegmentationResult
    facts: tuple
    frames: tuple
    target: tuple
    query: object
    corrected_selection: frozenset


class CorrectionsObjective:
    """Mean J&F of the re-scored answers against the corrected answers (`fit_real_selector.search`'s
    objective). J and F are per frame, so each crop's sums are kept per selection of that crop's
    trajectories: most trials re-select what an earlier one did, and cost no mask work."""

    def __init__(self, runs: list[CorrectedRun]):
        self.runs = runs
        self._sums: dict[tuple, tuple[float, float]] = {}

    def curve(self, params: SelectorParams) -> dict[float, float]:
        scored = [self._scored(run, params) for run in self.runs]
        return {float(t): float(np.mean([self._jf(i, self._select(run, trajs, float(t)))["JF"]
                                          for i, (run, trajs) in enumerate(zip(self.runs, scored))]))
                for t in THRESHOLDS}

    def answers(self, params: SelectorParams, threshold: float) -> list[dict]:
        """Per run: J, F, JF and the selected trajectory ids at `params` and `threshold`."""
        out = []
        for i, run in enumerate(self.runs):
            selected = self._select(run, self._scored(run, params), threshold)
            out.append({**self._jf(i, selected), "selected": sorted(selected)})
        return out

    def ceiling(self) -> list[dict]:
        """Per run: J, F, JF of the corrected selection (a selector's ceiling, up to hand-drawn pixels)."""
        return [self._jf(i, run.corrected_selection) for i, run in enumerate(self.runs)]

    @staticmethod
    def _scored(run: CorrectedRun, params: SelectorParams) -> tuple:
        scores = np.concatenate([score_facts(f, run.query, params) for f in run.facts]) if run.facts \
            else np.zeros(0)
        trajs = [replace(t, score=float(s)) for t, s in zip(run.stored.trajectories, scores, strict=True)]
        return tuple(apply_linked_scores(trajs) if run.stored.settings.link_crops else trajs)

    @staticmethod
    def _select(run: CorrectedRun, trajs: tuple, threshold: float) -> frozenset:
        return frozenset(select_trajectories(trajs, threshold, run.stored.settings.at_least_one))

    def _jf(self, index: int, selected: frozenset) -> dict:
        run = self.runs[index]
        j = f = 0.0
        for crop, (start, stop) in enumerate(_crop_spans(run.stored)):
            ids = tuple(t.trajectory_id for t in run.stored.trajectories
                        if t.crop_index == crop and t.trajectory_id in selected)
            key = (index, crop, ids)
            if key not in self._sums:
                self._sums[key] = _crop_sums(run, ids, start, stop)
            j, f = j + self._sums[key][0], f + self._sums[key][1]
        j, f = j / len(run.frames), f / len(run.frames)
        return {"J": j, "F": f, "JF": (j + f) / 2}


def _crop_spans(result: SegmentationResult) -> list[tuple[int, int]]:
    size = result.settings.crop_size
    return [(s, min(s + size, result.num_frames)) for s in range(0, result.num_frames, size)]


def _crop_sums(run: CorrectedRun, ids: tuple, start: int, stop: int) -> tuple[float, float]:
    """(sum of J, sum of F) over the run's scored frames in [start, stop) for the union of `ids`."""
    picks = [k for k, t in enumerate(run.frames) if start <= t < stop]
    if not picks:
        return 0.0, 0.0
    r = run.stored
    by_id = {t.trajectory_id: t for t in r.trajectories}
    pred = np.zeros((len(picks), r.height, r.width), dtype=bool)
    for n, k in enumerate(picks):
        for i in ids:
            pred[n] |= by_id[i].mask(run.frames[k], r.height, r.width)
    gt = np.stack([decode_rle(run.target[k]) for k in picks])
    return float(region_similarity(gt, pred).sum()), float(boundary_f(gt, pred).sum())


# -- reading the store ---------------------------------------------------------------------------------
def real_runs(store, base_model) -> list[RunRecord]:
    """The newest run with active corrections per (video, expression), among runs made with a real model:
    the base's version or name (a refit's name without "-refit"), or a version registered with a real
    model folder."""
    from derrvos_core.model.real import is_real_folder, read_real_config

    versions, names = {base_model.version}, {base_model.name, base_model.name.removesuffix("-refit")}
    for mv in store.model_versions():
        if is_real_folder(Path(mv.path)):
            versions.add(mv.version)
            names.add(read_real_config(Path(mv.path)).name)
    chosen: dict[tuple[int, int], RunRecord] = {}
    for run in store.runs():
        real = run.model_version in versions or run.model_version.rsplit("-", 1)[0] in names
        if real and any(c.active and c.kind is not CorrectionKind.UNDO for c in store.corrections(run.id)):
            chosen[(run.video_id, run.expression_id)] = run  # runs() is oldest first
    return sorted(chosen.values(), key=lambda r: (r.video_id, r.expression_id))


def load_corrections(store, model, runs: list[RunRecord], frame_stride: int, log
                     ) -> tuple[list[CorrectedRun], list[dict]]:
    """(re-scorable runs, skipped runs with the reason). The branch runs once per (video, crop size,
    linking): facts do not depend on the expression."""
    from derrvos_core.model.cache import SegmentCache
    from derrvos_core.store.corrections import plan_answer

    cache, recorded, out, skipped = SegmentCache(max_bytes=1 << 30), {}, [], []
    for run in runs:
        video, stored = store.get_video(run.video_id), store.load_run(run.id)
        key = (video.id, stored.settings.crop_size, stored.settings.link_crops)
        if key not in recorded:
            if not Path(video.path).exists():
                skipped.append({"run_id": run.id, "reason": f"video {video.path} is gone"})
                continue
            log(f"video {video.id} ({Path(video.path).name}): running the detector branch "
                f"(crop {key[1]}, linking {'on' if key[2] else 'off'}) ...")
            recorded[key] = record_facts(model, video, stored, cache)
        rerun, facts = recorded[key]
        reason = _differs(stored, rerun)
        if reason:
            skipped.append({"run_id": run.id, "reason": reason})
            log(f"run {run.id} left out: {reason}")
            continue
        final = store.final_masks(run.id)
        drawn = np.flatnonzero(final.edited).tolist()
        frames = sorted(set(range(0, run.num_frames, frame_stride)) | set(drawn))
        out.append(CorrectedRun(run_id=run.id, video_id=run.video_id, expression_id=run.expression_id,
                                text=run.expression, stored=stored, facts=tuple(facts), frames=tuple(frames),
                                target=tuple(encode_rle(final.masks[t]) for t in frames),
                                query=model.multimodal.read(run.expression).query,
                                corrected_selection=plan_answer(stored, store.corrections(run.id)).selected))
    return out, skipped


def record_facts(model, video, stored: SegmentationResult, cache) -> tuple[SegmentationResult, list]:
    """The branch's result on the stored video at the run's settings, and every crop's facts."""
    inner, recorder = model.tais, RecordingSelector(model.tais)
    model.tais = recorder
    try:
        result = model.segment(video.path, stored.expression or "object", stored.settings, cache=cache,
                               video_key=video.content_hash)
    finally:
        model.tais = inner
    return result, recorder.facts


def _differs(stored: SegmentationResult, rerun: SegmentationResult) -> str | None:
    """Why the re-run's trajectories are not the stored run's (None when they are)."""
    if (stored.num_frames, stored.height, stored.width) != (rerun.num_frames, rerun.height, rerun.width):
        return "the stored video no longer has the run's frame count or size"
    if len(stored.trajectories) != len(rerun.trajectories):
        return (f"the base's branch gives {len(rerun.trajectories)} trajectories, the run stored "
                f"{len(stored.trajectories)} (made with another detector branch)")
    for a, b in zip(stored.trajectories, rerun.trajectories):
        if (a.crop_index, a.frame_start, a.link_id, a.frames_present()) != \
                (b.crop_index, b.frame_start, b.link_id, b.frames_present()):
            return f"trajectory {a.trajectory_id} differs from the base's branch (made with another one)"
    return None
