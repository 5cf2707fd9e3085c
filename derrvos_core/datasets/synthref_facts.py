"""What can truthfully be said about each SynthRef object, read off the simulation and its masks.

Two readings of a motion predicate keep expressions unambiguous:
- `exact`: the statement used to describe a target (it moves only left, it stops, ...);
- `broad`: a generous reading used to rule out distractors (it moves left at some point).
An expression is kept only when its targets satisfy the exact reading and no other object
in its noun-phrase group satisfies the broad one.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from derrvos_core.datasets.synthref_vocab import DIRECTIONS

MOTION_PREDICATES = ("still", "stops", "starts", "turns", "bounces", "leaves", "enters", "returns")
_MOVING = 0.05  # px per frame below which an object counts as still


@dataclass
class ObjectFacts:
    """Per-object facts.

    Attributes:
        obj: the SceneObject.
        visible: bool [T], any visible pixel after occlusion and clipping.
        on_screen: bool [T], any part of the sprite inside the frame (occlusion ignored).
        events: predicate -> first frame it happens ("stops", "starts", "turns", "leaves", "enters").
        exact: predicates that describe the object precisely (incl. "dir:<name>" for one steady direction).
        broad: predicates a generous reader could apply (superset of exact).
        speed: mean speed in px/frame over moving frames (0 when still).
    """

    obj: object
    visible: np.ndarray
    on_screen: np.ndarray
    events: dict = field(default_factory=dict)
    exact: set = field(default_factory=set)
    broad: set = field(default_factory=set)
    speed: float = 0.0

    @property
    def targetable(self) -> bool:
        """Visible long enough that a person could point at it."""
        return int(self.visible.sum()) >= min(3, len(self.visible))


def object_facts(scene, visible: np.ndarray) -> list:
    """[ObjectFacts] in obj_id order; `visible` is bool [T, N] (any visible pixel per frame)."""
    out = []
    for i, obj in enumerate(scene.objects):
        half = obj.size_px / 2.0
        x, y = obj.positions[:, 0], obj.positions[:, 1]
        on_screen = (x + half > 0) & (x - half < scene.width) & (y + half > 0) & (y - half < scene.height)
        facts = ObjectFacts(obj, visible[:, i].copy(), on_screen)
        _motion_facts(facts)
        out.append(facts)
    for facts in out:
        if facts.obj.leader is not None:
            facts.exact.add(f"follows:{facts.obj.leader}")
            out[facts.obj.leader].exact.add(f"led:{facts.obj.obj_id}")
    for facts in out:
        facts.broad |= facts.exact
    return out


def _motion_facts(f: ObjectFacts) -> None:
    vel = f.obj.velocities
    speed = np.hypot(vel[:, 0], vel[:, 1])
    moving = speed > _MOVING
    f.speed = float(speed[moving].mean()) if moving.any() else 0.0
    if not moving.any():
        f.exact.add("still")
    seen = moving & f.on_screen
    _direction_facts(f, vel[seen], speed[seen])
    t_len = len(moving)
    for t in range(1, t_len):
        if moving[t - 1] and not moving[t]:
            f.events.setdefault("stops", t)
        if not moving[t - 1] and moving[t]:
            f.events.setdefault("starts", t)
        if moving[t - 1] and moving[t] and float(vel[t - 1] @ vel[t]) < 0:
            f.events.setdefault("turns", t)
    if f.obj.bounces:
        f.exact.add("bounces")
        f.broad.add("turns")  # a wall reflection is a turn to a generous reader, not to a precise one
    if (~moving).mean() >= 0.4:
        f.broad.add("still")  # still for a good part of the video: "does not move" is arguable
    on = f.on_screen
    if on.any():
        first, last = int(np.argmax(on)), t_len - 1 - int(np.argmax(on[::-1]))
        gone_inside = not on[first:last + 1].all()
        if on[0] and not on[-1]:
            f.events["leaves"] = last + 1
        if not on[0]:
            f.events["enters"] = first
        if gone_inside and on[0] and on[-1]:
            f.exact.add("returns")
    for name in ("stops", "starts", "turns", "leaves", "enters"):
        if name in f.events:
            f.exact.add(name)


def _direction_facts(f: ObjectFacts, vel: np.ndarray, speed: np.ndarray) -> None:
    """exact "dir:d" only for one steady direction; broad "dir:d" for any clear component towards d."""
    if not len(vel):
        return
    unit = vel / speed[:, None]
    names = set()
    for u in unit:
        names.add(max(DIRECTIONS, key=lambda d: float(np.dot(u, DIRECTIONS[d]))))
    if len(names) == 1:
        f.exact.add("dir:" + names.pop())
    for d, (dx, dy) in DIRECTIONS.items():
        comps = [(dx, unit[:, 0]), (dy, unit[:, 1])]
        if all(((c > 0.3) if s > 0 else (c < -0.3)).any() if s != 0 else True for s, c in comps):
            if any(s != 0 for s, _ in comps):
                f.broad.add("dir:" + d)
