"""Replaying corrections over a run's answer: pure functions, no database.

Semantics (in correction order, undone corrections skipped):
- the base is the model's selection; a THRESHOLD correction re-selects from the cached scores;
- ACCEPT / REJECT force one trajectory in or out of the selection (the latest decision wins, and
  it survives later threshold changes);
- DRAW / ERASE / SET edit one frame's pixels on top of the selection's union, in order; SET
  replaces whatever the frame held before it.
Undo is a correction too (nothing is deleted): an UNDO takes back its target while the UNDO itself
is active, so undoing an undo redoes.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from typing import Iterator, Sequence

import numpy as np

from derrvos_core.result import SegmentationResult, decode_rle, select_trajectories
from derrvos_core.store.records import CorrectionKind, CorrectionRecord, FrameAnswer

PIXEL_KINDS = (CorrectionKind.DRAW, CorrectionKind.ERASE, CorrectionKind.SET)


def mark_active(corrections: Sequence[CorrectionRecord]) -> list[CorrectionRecord]:
    """The corrections (ordered by id) with `active` set: an active undo deactivates its target."""
    undone_by: dict[int, list[int]] = defaultdict(list)
    active: dict[int, bool] = {}
    # Newest first: every undo of a correction is newer than it, so its state is known by then.
    for c in reversed(corrections):
        active[c.id] = not any(active[u] for u in undone_by[c.id])
        if c.kind is CorrectionKind.UNDO and c.target_id is not None:
            undone_by[c.target_id].append(c.id)
    return [replace(c, active=active[c.id]) for c in corrections]


@dataclass(frozen=True)
class AnswerPlan:
    """What the corrections make of a run: the selection plus per-frame pixel edits.

    Attributes:
        result: the run as the model left it (scores and RLEs).
        threshold: the threshold in force (the run's, or its latest threshold correction).
        selected: trajectory ids in the corrected selection.
        corrected: bool [T], a human decision bears on the frame.
        edits: frame -> [(kind, stroke RLE)] in order.
    """

    result: SegmentationResult
    threshold: float
    selected: frozenset
    corrected: np.ndarray
    edits: dict

    def frame_answer(self, frame: int) -> FrameAnswer:
        r = self.result
        mask = np.zeros((r.height, r.width), dtype=bool)
        for t in r.trajectories:
            if t.trajectory_id in self.selected and t.frame_start <= frame < t.frame_end:
                rle = t.rles[frame - t.frame_start]
                if rle is not None:
                    mask |= decode_rle(rle)
        for kind, rle in self.edits.get(frame, ()):
            stroke = decode_rle(rle)
            if kind is CorrectionKind.DRAW:
                mask |= stroke
            elif kind is CorrectionKind.ERASE:
                mask &= ~stroke
            else:
                mask = stroke.copy()
        return FrameAnswer(frame=frame, mask=mask, corrected=bool(self.corrected[frame]),
                           edited=frame in self.edits)

    def frames(self) -> Iterator[FrameAnswer]:
        for frame in range(self.result.num_frames):
            yield self.frame_answer(frame)


def plan_answer(result: SegmentationResult, corrections: Sequence[CorrectionRecord]) -> AnswerPlan:
    """Replay the active corrections (ordered by id, `active` already marked) over `result`."""
    by_id = {t.trajectory_id: t for t in result.trajectories}
    corrected = np.zeros(result.num_frames, dtype=bool)
    edits: dict[int, list] = defaultdict(list)
    forced: dict[int, bool] = {}
    threshold = None
    for c in corrections:
        if not c.active or c.kind is CorrectionKind.UNDO:
            continue
        if c.kind is CorrectionKind.THRESHOLD:
            threshold = c.threshold
            corrected[:] = True
        elif c.kind in (CorrectionKind.ACCEPT, CorrectionKind.REJECT):
            forced[c.trajectory_id] = c.kind is CorrectionKind.ACCEPT
            t = by_id[c.trajectory_id]
            corrected[t.frame_start:t.frame_end] = True
        else:
            if c.kind is CorrectionKind.SET:
                edits[c.frame].clear()  # nothing before a SET shows through it
            edits[c.frame].append((c.kind, c.rle))
            corrected[c.frame] = True
    base = set(result.selected) if threshold is None else \
        set(select_trajectories(result.trajectories, threshold, result.settings.at_least_one))
    selected = {i for i in base if forced.get(i, True)} | {i for i, keep in forced.items() if keep}
    return AnswerPlan(result=result, threshold=threshold_in_force(result.threshold, corrections),
                      selected=frozenset(selected), corrected=corrected, edits=dict(edits))


def threshold_in_force(run_threshold: float, corrections: Sequence[CorrectionRecord]) -> float:
    """The run's threshold, or that of its latest active threshold correction (`active` marked)."""
    chosen = [c.threshold for c in corrections if c.active and c.kind is CorrectionKind.THRESHOLD]
    return chosen[-1] if chosen else run_threshold
