"""What a run hands out, one way for every caller: the CLI, `/segment`, the app and export.

`scores_json` is the one schema of the per-trajectory scores file (the CLI's scores.json, the
API's and the app's JSON).
"""
from __future__ import annotations

from collections.abc import Collection

from derrvos_core.result import SegmentationResult


def scores_json(result: SegmentationResult, model_version: str, selected: Collection[int] | None = None,
                threshold: float | None = None, run_id: int | None = None) -> dict:
    """Per-trajectory scores and the answer, JSON-ready.

    `selected` and `threshold` default to the result's own; pass a corrected selection and the
    threshold in force (`AnswerPlan`) where corrections apply. `run_id` is the stored run, if any.
    """
    chosen = set(result.selected if selected is None else selected)
    settings = result.settings
    return {
        "run_id": run_id, "model_version": model_version, "expression": result.expression,
        "ignored": list(result.ignored), "crop_size": settings.crop_size,
        "threshold": settings.threshold if threshold is None else float(threshold),
        "at_least_one": settings.at_least_one, "link_crops": settings.link_crops,
        "num_frames": result.num_frames, "height": result.height, "width": result.width,
        "selected": sorted(int(i) for i in chosen),
        "trajectories": [{
            "trajectory_id": t.trajectory_id, "crop_index": t.crop_index, "link_id": t.link_id,
            "score": float(t.score), "selected": t.trajectory_id in chosen, "frame_start": t.frame_start,
            "frame_end": t.frame_end, "frames": t.frames_present()}
            for t in result.trajectories],
        "warnings": list(result.warnings),
    }
