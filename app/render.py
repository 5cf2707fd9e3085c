"""Pictures of a run: the overlay of one frame (colours by object id), the rows of the trajectory table,
clicks drawn over the overlay, and painted strokes back to masks.

Pure functions of a frame, a result and its corrections (an `AnswerPlan`); no state, no model.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np
from PIL import Image

from derrvos_core.answer_notes import ignored_note, nothing_selected_note
from derrvos_core.masks import overlay_masks, trajectory_colors
from derrvos_core.objects import DRAWN_OBJECT_ID, model_object_ids
from derrvos_core.outputs import identity_colours
from derrvos_core.result import SegmentationResult
from derrvos_core.store import CorrectionKind
from derrvos_core.store.corrections import AnswerPlan

EDIT_COLOR = (255, 255, 255)
"""Pixels a human drew that no selected trajectory covers are shown in white."""
PROPOSAL_COLOR = (255, 255, 0)
"""A mask made from clicks, not yet accepted, is outlined in yellow."""


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


def score_text(score: float) -> str:
    """A score in three decimals, rounded down: a threshold set to the number shown selects it (a float32
    0.35 is 0.34999999 and shows as 0.349, not as a 0.350 that the threshold 0.350 would leave out)."""
    return f"{math.floor(float(score) * 1000 + 1e-6) / 1000:.3f}"


def threshold_text(threshold: float) -> str:
    """A threshold as the slider holds it: three decimals, trailing zeros past two dropped (0.355, 0.35)."""
    text = f"{float(threshold):.3f}"
    return text[:-1] if text.endswith("0") else text


def trajectory_palette(result: SegmentationResult) -> dict[int, tuple[int, int, int]]:
    """trajectory_id -> RGB of its identity: `derrvos_core.outputs.identity_colours`, the CLI's palette."""
    return identity_colours(result)


def object_colours(plan: AnswerPlan) -> dict[int, tuple[int, int, int]]:
    """object id -> RGB for every object of the run (the model's, selected or not, and the user-made ones
    of the plan). Model objects come first in id order, so their colours are `identity_colours`'; the
    drawn object of strokes that touch no object is EDIT_COLOR."""
    users = {o.object_id for o in plan.objects if o.user_made and o.object_id != DRAWN_OBJECT_ID}
    keys = sorted(model_object_ids(plan.result)) + sorted(users)
    colours = {key: tuple(c) for key, c in zip(keys, trajectory_colors(len(keys)))}
    colours[DRAWN_OBJECT_ID] = EDIT_COLOR
    return colours


@dataclass(frozen=True)
class OverlayStyle:
    """How the answer is drawn over a frame.

    Attributes:
        opacity: how strongly each object's colour covers its pixels, in [0, 1].
        outline_only: draw only each object's outline (the frame stays visible under it).
    """

    opacity: float = 0.5
    outline_only: bool = False

    @property
    def alpha(self) -> float:
        return 0.0 if self.outline_only else float(np.clip(self.opacity, 0.0, 1.0))


def frame_overlay(frame: np.ndarray, plan: AnswerPlan, index: int,
                  style: OverlayStyle = OverlayStyle()) -> np.ndarray:
    """uint8 [H, W, 3]: each object of the corrected answer in its colour (`object_colours`), pixels drawn
    by hand that touch no object in EDIT_COLOR; erased pixels show the bare frame."""
    colours = object_colours(plan)
    masks, shown = [], []
    for object_id, mask in plan.frame_objects(index).items():
        if mask.any():
            masks.append(mask)
            shown.append(colours.get(object_id, EDIT_COLOR))
    return overlay_masks(frame, masks, shown, alpha=style.alpha)


def draw_clicks(image: np.ndarray, scale: int, proposal: np.ndarray | None,
                positives: Sequence[tuple[int, int]], negatives: Sequence[tuple[int, int]]) -> np.ndarray:
    """The display image with a click-made proposal outlined in PROPOSAL_COLOR and each click marked
    (positive: a green disc, negative: a red one); `proposal` and clicks are at the video's size,
    `image` is the frame upscaled by `scale`."""
    out = np.array(image, copy=True)
    if proposal is not None and proposal.any():
        big = upscale(proposal, scale)
        out[big & ~cv2.erode(big.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)] = PROPOSAL_COLOR
    radius = max(3, scale * 2)
    for points, colour in ((positives, (40, 220, 40)), (negatives, (230, 30, 30))):
        for x, y in points:
            centre = (int(x * scale + scale // 2), int(y * scale + scale // 2))
            cv2.circle(out, centre, radius, colour, thickness=-1)
            cv2.circle(out, centre, radius, (255, 255, 255), thickness=1)
    return out


def trajectory_rows(plan: AnswerPlan, decisions: dict[int, str]) -> list[TrajectoryRow]:
    """Table rows, best score first. `decisions`: trajectory_id -> "accepted"/"rejected"."""
    colours = object_colours(plan)
    rows = []
    for t in plan.result.trajectories:
        present = t.frames_present()
        rows.append(TrajectoryRow(
            trajectory_id=t.trajectory_id, color=colours[plan.object_of(t.trajectory_id)],
            score=float(t.score), crop_index=t.crop_index, frames_present=len(present),
            first_frame=present[0] if present else -1, last_frame=present[-1] if present else -1,
            selected=t.trajectory_id in plan.selected, forced=decisions.get(t.trajectory_id, "")))
    return sorted(rows, key=lambda r: (-r.score, r.trajectory_id))


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
