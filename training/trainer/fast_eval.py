"""Evaluation without re-running the trajectory branch for every expression of a video.

`DeRVOS.segment` runs the whole model per (video, expression); the trajectory branch does not read
the expression, so all expressions of a video share its trajectories. `memoize_trajectories` wraps
a loaded model's `segment_frames` / `trajectories` steps (the seams the model exposes for caching)
with a small LRU keyed by the crop's pixels: results are identical, the branch runs once per crop.
Evaluation datasets list a video's expressions together, so a short LRU suffices.
"""
from __future__ import annotations

import hashlib
from collections import OrderedDict


def memoize_trajectories(model, max_crops: int = 32):
    """Wrap `model` in place (and return it) so identical crops reuse their trajectories."""
    segment_frames, trajectories = model.segment_frames, model.trajectories
    memo: OrderedDict = OrderedDict()

    def cached_segment_frames(x):
        key = (tuple(x.shape), hashlib.sha1(x.detach().contiguous().cpu().numpy().tobytes()).hexdigest())
        if key in memo:
            memo.move_to_end(key)
            return memo[key][0]
        seg = segment_frames(x)
        memo[key] = (seg, trajectories(seg))
        while len(memo) > max_crops:
            memo.popitem(last=False)
        return seg

    def cached_trajectories(seg):
        for known, traj in memo.values():
            if known is seg:
                return traj
        return trajectories(seg)

    model.segment_frames = cached_segment_frames
    model.trajectories = cached_trajectories
    return model


def evaluate_checkpoint(checkpoint, dataset_name: str, root, split: str, out_dir, crop_size: int = 36,
                        threshold: float = 0.7, limit: int | None = None, write_annotations: bool = False,
                        progress=None):
    """training/evaluate.py's evaluation (same functions, same numbers) with memoized trajectories."""
    from derrvos_core.datasets import open_dataset
    from derrvos_core.evaluation import EvalSettings, evaluate, model_segmenter, write_report
    from derrvos_core.model import load_model

    settings = EvalSettings(crop_size=crop_size, threshold=threshold, limit=limit,
                            write_annotations=write_annotations)
    model = memoize_trajectories(load_model(str(checkpoint)))
    report = evaluate(model_segmenter(model, settings), open_dataset(dataset_name, root, split), out_dir,
                      settings, progress=progress)
    report.info = {"checkpoint": str(checkpoint), "model_version": model.version}
    write_report(report, out_dir)
    return report
