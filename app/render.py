"""Pictures of a run: the overlay of one frame, the trajectory table, and painted strokes back to masks.

Pure functions of a frame, a result and its corrections (an `AnswerPlan`); no state, no model.
"""
from __future__ import annotations

import html
from dataclasses import dataclass

import numpy as np
from PIL import Image

from derrvos_core.answer_notes import ignored_note, nothing_selected_note
from derrvos_core.masks import overlay_masks, trajectory_colors
from derrvos_core.result import SegmentationResult, TrajectoryResult
from derrvos_core.store import CorrectionKind
from derrvos_core.store.corrections import AnswerPlan

EDIT_COLOR = (255, 255, 255)
"""Pixels a human drew that no selected trajectory covers are shown in white."""


@dataclass(frozen=True)
class TrajectoryRow:
    """One line of the trajectory table.

    Attributes:
        trajectory_id: the trajectory's id in its run.
        color: its overlay colour (RGB).
        score: DeRVOS confidence.
        crop_index: which crop it belongs to.
        frames_present: frames where its mask is not empty.
        first_frame, last_frame: the span of those frames (-1 when it is empty everywhere).
        selected: in the answer (after accept / reject corrections and the threshold in force).
        forced: "accepted" / "rejected" when a human decided, else "".
    """

    trajectory_id: int
    color: tuple[int, int, int]
    score: float
    crop_index: int
    frames_present: int
    first_frame: int
    last_frame: int
    selected: bool
    forced: str


@dataclass(frozen=True)
class AnswerSummary:
    """What the answer on screen is, for the note beside the overlay.

    Attributes:
        selected: (trajectory_id, score) of the selected trajectories, best first.
        threshold: the threshold in force.
        ignored_note: "ignored: '...'" for what the model could not use ("" when it used every word).
        empty_note: why nothing is selected ("" when something is).
        drawn: pixels drawn by hand are part of the answer.
    """

    selected: tuple[tuple[int, float], ...]
    threshold: float
    ignored_note: str
    empty_note: str
    drawn: bool


def answer_summary(plan: AnswerPlan) -> AnswerSummary:
    result = plan.result
    chosen = sorted(((t.trajectory_id, float(t.score)) for t in result.trajectories
                     if t.trajectory_id in plan.selected), key=lambda pair: (-pair[1], pair[0]))
    empty = "" if chosen else nothing_selected_note(result.trajectories, plan.threshold)
    drawn = any(kind is CorrectionKind.DRAW for strokes in plan.edits.values() for kind, _ in strokes)
    return AnswerSummary(tuple(chosen), plan.threshold, ignored_note(result.ignored), empty, drawn)


def colour_key(t: TrajectoryResult) -> int:
    # Linked trajectories share one identity (and colour) over the whole video.
    return t.link_id if t.link_id >= 0 else t.trajectory_id


def trajectory_palette(result: SegmentationResult) -> dict[int, tuple[int, int, int]]:
    """trajectory_id -> RGB, one colour per identity, the same for the same result."""
    keys = sorted({colour_key(t) for t in result.trajectories})
    colours = dict(zip(keys, trajectory_colors(len(keys))))
    return {t.trajectory_id: tuple(colours[colour_key(t)]) for t in result.trajectories}


def trajectory_rows(plan: AnswerPlan, decisions: dict[int, str]) -> list[TrajectoryRow]:
    """Table rows, best score first. `decisions`: trajectory_id -> "accepted"/"rejected"."""
    palette = trajectory_palette(plan.result)
    rows = []
    for t in plan.result.trajectories:
        present = t.frames_present()
        rows.append(TrajectoryRow(
            trajectory_id=t.trajectory_id, color=palette[t.trajectory_id], score=float(t.score),
            crop_index=t.crop_index, frames_present=len(present),
            first_frame=present[0] if present else -1, last_frame=present[-1] if present else -1,
            selected=t.trajectory_id in plan.selected, forced=decisions.get(t.trajectory_id, "")))
    return sorted(rows, key=lambda r: (-r.score, r.trajectory_id))


def frame_overlay(frame: np.ndarray, plan: AnswerPlan, index: int) -> np.ndarray:
    """uint8 [H, W, 3]: each selected trajectory in its colour, clipped to the corrected answer, and
    pixels drawn by hand outside every trajectory in EDIT_COLOR; erased pixels show the bare frame."""
    result = plan.result
    h, w = result.height, result.width
    answer = plan.frame_answer(index).mask
    palette = trajectory_palette(result)
    masks, colours = [], []
    covered = np.zeros((h, w), dtype=bool)
    for t in result.trajectories:
        if t.trajectory_id not in plan.selected or not t.frame_start <= index < t.frame_end:
            continue
        mask = t.mask(index, h, w) & answer
        if mask.any():
            masks.append(mask)
            colours.append(palette[t.trajectory_id])
            covered |= mask
    drawn = answer & ~covered
    if drawn.any():
        masks.append(drawn)
        colours.append(EDIT_COLOR)
    return overlay_masks(frame, masks, colours, alpha=0.5)


def display_scale(height: int, width: int, display_size: int) -> int:
    """Integer upscale factor that brings a small video's long side near `display_size` (1 for large ones)."""
    return max(1, int(display_size) // max(height, width, 1))


def upscale(image: np.ndarray, scale: int) -> np.ndarray:
    if scale <= 1:
        return image
    return np.repeat(np.repeat(image, scale, axis=0), scale, axis=1)


def painted_mask(layers: list, composite, background, height: int, width: int) -> np.ndarray:
    """bool [height, width]: where the user painted in the image editor, at the video's size.

    The paint is read from the editor's layers (alpha > 0); without layers, from where the composite
    differs from the background. The editor may show the frame upscaled: the mask is scaled back.
    """
    painted = None
    for layer in layers or []:
        if layer is None:
            continue
        layer = np.asarray(layer)
        alpha = layer[..., 3] > 0 if layer.ndim == 3 and layer.shape[2] == 4 else layer.any(axis=-1)
        painted = alpha if painted is None else painted | alpha
    if painted is None and composite is not None and background is not None:
        comp, back = np.asarray(composite), np.asarray(background)
        if comp.shape == back.shape:
            painted = np.any(comp[..., :3] != back[..., :3], axis=-1)
    if painted is None:
        return np.zeros((height, width), dtype=bool)
    if painted.shape != (height, width):
        image = Image.fromarray(painted.astype(np.uint8) * 255)
        # BOX averages each video pixel's block of screen pixels: a pixel counts when half of it is painted.
        painted = np.asarray(image.resize((width, height), Image.Resampling.BOX)) >= 128
    return painted


def trajectory_table_html(rows: list[TrajectoryRow]) -> str:
    """The trajectory table as HTML (colour swatches need HTML; a Dataframe would show text)."""
    if not rows:
        return ("<p class='derrvos-empty'>No trajectories yet: load a video, type an expression and "
                "press Run.</p>")
    head = ("<tr><th>colour</th><th>id</th><th>score</th><th>crop</th><th>frames present</th>"
            "<th>span</th><th>selected</th></tr>")
    body = []
    for r in rows:
        swatch = (f"<span style='display:inline-block;width:1.4em;height:1em;border:1px solid #444;"
                  f"background:rgb{r.color}'></span>")
        span = f"{r.first_frame}–{r.last_frame}" if r.frames_present else "—"
        state = ("✔" if r.selected else "✘") + (f" ({html.escape(r.forced)})" if r.forced else "")
        body.append(f"<tr class='{'sel' if r.selected else 'unsel'}'><td>{swatch}</td>"
                    f"<td>{r.trajectory_id}</td>"
                    f"<td>{r.score:.3f}</td><td>{r.crop_index}</td><td>{r.frames_present}</td>"
                    f"<td>{span}</td><td>{state}</td></tr>")
    # The wrapper scrolls: a video with many crops has many trajectories, the page stays compact.
    return (f"<div class='derrvos-table-wrap'><table class='derrvos-trajectories'>{head}{''.join(body)}"
            "</table></div>")
