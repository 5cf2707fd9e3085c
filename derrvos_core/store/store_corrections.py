"""Store methods for corrections: add (typed shortcuts per kind), undo, list, and the corrected answer."""
from __future__ import annotations

from typing import Iterator

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from derrvos_core.errors import InputError
from derrvos_core.store.corrections import PIXEL_KINDS, AnswerPlan, mark_active, plan_answer
from derrvos_core.store.records import CorrectionKind, CorrectionRecord, FinalMasks, FrameAnswer
from derrvos_core.store.rle import encode_rle, mask_from
from derrvos_core.store.runs import correction_record, load_result
from derrvos_core.store.schema import CorrectionRow, RunRow
from derrvos_core.validation import threshold_value, user_name


class CorrectionMethods:
    """Mixed into `Store`; relies on its `_read`, `_write` and `_row`."""

    def add_correction(self, run_id: int, kind: CorrectionKind | str, *, user: str,
                       trajectory_id: int | None = None, frame: int | None = None,
                       mask: np.ndarray | dict | None = None, threshold: float | None = None,
                       target_id: int | None = None) -> CorrectionRecord:
        """Store one correction of a run (one transaction) and return it, with the frame's resulting
        answer in `result_rle` for pixel kinds. Which arguments a kind needs:
        ACCEPT/REJECT: trajectory_id; THRESHOLD: threshold; DRAW/ERASE/SET: frame and mask
        (bool [H, W] or an RLE dict); UNDO: target_id."""
        kind = _kind(kind)
        user_name(user)

        def work(session: Session) -> CorrectionRecord:
            run = self._row(session, RunRow, run_id)
            # One writer per run at a time (PostgreSQL: row lock until commit; SQLite's BEGIN IMMEDIATE
            # already serialises writers): the corrections replayed below are then all that precede this
            # one, so `result_rle` agrees with a replay of the stored corrections.
            session.execute(select(RunRow.id).where(RunRow.id == run.id).with_for_update())
            result = load_result(session, run)
            row = CorrectionRow(run_id=run.id, kind=kind.value, user=user)
            if kind in (CorrectionKind.ACCEPT, CorrectionKind.REJECT):
                ids = {t.trajectory_id for t in result.trajectories}
                if trajectory_id is None or int(trajectory_id) not in ids:
                    raise InputError(f"{kind.value}: run {run.id} has no trajectory {trajectory_id} "
                                     f"(it has {sorted(ids)})")
                row.trajectory_index = int(trajectory_id)
            elif kind is CorrectionKind.THRESHOLD:
                if threshold is None:
                    raise InputError("threshold: needs a value in [0, 1], got None")
                row.threshold = threshold_value(threshold, "threshold")
            elif kind is CorrectionKind.UNDO:
                row.target_id = self._undo_target(session, run.id, target_id)
            else:
                if frame is None or isinstance(frame, bool) or not 0 <= int(frame) < run.num_frames:
                    raise InputError(f"{kind.value}: frame {frame} is outside run {run.id}'s "
                                     f"{run.num_frames} frames")
                if mask is None:
                    raise InputError(f"{kind.value}: needs a mask")
                row.frame = int(frame)
                row.rle = encode_rle(mask_from(mask, run.height, run.width, f"{kind.value} on frame {frame}"))
            session.add(row)
            session.flush()
            if kind in PIXEL_KINDS:
                plan = plan_answer(result, self._corrections(session, run.id))
                row.result_rle = encode_rle(plan.frame_answer(row.frame).mask)
            return correction_record(row)
        return self._write(work)

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


def _kind(kind: CorrectionKind | str) -> CorrectionKind:
    try:
        return CorrectionKind(kind)
    except ValueError:
        known = [k.value for k in CorrectionKind]
        raise InputError(f"unknown correction kind {kind!r}; one of {known}") from None
