"""Object identity of an answer: which trajectories are one object, and the ids user-made objects get.

One integer id space in three disjoint ranges, so an object id says where the object came from:

- LINKED  [0, 2**31): a trajectory linked across crops (`TrajectoryResult.link_id >= 0`) is object
  `link_id`; every trajectory of one link is the same object. With linking off the model gives each
  trajectory its own link (`link_id == trajectory_id`), so each is its own object.
- OWN     [2**31, 2**32): a trajectory without a link (`link_id == -1`) is object `2**31 + trajectory_id`.
- USER    [2**32, 2**53): objects a person made (clicks, paint) that no trajectory is: allocated per run,
  `USER_OBJECT_BASE + k`; k = 0 is the "drawn" object that legacy strokes touching no object go to.

The ranges cannot collide: the store refuses link and trajectory ids outside [0, 2**31) (`-1` for no
link), so `link_id < 2**31 <= 2**31 + trajectory_id < 2**32 <= any user-made id`. 2**53 bounds user
ids so they survive JSON and JavaScript numbers exactly.
"""
from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral
from typing import Iterable

from derrvos_core.errors import InputError
from derrvos_core.result import SegmentationResult, TrajectoryResult

#: First id of trajectories without a cross-crop link (ids below it are link ids).
OWN_OBJECT_BASE = 2**31
#: First user-made object id; this one is the "drawn" object of legacy strokes that touch no object.
USER_OBJECT_BASE = 2**32
DRAWN_OBJECT_ID = USER_OBJECT_BASE
#: User-made ids stay below this (exact in JSON / JavaScript numbers).
MAX_OBJECT_ID = 2**53 - 1


@dataclass(frozen=True)
class AnswerObject:
    """One object of a corrected answer.

    Attributes:
        object_id: its id (see the module docstring for the ranges).
        trajectory_ids: the selected trajectories that make it, ascending (empty for a user-made
            object, or a model object whose trajectories were all rejected but whose pixels were edited).
        user_made: made by a person (USER range), not by the model.
    """

    object_id: int
    trajectory_ids: tuple[int, ...]
    user_made: bool


def trajectory_object_id(t: TrajectoryResult) -> int:
    """The object a trajectory belongs to: its link when linked, else its own (OWN range) id."""
    return int(t.link_id) if t.link_id >= 0 else OWN_OBJECT_BASE + int(t.trajectory_id)


def object_label(object_id: int) -> str:
    """How the page names an object: a link id as it is, a trajectory without a link as "t<id>", the drawn
    object as "drawn", and the k-th object a person made as "new k" (never the raw 2**32-range number)."""
    if object_id == DRAWN_OBJECT_ID:
        return "drawn"
    if is_user_object(object_id):
        return f"new {object_id - USER_OBJECT_BASE}"
    if object_id >= OWN_OBJECT_BASE:
        return f"t{object_id - OWN_OBJECT_BASE}"
    return str(object_id)


def is_user_object(object_id: int) -> bool:
    return USER_OBJECT_BASE <= object_id <= MAX_OBJECT_ID


def model_object_ids(result: SegmentationResult) -> set[int]:
    """Every object the run's trajectories (selected or not) can make."""
    return {trajectory_object_id(t) for t in result.trajectories}


def next_user_object_id(used: Iterable[int | None]) -> int:
    """A fresh user-made id: one above the largest user-made id in `used` (the drawn id counts as used)."""
    users = [i for i in used if i is not None and is_user_object(i)]
    return max(users + [DRAWN_OBJECT_ID]) + 1


def check_object_id(object_id, result: SegmentationResult, what: str) -> int:
    """`object_id` as an int when the run can hold it: one of its trajectories' objects, or any id in the
    user-made range (a fresh one creates that object). InputError naming `what` otherwise."""
    if isinstance(object_id, bool) or not isinstance(object_id, Integral):
        raise InputError(f"{what}: object_id must be a whole number, got {object_id!r}")
    object_id = int(object_id)
    if is_user_object(object_id):
        return object_id
    known = model_object_ids(result)
    if object_id not in known:
        raise InputError(f"{what}: the run has no object {object_id} (its trajectories make objects "
                         f"{sorted(known)}; user-made objects are {USER_OBJECT_BASE}..{MAX_OBJECT_ID})")
    return object_id
