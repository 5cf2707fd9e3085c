"""Replaying corrections over a run's answer: pure functions, no database.

Semantics (in correction order, undone corrections skipped):
- the base is the model's selection; a THRESHOLD correction re-selects from the cached scores;
- ACCEPT / REJECT force one trajectory in or out of the selection (the latest decision wins, and
  it survives later threshold changes); an ACCEPT with an object id puts the trajectory into that object;
- DRAW / ERASE / SET edit one frame's pixels, in order. Without an object id they edit the union (SET
  replaces whatever the frame held before it); with one they edit that object only (see
  `object_replay` for how union edits are shared out among objects).
The answer's objects (`AnswerPlan.objects`, `frame_objects`) follow `derrvos_core.objects`; their union
is always `frame_answer`.
Undo is a correction too (nothing is deleted): an UNDO takes back its target, and every correction added
in the same action (`group_id`), while the UNDO itself is active, so undoing an undo redoes.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Iterator, Sequence

import numpy as np

from derrvos_core.objects import AnswerObject, DRAWN_OBJECT_ID, is_user_object, trajectory_object_id
from derrvos_core.result import SegmentationResult, decode_rle, select_trajectories
from derrvos_core.store.object_replay import PixelEdit, apply_edit, union
from derrvos_core.store.records import CorrectionKind, CorrectionRecord, FrameAnswer

PIXEL_KINDS = (CorrectionKind.DRAW, CorrectionKind.ERASE, CorrectionKind.SET)


def mark_active(corrections: Sequence[CorrectionRecord]) -> list[CorrectionRecord]:
    """The corrections (ordered by id) with `active` set: an active undo of any member of a group
    deactivates the whole group (a correction without a group is a group of one)."""
    by_id = {c.id: c for c in corrections}

    def unit(correction_id: int) -> tuple:
        c = by_id.get(correction_id)
        return ("group", c.group_id) if c is not None and c.group_id is not None else ("one", correction_id)

    undone_by: dict[tuple, list[int]] = defaultdict(list)
    unit_active: dict[tuple, bool] = {}
    active: dict[int, bool] = {}
    # Newest first: every undo of a group's member is newer than the whole group (it was added in one
    # transaction before the undo could name it), so the group's state is known at its newest member.
    for c in reversed(corrections):
        key = unit(c.id)
        if key not in unit_active:
            unit_active[key] = not any(active[u] for u in undone_by[key])
        active[c.id] = unit_active[key]
        if c.kind is CorrectionKind.UNDO and c.target_id is not None:
            undone_by[unit(c.target_id)].append(c.id)
    return [replace(c, active=active[c.id]) for c in corrections]


@dataclass(frozen=True)
class AnswerPlan:
    """What the corrections make of a run: the selection, its objects, and per-frame pixel edits.

    Attributes:
        result: the run as the model left it (scores and RLEs).
        threshold: the threshold in force (the run's, or its latest threshold correction).
        selected: trajectory ids in the corrected selection.
        corrected: bool [T], a human decision bears on the frame.
        pixel_edits: frame -> (PixelEdit, ...) in order, every active pixel edit of the frame.
        assigned: trajectory id -> object id, for trajectories an ACCEPT put into another object.
    """

    result: SegmentationResult
    threshold: float
    selected: frozenset
    corrected: np.ndarray
    pixel_edits: dict
    assigned: dict

    @property
    def edits(self) -> dict:
        """frame -> [(kind, stroke RLE)] that make the frame's union: its edits from the last union SET on
        (nothing before a SET shows through it)."""
        out = {}
        for frame, edits in self.pixel_edits.items():
            sets = [i for i, e in enumerate(edits) if e.kind is CorrectionKind.SET and e.object_id is None]
            out[frame] = [(e.kind, e.rle) for e in edits[sets[-1] if sets else 0:]]
        return out

    def object_of(self, trajectory_id: int) -> int:
        """The object a trajectory of the run belongs to in this plan."""
        if trajectory_id in self.assigned:
            return self.assigned[trajectory_id]
        return trajectory_object_id(self._by_id[trajectory_id])

    @cached_property
    def objects(self) -> tuple[AnswerObject, ...]:
        """The answer's objects in id order: those of selected trajectories, those an edit with an object
        id draws or sets, and the drawn object where union strokes touching no object left pixels."""
        members: dict[int, list[int]] = defaultdict(list)
        for tid in sorted(self.selected):
            members[self.object_of(tid)].append(tid)
        drawn_frames = []
        for frame, edits in self.pixel_edits.items():
            for e in edits:
                if e.object_id is not None and e.kind is not CorrectionKind.ERASE:
                    members.setdefault(e.object_id, [])
                elif e.object_id is None and e.kind is not CorrectionKind.ERASE:
                    drawn_frames.append(frame)
        if DRAWN_OBJECT_ID not in members and any(
                self._replay(f).get(DRAWN_OBJECT_ID, np.zeros(1, bool)).any() for f in set(drawn_frames)):
            members[DRAWN_OBJECT_ID] = []
        return tuple(AnswerObject(object_id=obj, trajectory_ids=tuple(members[obj]),
                                  user_made=is_user_object(obj)) for obj in sorted(members))

    def frame_objects(self, frame: int) -> dict[int, np.ndarray]:
        """object id -> bool [H, W] at `frame`, for every object in `objects` (empty where it is absent);
        their union is `frame_answer(frame).mask`."""
        masks = self._replay(frame)
        shape = (self.result.height, self.result.width)
        return {o.object_id: masks.get(o.object_id, np.zeros(shape, dtype=bool)) for o in self.objects}

    def frame_answer(self, frame: int) -> FrameAnswer:
        edits = self.pixel_edits.get(frame, ())
        if any(e.object_id is not None for e in edits):
            mask = union(self._replay(frame), (self.result.height, self.result.width))
        else:
            mask = self._union_answer(frame)
        return FrameAnswer(frame=frame, mask=mask, corrected=bool(self.corrected[frame]),
                           edited=frame in self.pixel_edits)

    def frames(self) -> Iterator[FrameAnswer]:
        for frame in range(self.result.num_frames):
            yield self.frame_answer(frame)

    @cached_property
    def _by_id(self) -> dict:
        return {t.trajectory_id: t for t in self.result.trajectories}

    def _selected_at(self, frame: int):
        for t in self.result.trajectories:
            if t.trajectory_id in self.selected and t.frame_start <= frame < t.frame_end:
                rle = t.rles[frame - t.frame_start]
                if rle is not None:
                    yield t, rle

    def _union_answer(self, frame: int) -> np.ndarray:
        """The frame's answer when no edit names an object: the selection's union, then the edits."""
        r = self.result
        mask = np.zeros((r.height, r.width), dtype=bool)
        for _, rle in self._selected_at(frame):
            mask |= decode_rle(rle)
        for kind, rle in self.edits.get(frame, ()):
            stroke = decode_rle(rle)
            if kind is CorrectionKind.DRAW:
                mask |= stroke
            elif kind is CorrectionKind.ERASE:
                mask &= ~stroke
            else:
                mask = stroke.copy()
        return mask

    def _replay(self, frame: int) -> dict[int, np.ndarray]:
        """object id -> mask at `frame`: the selected trajectories per object, then the frame's edits."""
        masks: dict[int, np.ndarray] = {}
        for t, rle in self._selected_at(frame):
            obj = self.object_of(t.trajectory_id)
            masks[obj] = masks[obj] | decode_rle(rle) if obj in masks else decode_rle(rle)
        for edit in self.pixel_edits.get(frame, ()):
            apply_edit(masks, edit)
        return masks


def plan_answer(result: SegmentationResult, corrections: Sequence[CorrectionRecord]) -> AnswerPlan:
    """Replay the active corrections (ordered by id, `active` already marked) over `result`."""
    by_id = {t.trajectory_id: t for t in result.trajectories}
    corrected = np.zeros(result.num_frames, dtype=bool)
    edits: dict[int, list[PixelEdit]] = defaultdict(list)
    forced: dict[int, bool] = {}
    assigned: dict[int, int] = {}
    threshold = None
    for c in corrections:
        if not c.active or c.kind is CorrectionKind.UNDO:
            continue
        if c.kind is CorrectionKind.THRESHOLD:
            threshold = c.threshold
            corrected[:] = True
        elif c.kind in (CorrectionKind.ACCEPT, CorrectionKind.REJECT):
            forced[c.trajectory_id] = c.kind is CorrectionKind.ACCEPT
            if c.kind is CorrectionKind.ACCEPT and c.object_id is not None:
                assigned[c.trajectory_id] = c.object_id
            elif c.kind is CorrectionKind.ACCEPT:
                assigned.pop(c.trajectory_id, None)  # the latest decision: back to its own object
            t = by_id[c.trajectory_id]
            corrected[t.frame_start:t.frame_end] = True
        else:
            edits[c.frame].append(PixelEdit(kind=c.kind, rle=c.rle, object_id=c.object_id))
            corrected[c.frame] = True
    base = set(result.selected) if threshold is None else \
        set(select_trajectories(result.trajectories, threshold, result.settings.at_least_one))
    selected = {i for i in base if forced.get(i, True)} | {i for i, keep in forced.items() if keep}
    return AnswerPlan(result=result, threshold=threshold_in_force(result.threshold, corrections),
                      selected=frozenset(selected), corrected=corrected,
                      pixel_edits={f: tuple(e) for f, e in edits.items()}, assigned=assigned)


def fixes_in_force(corrections: Sequence[CorrectionRecord]) -> int:
    """The mask and selection corrections in force (`active` marked): undos and thresholds are not fixes
    (dragging the threshold slider is not ten fixes)."""
    return sum(c.active and c.kind not in (CorrectionKind.UNDO, CorrectionKind.THRESHOLD) for c in corrections)


def threshold_in_force(run_threshold: float, corrections: Sequence[CorrectionRecord]) -> float:
    """The run's threshold, or that of its latest active threshold correction (`active` marked)."""
    chosen = [c.threshold for c in corrections if c.active and c.kind is CorrectionKind.THRESHOLD]
    return chosen[-1] if chosen else run_threshold
