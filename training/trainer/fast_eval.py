"""Evaluation without re-running the trajectory branch for every expression of a video.

`DeRVOS.segment` runs the whole model per (video, expression); the trajectory branch does not read
the expression, so all expressions of a video share its trajectories. `memoize_trajectories` wraps
a loaded model's trajectory branch (`frame_features` / `trajectories`, the seams the model exposes)
with a small LRU keyed by the crop's pixels: results are identical, the branch runs once per crop.
Evaluation datasets list a video's expressions together, so a short LRU suffices.
"""
from __future__ import annotations

import hashlib
import multiprocessing
import time
from collections import OrderedDict
from pathlib import Path


def memoize_trajectories(model, max_crops: int = 32):
    """Wrap `model.trajectory` in place (and return the model) so identical crops reuse their trajectories.

    Only crops run on a fresh session are memoized (a carried session must see every crop). A branch's
    output masks (`MaskOutput`, the upsampler's) are memoized for the memoized trajectories too."""
    from derrvos_core.model.branches import MaskOutput

    branch = model.trajectory
    frame_features, trajectories = branch.frame_features, branch.trajectories
    memo: OrderedDict = OrderedDict()
    masks_memo: OrderedDict = OrderedDict()  # id(trajectories) -> (trajectories, masks)

    def cached_frame_features(x):
        key = (tuple(x.shape), hashlib.sha1(x.detach().contiguous().cpu().numpy().tobytes()).hexdigest())
        if key in memo:
            memo.move_to_end(key)
            return memo[key][0]
        features = frame_features(x)
        memo[key] = (features, trajectories(features, branch.new_session()))
        while len(memo) > max_crops:
            memo.popitem(last=False)
        return features

    def cached_trajectories(features, session):
        if not session.started:
            for known, traj in memo.values():
                if known is features:
                    return traj
        return trajectories(features, session)

    def cached_output_masks(traj, guide):
        if id(traj) in masks_memo and masks_memo[id(traj)][0] is traj:
            return masks_memo[id(traj)][1]
        masks = output_masks(traj, guide)
        if any(known is traj for _, known in memo.values()):
            masks_memo[id(traj)] = (traj, masks)
            while len(masks_memo) > max_crops:
                masks_memo.popitem(last=False)
        return masks

    branch.frame_features = cached_frame_features
    branch.trajectories = cached_trajectories
    if isinstance(branch, MaskOutput):
        output_masks = branch.output_masks
        branch.output_masks = cached_output_masks
    return model


def forget_trajectories(model) -> None:
    """Undo `memoize_trajectories` (the branch's own methods again, the memo freed)."""
    for wrapped in ("frame_features", "trajectories", "output_masks"):
        model.trajectory.__dict__.pop(wrapped, None)


def evaluate_checkpoint(checkpoint, dataset_name: str, root, split: str, out_dir, crop_size: int | None = None,
                        threshold: float | None = None, limit: int | None = None, write_annotations: bool = False,
                        workers: int = 1, baselines: bool = True):
    """training/evaluate.py's evaluation (same functions, same numbers) with memoized trajectories.

    `workers` > 1 splits the expressions into contiguous blocks (whole videos stay together, so the
    memo still works) evaluated in forked processes; the records are merged in dataset order and
    summarised by the same `build_report`.
    """
    from derrvos_core.datasets import open_dataset
    from derrvos_core.evaluation import EvalSettings, write_report
    from derrvos_core.evaluation.runner import build_report
    from derrvos_core.model import load_model

    model = load_model(str(checkpoint))
    settings = EvalSettings(crop_size=crop_size, threshold=threshold, limit=limit, baselines=baselines,
                            write_annotations=write_annotations).for_model(model.defaults)
    dataset = open_dataset(dataset_name, root, split)
    total = len(dataset) if limit is None else min(limit, len(dataset))
    blocks = _video_blocks(dataset, total, max(workers, 1))
    start = time.perf_counter()
    jobs = [(str(checkpoint), dataset_name, str(root), split, str(out_dir), settings, b) for b in blocks]
    if len(jobs) == 1:
        records = _evaluate_block(jobs[0])
    else:
        with multiprocessing.get_context("fork").Pool(len(jobs)) as pool:
            records = [r for part in pool.map(_evaluate_block, jobs) for r in part]
    report = build_report(dataset.name, dataset.split, settings, records, time.perf_counter() - start)
    report.info = {"checkpoint": str(checkpoint), "model_version": model.version,
                   "evaluated_by": "training/trainer/fast_eval.py (derrvos_core.evaluation, trajectories memoized "
                                   f"per video, {len(jobs)} process(es))"}
    write_report(report, out_dir)
    return report


def _video_blocks(dataset, total: int, workers: int) -> list[list[int]]:
    """Contiguous index blocks of about total / workers expressions, cut only between videos."""
    entries = getattr(dataset, "entries", None)
    videos = [getattr(entries[i], "video_id", i) for i in range(total)] if entries is not None else list(range(total))
    size = -(-total // workers)
    blocks, current = [], []
    for i in range(total):
        if current and len(current) >= size and videos[i] != videos[i - 1] and len(blocks) < workers - 1:
            blocks.append(current)
            current = []
        current.append(i)
    return blocks + [current] if current else blocks


def _evaluate_block(job) -> list:
    from derrvos_core.datasets import open_dataset
    from derrvos_core.evaluation import model_segmenter
    from derrvos_core.evaluation.runner import evaluate_sample
    from derrvos_core.model import load_model

    import torch

    torch.set_num_threads(1)
    checkpoint, name, root, split, out_dir, settings, indices = job
    model = memoize_trajectories(load_model(checkpoint))
    dataset = open_dataset(name, root, split)
    segment = model_segmenter(model, settings)
    records = []
    for n, i in enumerate(indices, 1):
        records.append(evaluate_sample(segment, dataset[i], Path(out_dir), settings))
        if n % 25 == 0 or n == len(indices):
            print(f"  eval block {indices[0]}..: {n}/{len(indices)} expressions", flush=True)
    return records
