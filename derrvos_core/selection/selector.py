"""FactSelector: TAIS's contract for the `real` model, from what the expression says and what each
trajectory is. One confidence in [0, 1] per trajectory: the class match, times the trajectory's
quality, times one term per colour, place, motion and order the expression asks for; then, when it
asks for one object (or n), every candidate past the best one (or n) that overlaps them in time is
damped, so "the man" is one man and "the two people" two.
"""
from __future__ import annotations

import numpy as np
import torch

from derrvos_core.language.query import ExpressionQuery, RelatedObject

from . import terms
from .facts import TrajectoryFacts
from .params import SelectorParams
from .reader import ParsedExpression


class FactSelector:
    """Scores `detector`-branch trajectories against an `ExpressionQuery` (see module docstring)."""

    def __init__(self, params: SelectorParams | None = None):
        self.params = params or SelectorParams()

    def scores(self, trajectories, tokens, expression) -> torch.Tensor:
        """float [N] in [0, 1]. `expression` is a `ParsedExpression` (or a bare `ExpressionQuery`);
        `tokens` is unused (this selector reads no per-frame tokens)."""
        del tokens
        query = expression.query if isinstance(expression, ParsedExpression) else expression
        facts = TrajectoryFacts.of(trajectories)
        return torch.from_numpy(score_facts(facts, query, self.params).astype(np.float32))


def score_facts(facts: TrajectoryFacts, query: ExpressionQuery, p: SelectorParams) -> np.ndarray:
    """float [N] in [0, 1]: the confidence of every trajectory (see module docstring)."""
    n = facts.num_trajectories
    if n == 0:
        return np.zeros(0, np.float32)
    if query.unknown_noun is not None and not query.classes:
        return np.zeros(n, np.float32)  # "the tree": no detector class can be it
    match = terms.class_match(facts, [(c.class_id, c.weight) for c in query.classes])
    candidates = (match >= p.candidate_floor) & facts.present.any(1)
    score = match ** p.class_power * np.clip(facts.quality, 0.0, 1.0) ** p.quality_power
    for mention in query.colours:
        score = score * terms.colour(facts, mention, candidates, p)
    for rel in query.spatial:
        score = score * terms.spatial(facts, rel, candidates, p)
    score = score * terms.motion(facts, query.motion, candidates, p)
    if query.order is not None:
        score = score * terms.order(facts, query.order, candidates, p)
    for related in query.related:
        score = score * _related(facts, related, p)
    return np.clip(_count(facts, score, query, candidates, p), 0.0, 1.0)


def _count(facts: TrajectoryFacts, score: np.ndarray, query: ExpressionQuery, candidates: np.ndarray,
           p: SelectorParams) -> np.ndarray:
    """Damp candidates past the asked number that share frames with a better one (a track split in two
    is still one object: its parts do not overlap in time, so both keep their score)."""
    if query.count.kind in ("several", "all"):
        return score
    wanted = 1 if query.count.kind == "one" else max(int(query.count.n or 1), 1)
    out = score.copy()
    kept: list[int] = []
    for i in np.argsort(-score, kind="stable"):
        if not candidates[i]:
            continue
        overlapping = sum(_overlap(facts.present[i], facts.present[j]) > 0.3 for j in kept)
        if overlapping >= wanted:
            out[i] = score[i] * p.count_factor
        else:
            kept.append(int(i))
    return out


def _overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Frames both are present on, over the shorter one's frames."""
    shorter = min(a.sum(), b.sum())
    return float((a & b).sum() / shorter) if shorter else 0.0


def _related(facts: TrajectoryFacts, related: RelatedObject, p: SelectorParams) -> np.ndarray:
    """"Holding an umbrella", "next to the car": the share of its frames on which a trajectory of the
    related class touches the target's box (grown by half its size). Neutral (1) when the related
    object is no COCO class (the reader lists it as ignored); `related_missing` for everyone when no
    trajectory of its class is in the crop ("the person riding a bicycle" with no bicycle in sight)."""
    if not related.classes:
        return np.ones(facts.num_trajectories, np.float32)
    match = terms.class_match(facts, [(c.class_id, c.weight) for c in related.classes])
    others = np.flatnonzero(match >= 0.5)
    if others.size == 0:
        value = 1.0 if related.negated else p.related_missing
        return np.full(facts.num_trajectories, value, np.float32)
    near = np.zeros(facts.num_trajectories, np.float32)
    for i in range(facts.num_trajectories):
        hits = [_touching(facts, i, j) for j in others if j != i]
        near[i] = max(hits) if hits else 0.0
    near = 0.2 + 0.8 * near
    return (1.2 - near) if related.negated else near


def _touching(facts: TrajectoryFacts, i: int, j: int) -> float:
    both = facts.present[i] & facts.present[j]
    if not both.any():
        return 0.0
    a, b = facts.box[i, both], facts.box[j, both]
    w, h = a[:, 2] - a[:, 0], a[:, 3] - a[:, 1]
    grown = np.stack([a[:, 0] - w / 2, a[:, 1] - h / 2, a[:, 2] + w / 2, a[:, 3] + h / 2], 1)
    touch = (b[:, 0] < grown[:, 2]) & (b[:, 2] > grown[:, 0]) & (b[:, 1] < grown[:, 3]) & (b[:, 3] > grown[:, 1])
    return float(touch.mean())
