"""One frame's pixel edits replayed per object: pure functions on {object id: bool [H, W]} dicts.

An edit with an object id touches that object only (SET replaces that object's mask on the frame, as a
propagated frame is stored). An edit without one applies to the union, and is shared out so that the
union of the objects is what the union replay (`AnswerPlan.frame_answer`) gives:
- ERASE removes its pixels from every object;
- DRAW adds its stroke to the object the stroke overlaps most (ties: the lower id), or to the user-made
  "drawn" object (`DRAWN_OBJECT_ID`) when it overlaps none;
- SET makes the frame's answer exactly its mask: each object keeps its pixels inside the mask, and the
  mask's pixels no object held go, per connected region of the mask, to the object that region overlapped
  most before the SET (or to the drawn object when it overlapped none).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from derrvos_core.objects import DRAWN_OBJECT_ID
from derrvos_core.result import decode_rle
from derrvos_core.store.records import CorrectionKind

#: Regions of a SET mask are 8-connected (a diagonal step stays one region).
_EIGHT = np.ones((3, 3), dtype=bool)


@dataclass(frozen=True)
class PixelEdit:
    """One DRAW / ERASE / SET on a frame, in replay order.

    Attributes:
        kind: DRAW, ERASE or SET.
        rle: the stroke (DRAW / ERASE) or the new mask (SET), COCO RLE.
        object_id: the object it edits; None = the union (a legacy edit).
    """

    kind: CorrectionKind
    rle: dict
    object_id: int | None = None


def apply_edit(masks: dict[int, np.ndarray], edit: PixelEdit) -> None:
    """Apply `edit` to `masks` in place (objects it creates are added)."""
    stroke = decode_rle(edit.rle)
    if edit.object_id is not None:
        _apply_scoped(masks, edit.kind, stroke, edit.object_id)
    elif edit.kind is CorrectionKind.ERASE:
        for mask in masks.values():
            mask &= ~stroke
    elif edit.kind is CorrectionKind.DRAW:
        owner = _most_overlapped(masks, stroke)
        _grow(masks, owner, stroke)
    else:
        _set_union(masks, stroke)


def union(masks: dict[int, np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    out = np.zeros(shape, dtype=bool)
    for mask in masks.values():
        out |= mask
    return out


def _apply_scoped(masks: dict[int, np.ndarray], kind: CorrectionKind, stroke: np.ndarray, obj: int) -> None:
    if kind is CorrectionKind.DRAW:
        _grow(masks, obj, stroke)
    elif kind is CorrectionKind.ERASE:
        if obj in masks:
            masks[obj] &= ~stroke
    else:
        masks[obj] = stroke.copy()


def _grow(masks: dict[int, np.ndarray], obj: int, pixels: np.ndarray) -> None:
    if obj in masks:
        masks[obj] |= pixels
    else:
        masks[obj] = pixels.copy()


def _most_overlapped(masks: dict[int, np.ndarray], region: np.ndarray) -> int:
    best, best_overlap = DRAWN_OBJECT_ID, 0
    for obj in sorted(masks):
        overlap = int(np.count_nonzero(masks[obj] & region))
        if overlap > best_overlap:
            best, best_overlap = obj, overlap
    return best


def _set_union(masks: dict[int, np.ndarray], new: np.ndarray) -> None:
    before = {obj: mask.copy() for obj, mask in masks.items()}
    for mask in masks.values():
        mask &= new
    leftover = new & ~union(masks, new.shape)
    if not leftover.any():
        return
    labels, _ = ndimage.label(new, structure=_EIGHT)
    for region_id in np.unique(labels[leftover]):
        region = labels == region_id
        _grow(masks, _most_overlapped(before, region), leftover & region)
