"""Is an answer right? The selected masks of a run against RealRef's ground-truth boxes, on the keyframes.

Used to choose the real-video examples (`app/make_examples.py` ships only expressions the model answers
right), and by the tests that check what the page highlights. Box IoU as in
`derrvos_core.evaluation.realref`: the box around the answer's mask against the box around the targets'
boxes, per keyframe; a keyframe where both are empty scores 1, where one is empty 0.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from derrvos_core.datasets.realref import box_frames
from derrvos_core.datasets.realref_format import RealRefClip
from derrvos_core.evaluation.realref import box_iou, mask_box, union_box

PASS_IOU = 0.5
"""An answer is right when its box IoU reaches this over the keyframes, and over those where a target is
visible (so that answering nothing on the frames without the target cannot carry it)."""


@dataclass(frozen=True)
class BoxCheck:
    """One expression's answer against the ground truth on the keyframes before `num_frames`.

    Attributes:
        frames: the keyframes checked; ious: box IoU on each.
        box_iou: their mean; visible_iou: the mean over keyframes where a target has a box (None: none).
        passed: both reach PASS_IOU.
    """

    exp_id: str
    expression: str
    category: str
    frames: tuple[int, ...]
    ious: tuple[float, ...]
    box_iou: float
    visible_iou: float | None
    passed: bool

    def as_dict(self) -> dict:
        return {"exp_id": self.exp_id, "expression": self.expression, "category": self.category,
                "box_iou": round(self.box_iou, 3),
                "visible_box_iou": None if self.visible_iou is None else round(self.visible_iou, 3),
                "keyframes": list(self.frames), "passed": self.passed}


def check_answer(answer: Callable[[int], np.ndarray], clip: RealRefClip, exp_id: str,
                 num_frames: int | None = None) -> BoxCheck:
    """`answer(t)`: bool [H, W] answer at clip frame t (at the clip's size). Only keyframes before
    `num_frames` are read (a cut of the clip); None: the whole clip."""
    expression = clip.expressions[exp_id]
    stop = clip.num_frames if num_frames is None else num_frames
    frames = tuple(t for t in box_frames(clip, expression) if t < stop)
    ious, visible = [], []
    for t in frames:
        truth = union_box(clip.objects[o].boxes[t] for o in expression.obj_ids)
        iou = box_iou(mask_box(np.asarray(answer(t), dtype=bool)), truth)
        ious.append(iou)
        if truth is not None:
            visible.append(iou)
    mean = float(np.mean(ious)) if ious else 0.0
    visible_mean = float(np.mean(visible)) if visible else None
    passed = bool(ious) and mean >= PASS_IOU and (visible_mean is None or visible_mean >= PASS_IOU)
    return BoxCheck(exp_id, expression.text, expression.category, frames, tuple(ious), mean, visible_mean,
                    passed)


def expression_id(clip: RealRefClip, text: str) -> str:
    """The id of the clip's expression written `text` (KeyError when it has none)."""
    for exp_id, expression in clip.expressions.items():
        if expression.text == text:
            return exp_id
    raise KeyError(f"{clip.clip_id} has no expression {text!r}")
