"""SynthRef expressions: referring sentences with their targets, checked against the simulated facts.

Categories (the `category` key of meta_expressions.json):
- appearance: colour / shape / size / texture pick out one object ("the small red star");
- position: extreme position within a group, true in every frame they share ("the leftmost square");
- motion: a motion predicate, aimed first at objects whose twin looks the same
  ("the circle that turns around");
- relation: order of events and relations to another object ("the square that stops first",
  "the star following the blue circle", "the triangle above the red square");
- multi_target: two or more targets ("all the blue shapes moving up");
- no_target: describes nothing in the video ("the green star", "the red circle that turns around").
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from derrvos_core.datasets.synthref_facts import MOTION_PREDICATES
from derrvos_core.datasets.synthref_phrases import (ORDER_PHRASES, POSITION_PHRASES, RELATION_PHRASES,
                                                    SPEED_PHRASES, count_word, motion_phrase, noun_phrase,
                                                    pick)
from derrvos_core.datasets.synthref_vocab import COLOURS, DIRECTIONS, SHAPES

CATEGORIES = ("appearance", "position", "motion", "relation", "multi_target", "no_target")
CATEGORY_WEIGHTS = (0.18, 0.13, 0.28, 0.18, 0.13, 0.10)
_ATTR_SETS = (("shape",), ("colour",), ("colour", "shape"), ("size", "shape"), ("texture", "shape"),
              ("size", "colour"), ("size", "colour", "shape"), ("colour", "texture", "shape"),
              ("size", "texture", "shape"), ("size", "colour", "texture", "shape"))
_GROUP_ATTRS = ((), ("shape",), ("colour",), ("colour", "shape"), ("size", "colour", "texture", "shape"))
_ATTR_OF = {"shape": lambda o: o.shape, "colour": lambda o: o.colour, "size": lambda o: o.size,
            "texture": lambda o: o.texture}


@dataclass(frozen=True)
class Expression:
    """A referring sentence, its target obj_ids (empty: no target) and its category."""

    text: str
    targets: tuple
    category: str


def make_expressions(facts: list, rng: np.random.Generator, count: int, static: bool = False) -> list:
    """Up to `count` distinct expressions; held-out objects (test split) get a motion expression first.

    static: a single image (RIS): only appearance, position and spatial-relation expressions.
    """
    out, seen = [], set()

    def keep(expr):  # one expression per (targets, category): variety beats rewordings
        if expr is not None and expr.text not in seen and (expr.targets, expr.category) not in seen:
            seen.update([expr.text, (expr.targets, expr.category)])
            out.append(expr)

    for f in facts:
        if f.obj.held_out and f.targetable and len(out) < count and not static:
            keep(_motion(facts, rng, target=f, attrs=("colour", "shape")))
    makers = {"appearance": _appearance, "position": _position, "motion": _motion, "relation": _relation,
              "multi_target": _multi_target, "no_target": _no_target}
    if static:  # one image: nothing moves, and RefCOCO refers to exactly one object
        makers = {"appearance": _appearance, "position": _position, "relation": _spatial}
    if not _targets(facts):
        makers = {"no_target": _no_target} if not static else {}
    names = [c for c in CATEGORIES if c in makers]
    p = np.array([CATEGORY_WEIGHTS[CATEGORIES.index(c)] for c in names])
    for _ in range(count * 8 if names else 0):
        if len(out) >= count:
            break
        keep(makers[names[int(rng.choice(len(names), p=p / p.sum()))]](facts, rng))
    return out


def _matches(obj, ref, attrs) -> bool:
    return all(_ATTR_OF[a](obj) == _ATTR_OF[a](ref) for a in attrs)


def _group(facts, ref, attrs) -> list:
    return [f for f in facts if _matches(f.obj, ref, attrs)]


def _unique_attrs(facts, target, rng) -> tuple | None:
    """A shortest attribute set that only `target` matches; a third of the time the full description."""
    unique = [a for a in _ATTR_SETS if len(_group(facts, target.obj, a)) == 1]
    if not unique:
        return None
    if len(unique[-1]) == 4 and rng.random() < 0.33:
        return unique[-1]  # people over-specify, too
    return pick(rng, [a for a in unique if len(a) == len(unique[0])])


def _targets(facts):
    return [f for f in facts if f.targetable]


def _appearance(facts, rng, target=None):
    target = target or pick(rng, _targets(facts))
    attrs = _unique_attrs(facts, target, rng)
    if attrs is None:
        return None
    np_ = noun_phrase(target.obj, attrs, rng)
    return Expression(pick(rng, ["the {np}", "the {np}", "{np}"]).format(np=np_), (target.obj.obj_id,),
                      "appearance")


def _position(facts, rng):
    target = pick(rng, _targets(facts))
    for attrs in (_GROUP_ATTRS[i] for i in rng.permutation(3)):
        group = _group(facts, target.obj, attrs)
        if len(group) < 2:
            continue
        for side in (list(POSITION_PHRASES)[i] for i in rng.permutation(4)):
            if all(_beyond(target, other, side) for other in group if other is not target):
                text = pick(rng, POSITION_PHRASES[side]).format(np=noun_phrase(target.obj, attrs, rng))
                return Expression(text, (target.obj.obj_id,), "position")
    return None


def _beyond(a, b, side: str, margin: float = 3.0) -> bool:
    """a lies further towards `side` than b in every frame both are visible (and they share >= 3 frames)."""
    both = a.visible & b.visible
    if both.sum() < min(3, len(both)):
        return False
    axis, sign = {"left": (0, -1), "right": (0, 1), "top": (1, -1), "bottom": (1, 1)}[side]
    diff = (a.obj.positions[both, axis] - b.obj.positions[both, axis]) * sign
    return bool((diff > margin).all())


def _exact_motion(f) -> list:
    return sorted(p for p in f.exact if p in MOTION_PREDICATES or p.startswith("dir:"))


def _motion(facts, rng, target=None, attrs=None):
    """A motion predicate that no other object of the target's noun-phrase group satisfies, even broadly."""
    if target is None:
        pool = _targets(facts)
        twins = [f for f in pool if sum(o.obj.appearance == f.obj.appearance for o in facts) > 1]
        target = pick(rng, twins if twins and rng.random() < 0.8 else pool)
    for group_attrs in ([attrs] if attrs else [_GROUP_ATTRS[i] for i in rng.permutation(len(_GROUP_ATTRS))]):
        others = [f for f in _group(facts, target.obj, group_attrs) if f is not target]
        preds = [p for p in _exact_motion(target) if not any(p in o.broad for o in others)]
        speed = _speed_word(target, others)
        if not preds and speed is None:
            continue
        np_ = noun_phrase(target.obj, group_attrs, rng)
        if speed is not None and (not preds or rng.random() < 0.25):
            return Expression(pick(rng, SPEED_PHRASES[speed]).format(np=np_), (target.obj.obj_id,), "motion")
        return Expression(f"the {np_} {motion_phrase(pick(rng, preds), rng)}", (target.obj.obj_id,), "motion")
    return None


def _speed_word(target, others) -> str | None:
    """"fast"/"slow" when the target is clearly faster/slower than every other mover of its group."""
    movers = [o.speed for o in others if o.speed > 0]
    if not movers or target.speed <= 0 or len(movers) != len(others):
        return None
    if all(target.speed >= 1.6 * s for s in movers):
        return "fast"
    if all(target.speed * 1.6 <= s for s in movers):
        return "slow"
    return None


def _relation(facts, rng, tries: int = 4):
    kinds = [_order, _follow, _spatial]
    for _ in range(tries):  # relations are rarer than the other categories: look harder
        for i in rng.permutation(len(kinds)):
            expr = kinds[int(i)](facts, rng)
            if expr is not None:
                return expr
    return None


def _order(facts, rng):
    event = pick(rng, list(ORDER_PHRASES))
    target = pick(rng, _targets(facts))
    attrs = _GROUP_ATTRS[int(rng.integers(3))]
    group = _group(facts, target.obj, attrs)
    having = sorted((f.events[event], f.obj.obj_id) for f in group if event in f.events)
    if len(having) < 2:
        return None
    first, last = ORDER_PHRASES[event]
    for (t0, who), (t1, _), forms in ((having[0], having[1], first), (having[-1], having[-2], last)):
        if abs(t1 - t0) >= 3 and facts[who].targetable:
            text = pick(rng, forms).format(np=noun_phrase(facts[who].obj, attrs, rng))
            return Expression(text, (who,), "relation")
    return None


def _follow(facts, rng):
    pairs = [(f, p.split(":")[0], int(p.split(":")[1])) for f in _targets(facts) for p in sorted(f.exact)
             if p.startswith(("follows:", "led:"))]  # sorted: a set's order changes with the hash seed
    if not pairs:
        return None
    target, kind, ref_id = pairs[int(rng.integers(len(pairs)))]
    ref_attrs = _unique_attrs(facts, facts[ref_id], rng)
    attrs = _GROUP_ATTRS[int(rng.integers(4))]
    rivals = [f for f in _group(facts, target.obj,
                                attrs) if f is not target and f"{kind}:{ref_id}" in f.exact]
    if ref_attrs is None or rivals:
        return None
    text = pick(rng, RELATION_PHRASES[kind]).format(np=noun_phrase(target.obj, attrs, rng),
                                                    ref=noun_phrase(facts[ref_id].obj, ref_attrs, rng))
    return Expression(text, (target.obj.obj_id,), "relation")


def _spatial(facts, rng):
    target, ref = (pick(rng, _targets(facts)) for _ in range(2))
    ref_attrs = _unique_attrs(facts, ref, rng)
    if target is ref or ref_attrs is None:
        return None
    attrs = _GROUP_ATTRS[int(rng.integers(3))]
    side = pick(rng, ["left_of", "right_of", "above", "below"])
    where = {"left_of": "left", "right_of": "right", "above": "top", "below": "bottom"}[side]
    group = [f for f in _group(facts, target.obj, attrs) if f is not target and f is not ref]
    if not _beyond(target, ref, where, margin=2.0):
        return None
    if any(_beyond(o, ref, where, 0.0) or _sometimes_beyond(o, ref, where) for o in group):
        return None  # another object of the group is (at times) on that side too
    text = pick(rng, RELATION_PHRASES[side]).format(np=noun_phrase(target.obj, attrs, rng),
                                                    ref=noun_phrase(ref.obj, ref_attrs, rng))
    return Expression(text, (target.obj.obj_id,), "relation")


def _sometimes_beyond(a, b, side: str) -> bool:
    both = a.visible & b.visible
    axis, sign = {"left": (0, -1), "right": (0, 1), "top": (1, -1), "bottom": (1, 1)}[side]
    return bool(((a.obj.positions[both, axis] - b.obj.positions[both, axis]) * sign > 0).any())


def _multi_target(facts, rng):
    seed = pick(rng, _targets(facts))
    attrs = pick(rng, [("colour",), ("shape",), ("size",), ("texture",), ("size", "shape"),
                       ("colour", "size")])
    group = [f for f in _group(facts, seed.obj, attrs)]
    pred = pick(rng, _exact_motion(seed)) if _exact_motion(seed) and rng.random() < 0.5 else None
    chosen = [f for f in group if pred is None or pred in f.exact]
    if pred is not None and any(pred in f.broad for f in group if f not in chosen):
        return None
    if len(chosen) < 2 or not all(f.targetable for f in chosen):
        return None
    np_pl = noun_phrase(seed.obj, attrs, rng, plural=True)
    counted = ["the two {np}", "both {np}"] if len(chosen) == 2 else [f"the {count_word(len(chosen))} {{np}}"]
    head = pick(rng, ["all the {np}", "all {np}"] + counted)
    text = head.format(np=np_pl) + ("" if pred is None else " " + motion_phrase(pred, rng, plural=True))
    return Expression(text, tuple(sorted(f.obj.obj_id for f in chosen)), "multi_target")


def _no_target(facts, rng):
    if rng.random() < 0.5:  # an appearance that is nowhere in the video, one word off a real object
        real = pick(rng, facts).obj
        colour = real.colour if rng.random() < 0.5 else pick(rng, list(COLOURS))
        shape = real.shape if colour != real.colour else pick(rng, list(SHAPES))
        if any(f.obj.colour == colour and f.obj.shape == shape for f in facts):
            return None
        return Expression(f"the {colour} {shape}", (), "no_target")
    ref = pick(rng, facts)
    attrs = _GROUP_ATTRS[1 + int(rng.integers(3))]
    group = _group(facts, ref.obj, attrs)
    candidates = list(MOTION_PREDICATES) + ["dir:" + d for d in DIRECTIONS]
    free = [p for p in candidates if not any(p in f.broad for f in group)]
    if not free:
        return None
    return Expression(f"the {noun_phrase(ref.obj, attrs, rng)} {motion_phrase(pick(rng, free), rng)}", (),
                      "no_target")
