"""The timeline strip under the frame: a row per selected object marking the frames where it is present,
and a row marking weak frames (no selected object there scores at or above the threshold), so that a
reviewer goes to those first. An image, so that a click on it names a frame."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.render import object_colours
from derrvos_core.store.corrections import AnswerPlan

ROW_PX = 12
GAP_PX = 2
TARGET_WIDTH_PX = 600
"""Frames of a short video get several pixels each, so the strip is about this wide or more."""
WEAK_COLOR = (110, 110, 110)
"""Grey: no object colour is grey, so the weak row reads apart from every object's row."""
CURSOR_COLOR = (0, 0, 0)
BACKGROUND = (240, 240, 240)
MAX_OBJECT_ROWS = 12


@dataclass(frozen=True)
class Timeline:
    """The strip of a run.

    Attributes:
        image: uint8 [H, W, 3]; frame f covers columns [f * frame_px, (f + 1) * frame_px).
        frame_px: columns per frame.
        weak: bool [T], frames where no selected object scores at or above the threshold.
        object_ids: the objects of the rows, top to bottom (the weak row comes after them).
    """

    image: np.ndarray
    frame_px: int
    weak: np.ndarray
    object_ids: tuple[int, ...]

    def frame_at(self, x: float) -> int:
        """The frame under column `x` of the image (clipped to the video)."""
        return int(np.clip(int(x) // self.frame_px, 0, len(self.weak) - 1))


def presence(plan: AnswerPlan) -> dict[int, np.ndarray]:
    """object id -> bool [T]: frames where a selected trajectory of it has a mask (user-made objects:
    frames where an edit names it)."""
    num_frames = plan.result.num_frames
    present: dict[int, np.ndarray] = {}
    for t in plan.result.trajectories:
        if t.trajectory_id in plan.selected:
            row = present.setdefault(plan.object_of(t.trajectory_id), np.zeros(num_frames, dtype=bool))
            row[t.frames_present()] = True
    for frame, edits in plan.pixel_edits.items():
        for e in edits:
            if e.object_id is not None and e.object_id not in present:
                present[e.object_id] = np.zeros(num_frames, dtype=bool)
            if e.object_id is not None:
                present[e.object_id][frame] = True
    return present


def weak_frames(plan: AnswerPlan) -> np.ndarray:
    """bool [T]: frames where no selected trajectory of score >= the threshold has a mask (an object kept
    only because someone accepted it, or nothing at all, is weak)."""
    strong = np.zeros(plan.result.num_frames, dtype=bool)
    for t in plan.result.trajectories:
        if t.trajectory_id in plan.selected and float(t.score) >= plan.threshold:
            strong[t.frames_present()] = True
    return ~strong


def timeline(plan: AnswerPlan, index: int) -> Timeline:
    """The strip of `plan` with a cursor on frame `index`."""
    num_frames = plan.result.num_frames
    frame_px = max(1, TARGET_WIDTH_PX // max(num_frames, 1))
    present = presence(plan)
    colours = object_colours(plan)
    ids = sorted(present, key=lambda o: (-int(present[o].sum()), o))[:MAX_OBJECT_ROWS]
    weak = weak_frames(plan)
    rows = [(present[o], colours.get(o, (255, 255, 255))) for o in ids] + [(weak, WEAK_COLOR)]
    height = len(rows) * (ROW_PX + GAP_PX) + GAP_PX
    image = np.empty((height, num_frames * frame_px, 3), dtype=np.uint8)
    image[:] = BACKGROUND
    for n, (marks, colour) in enumerate(rows):
        top = GAP_PX + n * (ROW_PX + GAP_PX)
        columns = np.repeat(marks, frame_px)
        image[top:top + ROW_PX, columns] = colour
    cursor = int(np.clip(index, 0, num_frames - 1)) * frame_px
    image[:, cursor:cursor + max(1, frame_px // 2)] = CURSOR_COLOR
    return Timeline(image=image, frame_px=frame_px, weak=weak, object_ids=tuple(ids))
