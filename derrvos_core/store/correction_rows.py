"""One correction checked against its run and made into a row: what each kind needs and may carry."""
from __future__ import annotations

from numbers import Integral

from derrvos_core.errors import InputError
from derrvos_core.objects import check_object_id
from derrvos_core.result import SegmentationResult
from derrvos_core.store.corrections import PIXEL_KINDS
from derrvos_core.store.records import CorrectionItem, CorrectionKind
from derrvos_core.store.rle import encode_rle, mask_from
from derrvos_core.store.schema import CorrectionRow, RunRow
from derrvos_core.validation import threshold_value


def correction_kind(kind: CorrectionKind | str) -> CorrectionKind:
    try:
        return CorrectionKind(kind)
    except ValueError:
        known = [k.value for k in CorrectionKind]
        raise InputError(f"unknown correction kind {kind!r}; one of {known}") from None


def correction_row(run: RunRow, result: SegmentationResult, item: CorrectionItem, user: str) -> CorrectionRow:
    """The row for `item` (not UNDO) on `run`, or InputError saying which argument does not fit."""
    kind = correction_kind(item.kind)
    row = CorrectionRow(run_id=run.id, kind=kind.value, user=user, propagated=False)
    if kind not in PIXEL_KINDS and (item.source_frame is not None or item.propagated is not False):
        raise InputError(f"{kind.value}: source_frame and propagated belong to draw / erase / set only")
    if kind in (CorrectionKind.ACCEPT, CorrectionKind.REJECT):
        ids = {t.trajectory_id for t in result.trajectories}
        tid = item.trajectory_id
        if not _whole(tid) or int(tid) not in ids:
            raise InputError(f"{kind.value}: run {run.id} has no trajectory {tid} (it has {sorted(ids)})")
        row.trajectory_index = int(tid)
        if item.object_id is not None:
            if kind is CorrectionKind.REJECT:
                raise InputError("reject: takes no object_id (a rejected trajectory belongs to no object)")
            row.object_id = check_object_id(item.object_id, result, f"accept of trajectory {tid}")
    elif kind is CorrectionKind.THRESHOLD:
        if item.object_id is not None:
            raise InputError("threshold: takes no object_id (it re-selects the whole answer)")
        if item.threshold is None:
            raise InputError("threshold: needs a value in [0, 1], got None")
        row.threshold = threshold_value(item.threshold, "threshold")
    else:
        row.frame = _frame(item.frame, run, kind.value)
        if item.mask is None:
            raise InputError(f"{kind.value}: needs a mask")
        row.rle = encode_rle(mask_from(item.mask, run.height, run.width, f"{kind.value} on frame {row.frame}"))
        if item.object_id is not None:
            row.object_id = check_object_id(item.object_id, result, f"{kind.value} on frame {row.frame}")
        if item.source_frame is not None:
            row.source_frame = _frame(item.source_frame, run, f"{kind.value}'s source_frame")
        if not isinstance(item.propagated, bool):
            raise InputError(f"{kind.value}: propagated must be True or False, got {item.propagated!r}")
        row.propagated = item.propagated
    return row


def _frame(frame, run: RunRow, what: str) -> int:
    if not _whole(frame) or not 0 <= int(frame) < run.num_frames:
        raise InputError(f"{what}: frame {frame} is outside run {run.id}'s {run.num_frames} frames")
    return int(frame)


def _whole(value) -> bool:
    """A whole number (Python or NumPy), not a bool."""
    return isinstance(value, Integral) and not isinstance(value, bool)
