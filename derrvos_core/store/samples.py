"""The store as a dataset: one RVOSSample per answered (video, expression), for refit and evaluation."""
from __future__ import annotations

import numpy as np

from derrvos_core.datasets.types import RVOSSample
from derrvos_core.store.export_answers import iter_frames


def store_samples(store, corrected_only: bool = True, video_ids: list[int] | None = None) -> list[RVOSSample]:
    """Samples whose target is the corrected answer (`Store.answer_runs` picks the run).

    `extra` holds `run_id`, `model_version`, `corrected` (bool [T]) and `edited` (bool [T]) so refit can
    weigh or hold out what humans touched. Frames are read from the stored video path when asked.
    """
    samples = []
    for run in store.answer_runs(video_ids=video_ids, corrected_only=corrected_only):
        video = store.get_video(run.video_id)
        final = store.final_masks(run.id)
        samples.append(RVOSSample(
            dataset="store", video_id=str(video.id), expression_id=str(run.expression_id),
            expression=run.expression, frame_names=list(video.frame_names),
            load_frames=lambda video=video: np.stack(list(iter_frames(video))), target_masks=final.masks,
            object_ids=[1] if final.masks.any() else [],
            extra={"run_id": run.id, "model_version": run.model_version, "corrected": final.corrected,
                   "edited": final.edited}))
    return samples
