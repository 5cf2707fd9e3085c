"""What a run hands out, one way for every caller: the CLI, `/segment`, the app and export.

`scores_json` is the one schema of the per-trajectory scores file (the CLI's scores.json, the
API's and the app's JSON). `identity_colours` is the one palette of the overlays: a colour per object
identity (trajectories linked across crops are one identity), which callers hand to
`derrvos_core.video.write_overlay_video(colors=...)` in the order of its labels.
"""
from __future__ import annotations

from collections.abc import Collection

from derrvos_core.masks import trajectory_colors
from derrvos_core.result import SegmentationResult, TrajectoryResult


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


def identity_colours(result: SegmentationResult) -> dict[int, tuple[int, int, int]]:
    """trajectory_id -> RGB: one colour per identity (trajectories with one link id are one object, an
    unlinked one is its own), the same for the same result whichever trajectories a caller draws: the
    colour follows the object, not its place in a legend."""
    keys = sorted({_identity(t) for t in result.trajectories})
    colours = dict(zip(keys, trajectory_colors(len(keys))))
    return {t.trajectory_id: tuple(colours[_identity(t)]) for t in result.trajectories}


def _identity(trajectory: TrajectoryResult) -> tuple[str, int]:
    # the grouping `select_trajectories` uses: a link id, or the trajectory alone
    if trajectory.link_id >= 0:
        return "link", trajectory.link_id
    return "own", trajectory.trajectory_id
