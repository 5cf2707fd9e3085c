"""Store methods for corrections: add (typed shortcuts per kind, or several in one action), undo, list,
and the corrected answer."""
from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from derrvos_core.errors import InputError
from derrvos_core.objects import next_user_object_id
from derrvos_core.store.correction_rows import correction_kind, correction_row
from derrvos_core.store.corrections import PIXEL_KINDS, AnswerPlan, mark_active, plan_answer
from derrvos_core.store.records import CorrectionItem, CorrectionKind, CorrectionRecord, FinalMasks, FrameAnswer
from derrvos_core.store.rle import encode_rle
from derrvos_core.store.runs import correction_record, load_result
from derrvos_core.store.schema import CorrectionRow, RunRow
from derrvos_core.validation import user_name


class CorrectionMethods:
    """Mixed into `Store`; relies on its `_read`, `_write` and `_row`."""

    def add_correction(self, run_id: int, kind: CorrectionKind | str, *, user: str,
                       trajectory_id: int | None = None, frame: int | None = None,
                       mask: np.ndarray | dict | None = None, threshold: float | None = None,
                       target_id: int | None = None, object_id: int | None = None,
                       source_frame: int | None = None, propagated: bool = False) -> CorrectionRecord:
        """Store one correction of a run (one transaction) and return it, with the frame's resulting
        answer in `result_rle` for pixel kinds. Which arguments a kind needs:
        ACCEPT/REJECT: trajectory_id; THRESHOLD: threshold; DRAW/ERASE/SET: frame and mask
        (bool [H, W] or an RLE dict); UNDO: target_id.
        `object_id` (DRAW/ERASE/SET: edit that object only; ACCEPT: the object the trajectory joins) is one
        of the run's objects or a user-made id (`new_object_id`); `source_frame` and `propagated` say a
        pixel edit was carried from another frame."""
        kind = correction_kind(kind)
        user_name(user)
        if kind is CorrectionKind.UNDO:
            if object_id is not None or source_frame is not None or propagated:
                raise InputError("undo: takes only the correction to undo (no object, frame or propagation)")

            def undo_work(session: Session) -> CorrectionRecord:
                run = self._locked_run(session, run_id)
                row = CorrectionRow(run_id=run.id, kind=kind.value, user=user,
                                    target_id=self._undo_target(session, run.id, target_id))
                session.add(row)
                session.flush()
                return correction_record(row)
            return self._write(undo_work)
        item = CorrectionItem(kind=kind, trajectory_id=trajectory_id, frame=frame, mask=mask,
                              threshold=threshold, object_id=object_id, source_frame=source_frame,
                              propagated=propagated)
        return self._write(lambda session: self._add_items(session, run_id, [item], user, grouped=False)[0])

    def add_corrections(self, run_id: int, items: Sequence[CorrectionItem], user: str) -> list[CorrectionRecord]:
        """Store several corrections of one action in one transaction (all or none), in order, with one
        `group_id`: an annotator accepting 30 propagated frames at once. An undo of any of them takes back
        the whole group. Each item is checked as `add_correction` checks its arguments; UNDO items are
        refused (undo a group with `undo`)."""
        user_name(user)
        items = list(items)
        if not items:
            raise InputError("add_corrections: no corrections given")
        for n, item in enumerate(items):
            if not isinstance(item, CorrectionItem):
                raise InputError(f"add_corrections: item {n} is a {type(item).__name__}, not a CorrectionItem")
            if correction_kind(item.kind) is CorrectionKind.UNDO:
                raise InputError(f"add_corrections: item {n} is an undo; undo a group with `undo`")
        return self._write(lambda session: self._add_items(session, run_id, items, user, grouped=True))

    def new_object_id(self, run_id: int) -> int:
        """A user-made object id no correction of the run uses yet (for a new object made by clicks or
        paint). It is taken once a correction names it; ask again for each new object."""
        return next_user_object_id(c.object_id for c in self.corrections(run_id))

    def _locked_run(self, session: Session, run_id: int) -> RunRow:
        run = self._row(session, RunRow, run_id)
        # One writer per run at a time (PostgreSQL: row lock until commit; SQLite's BEGIN IMMEDIATE
        # already serialises writers): the corrections replayed below are then all that precede this
        # one, so `result_rle` agrees with a replay of the stored corrections.
        session.execute(select(RunRow.id).where(RunRow.id == run.id).with_for_update())
        return run

    def _add_items(self, session: Session, run_id: int, items: list[CorrectionItem], user: str,
                   grouped: bool) -> list[CorrectionRecord]:
        run = self._locked_run(session, run_id)
        result = load_result(session, run)
        rows = [correction_row(run, result, item, user) for item in items]  # all checked before any write
        for row in rows:
            session.add(row)
            session.flush()
            if grouped:
                row.group_id = rows[0].id
        if grouped:
            session.flush()
        corrections = self._corrections(session, run.id)
        position = {c.id: n for n, c in enumerate(corrections)}
        for row in rows:
            if row.kind in {k.value for k in PIXEL_KINDS}:
                # the frame's answer right after this correction: replay up to and including it
                upto = mark_active(corrections[:position[row.id] + 1])
                row.result_rle = encode_rle(plan_answer(result, upto).frame_answer(row.frame).mask)
        return [correction_record(row) for row in rows]

    def accept(self, run_id: int, trajectory_id: int, user: str) -> CorrectionRecord:
        return self.add_correction(run_id, CorrectionKind.ACCEPT, user=user, trajectory_id=trajectory_id)

    def reject(self, run_id: int, trajectory_id: int, user: str) -> CorrectionRecord:
        return self.add_correction(run_id, CorrectionKind.REJECT, user=user, trajectory_id=trajectory_id)

    def set_threshold(self, run_id: int, threshold: float, user: str) -> CorrectionRecord:
        return self.add_correction(run_id, CorrectionKind.THRESHOLD, user=user, threshold=threshold)

    def draw(self, run_id: int, frame: int, mask: np.ndarray | dict, user: str) -> CorrectionRecord:
        return self.add_correction(run_id, CorrectionKind.DRAW, user=user, frame=frame, mask=mask)

    def erase(self, run_id: int, frame: int, mask: np.ndarray | dict, user: str) -> CorrectionRecord:
        return self.add_correction(run_id, CorrectionKind.ERASE, user=user, frame=frame, mask=mask)

    def set_mask(self, run_id: int, frame: int, mask: np.ndarray | dict, user: str) -> CorrectionRecord:
        return self.add_correction(run_id, CorrectionKind.SET, user=user, frame=frame, mask=mask)

    def undo(self, correction_id: int, user: str) -> CorrectionRecord:
        """Take back a correction (an undo of an undo redoes). Nothing is deleted."""
        with self._read() as session:
            run_id = self._row(session, CorrectionRow, correction_id).run_id
        return self.add_correction(run_id, CorrectionKind.UNDO, user=user, target_id=correction_id)

    def undo_last(self, run_id: int, user: str) -> CorrectionRecord | None:
        """Undo the newest active correction of the run that is not itself an undo; None if none is left."""
        candidates = [c for c in self.corrections(run_id) if c.active and c.kind is not CorrectionKind.UNDO]
        return self.undo(candidates[-1].id, user) if candidates else None

    def corrections(self, run_id: int) -> list[CorrectionRecord]:
        """All corrections of the run in order, `active` False for those undone."""
        with self._read() as session:
            self._row(session, RunRow, run_id)
            return self._corrections(session, run_id)

    def iter_final_masks(self, run_id: int) -> Iterator[FrameAnswer]:
        """Per frame, the corrected answer and whether a human touched it (decoded one frame at a time)."""
        yield from self._plan(run_id).frames()

    def final_masks(self, run_id: int) -> FinalMasks:
        """Every frame's corrected answer at once: masks bool [T, H, W] and flags [T]."""
        plan = self._plan(run_id)
        r = plan.result
        masks = np.zeros((r.num_frames, r.height, r.width), dtype=bool)
        edited = np.zeros(r.num_frames, dtype=bool)
        for answer in plan.frames():
            masks[answer.frame] = answer.mask
            edited[answer.frame] = answer.edited
        return FinalMasks(run_id=run_id, masks=masks, corrected=plan.corrected.copy(), edited=edited)

    def answer_plan(self, run_id: int) -> AnswerPlan:
        """The run's corrected answer as a plan: its union per frame, its objects and their masks."""
        return self._plan(run_id)

    def _plan(self, run_id: int) -> AnswerPlan:
        with self._read() as session:
            run = self._row(session, RunRow, run_id)
            return plan_answer(load_result(session, run), self._corrections(session, run.id))

    @staticmethod
    def _corrections(session: Session, run_id: int) -> list[CorrectionRecord]:
        rows = session.scalars(select(CorrectionRow).where(CorrectionRow.run_id == run_id)
                               .order_by(CorrectionRow.id))
        return mark_active([correction_record(r) for r in rows])

    def _undo_target(self, session: Session, run_id: int, target_id: int | None) -> int:
        target = None if target_id is None else session.get(CorrectionRow, int(target_id))
        if target is None or target.run_id != run_id:
            raise InputError(f"undo: run {run_id} has no correction {target_id}")
        return target.id

