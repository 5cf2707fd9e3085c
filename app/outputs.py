"""Files a run produces for download: the overlay MP4, a zip of per-frame PNG masks, the scores JSON."""
from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from app.render import EDIT_COLOR, frame_overlay, trajectory_palette
from derrvos_core.outputs import scores_json
from derrvos_core.store.corrections import AnswerPlan
from derrvos_core.video import VideoReader, draw_legend, write_video


def scores_payload(plan: AnswerPlan, run_id: int, model_version: str) -> dict:
    """Per-trajectory scores and the corrected selection (`derrvos_core.outputs.scores_json`)."""
    return scores_json(plan.result, model_version, selected=plan.selected, threshold=plan.threshold,
                       run_id=run_id)


def write_masks_zip(path: Path, plan: AnswerPlan, frame_names: list[str], folder: str) -> Path:
    """A zip of one 0/255 PNG per frame (the corrected answer), under `folder/`; written then moved."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    try:
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for answer in plan.frames():
                buffer = io.BytesIO()
                Image.fromarray(np.where(answer.mask, 255, 0).astype(np.uint8), mode="L").save(buffer, "PNG")
                archive.writestr(f"{folder}/{frame_names[answer.frame]}.png", buffer.getvalue())
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path


def write_overlay_mp4(path: Path, reader: VideoReader, plan: AnswerPlan) -> Path:
    """The video with the corrected answer overlaid (identity colours, legend of selected ones) and the
    source's audio (a frame folder has none)."""
    palette = trajectory_palette(plan.result)
    chosen = [t for t in plan.result.trajectories if t.trajectory_id in plan.selected]
    labels = [f"#{t.trajectory_id} {t.score:.2f}" for t in chosen]
    colours = [palette[t.trajectory_id] for t in chosen]
    if any(plan.edits):
        labels.append("drawn by hand")
        colours.append(EDIT_COLOR)

    def frames() -> Iterator[np.ndarray]:
        for index, frame in enumerate(reader.frames()):
            yield draw_legend(frame_overlay(frame, plan, index), labels, colours)

    audio = None if reader.path.is_dir() else reader.path
    return write_video(path, frames(), reader.info.fps, audio_from=audio)
