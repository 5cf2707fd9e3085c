"""One score in [0, 1] per trajectory for each thing an expression says; plain functions of the facts.

`candidates` (bool [N]) are the trajectories of the asked class: rankings ("the leftmost", "the
fastest", "the first to appear") are taken among them, as a person compares people with people.
"""
from __future__ import annotations

import numpy as np

from derrvos_core.language.query import ColourMention, MotionQuery, OrderQuery, SpatialRelation

from .facts import TrajectoryFacts
from .params import SelectorParams

#: The language side's colour names -> the branch's palette entries they cover.
_REGION_ROW = {"whole": 0, "upper": 1, "lower": 2}
#: Clothes that cover most of the body half a colour is measured on.
GARMENTS = frozenset({"jacket", "coat", "shirt", "t-shirt", "tshirt", "sweater", "jumper", "hoodie", "top",
                      "dress", "suit", "trousers", "pants", "jeans", "shorts", "skirt", "uniform", "clothes",
                      "outfit", "vest", "blouse", "cardigan", "raincoat", "overcoat", "jersey", "tracksuit"})


def class_match(facts: TrajectoryFacts, class_weights: list[tuple[int, float]]) -> np.ndarray:
    """How much each trajectory is of the asked classes, in [0, 1]: the weighted class mass relative to
    its own strongest class (a detector spreads probability over look-alikes, so a person detected at
    0.6 person / 0.1 skis is fully a person); 1 when no class is asked."""
    if not class_weights:
        return np.ones(facts.num_trajectories, np.float32)
    ids = np.array([c for c, _ in class_weights])
    weights = np.array([w for _, w in class_weights], np.float32)
    strongest = np.maximum(facts.class_probs.max(1), 1e-6)
    return np.clip((facts.class_probs[:, ids] * weights).sum(1) / strongest, 0.0, 1.0)


def ranked(values: np.ndarray, candidates: np.ndarray, rank: int | None, descending: bool,
           p: SelectorParams) -> np.ndarray:
    """Score by place in the order of `values` among candidates: `rank` k scores 1 at place k and
    decays per place away; a soft ask (rank None) scores the relative position ** soft_power."""
    out = np.zeros(len(values), np.float32)
    idx = np.flatnonzero(candidates)
    if idx.size == 0:
        return out
    v = values[idx] if descending else -values[idx]
    if rank is not None:
        places = np.empty(idx.size, np.int64)
        places[np.argsort(-v, kind="stable")] = np.arange(1, idx.size + 1)
        out[idx] = p.rank_decay ** np.abs(places - rank)
        return out
    span = v.max() - v.min()
    out[idx] = 1.0 if span < 1e-6 else ((v - v.min()) / span) ** p.soft_power
    return out


def spatial(facts: TrajectoryFacts, rel: SpatialRelation, candidates: np.ndarray,
            p: SelectorParams) -> np.ndarray:
    centre = facts.mean_over_present(facts.centroid)
    height = facts.mean_over_present(facts.height())
    area = facts.mean_over_present(facts.area)
    bottom = facts.mean_over_present(facts.box[..., 3])
    value, descending = {
        "left": (centre[:, 0], False), "right": (centre[:, 0], True),
        "top": (centre[:, 1], False), "bottom": (centre[:, 1], True),
        "middle": (np.abs(centre[:, 0] - 0.5), False),
        "near": (bottom + height, True), "far": (bottom + height, False),
        "biggest": (area, True), "smallest": (area, False),
        "tallest": (height, True), "shortest": (height, False),
    }[rel.kind]
    return ranked(value, candidates, rel.rank, descending, p)


def colour(facts: TrajectoryFacts, mention: ColourMention, candidates: np.ndarray,
           p: SelectorParams) -> np.ndarray:
    """How well the region's mean colour fits the asked one, relative to the best-fitting candidate
    (1 for it, exp(-gap / colour_width) below it): real footage is dim and desaturated, so "the woman
    in the light blue jacket" is the bluest jacket, not one whose pixels are the palette's blue."""
    fit = colour_fit(facts.lab[:, _REGION_ROW[mention.region]], mention)
    best = float(fit[candidates].max()) if candidates.any() else float(fit.max(initial=0.0))
    score = np.exp(-np.maximum(best - fit, 0.0) / p.colour_width)
    if mention.part is None or mention.part in GARMENTS:
        # the object's own colour or a garment filling the region: a poor fit is no match at all; a small
        # part ("a red bow tie", "white helmet") barely moves the region's mean, so it only ranks
        score = score * _sigmoid((fit - p.colour_min) / 0.1)
    score = score.astype(np.float32)
    return (1.0 - score) if mention.negated else score


def colour_fit(lab: np.ndarray, mention: ColourMention) -> np.ndarray:
    """float [N], about -2..1, higher is closer. The asked lightness is compressed to 20..80 first
    (what footage shows of black and white: a white van is L* 75, not 100). Hue: cosine between the
    (a, b) directions, trusted as far as the region has chroma; grey terms (black, white, grey): close
    in lightness and little chroma; a shade word alone ("the dark car"): lightness only."""
    L, a, b = lab[:, 0], lab[:, 1], lab[:, 2]
    Lt, at, bt = mention.lab
    Lt = 20.0 + 0.6 * Lt
    chroma, target_chroma = np.hypot(a, b), float(np.hypot(at, bt))
    if not mention.hue_matters:
        return 1.0 - np.abs(L - Lt) / 30.0
    if target_chroma < 15.0:  # black, white, grey
        return 1.0 - np.abs(L - Lt) / 30.0 - chroma / 30.0
    cos = (a * at + b * bt) / np.maximum(chroma * target_chroma, 1e-6)
    return cos * np.minimum(chroma / 12.0, 1.0) - 0.25 * np.abs(L - Lt) / 50.0


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -30, 30)))


def motion(facts: TrajectoryFacts, query: MotionQuery, candidates: np.ndarray,
           p: SelectorParams) -> np.ndarray:
    """Product of the moving / direction / speed / event terms the expression asks for."""
    speeds = facts.speeds()
    mean_speed = facts.mean_over_present(speeds)
    score = np.ones(facts.num_trajectories, np.float32)
    # the median: "standing and talking" holds for the two who stood most of the clip after walking in
    moving = _sigmoid((_median_over_present(facts, speeds) - p.moving_speed) / p.speed_width)
    if query.moving is True:
        score *= moving
    elif query.moving is False:
        score *= 1.0 - moving
    for direction in query.directions:
        score *= _direction(facts, direction, p)
    if query.speed_rank is not None or query.speed is not None:
        score *= ranked(mean_speed, candidates, query.speed_rank, query.speed != "slow", p) \
            if candidates.any() else 0.0
    for event in query.events:
        score *= _event(facts, event, speeds, p)
    return score


def _median_over_present(facts: TrajectoryFacts, series: np.ndarray) -> np.ndarray:
    out = np.zeros(len(series), np.float32)
    for n, row in enumerate(facts.present):
        frames = np.flatnonzero(row)[1:]  # the first frame present has no displacement
        if frames.size:
            out[n] = float(np.median(series[n, frames]))
    return out


def _direction(facts: TrajectoryFacts, direction: str, p: SelectorParams) -> np.ndarray:
    dx, dy = facts.displacement().T
    if direction in ("left", "right", "up", "down"):
        sign = {"left": -dx, "right": dx, "up": -dy, "down": dy}[direction]
        return _sigmoid(sign / p.direction_width)
    n = np.arange(facts.num_trajectories)
    h = np.maximum(facts.height(), 1e-3)
    first = np.minimum(facts.first_frame(), facts.num_frames - 1)
    last = np.maximum(facts.last_frame(), 0)
    growth = np.log(h[n, last] / h[n, first]) + (facts.box[n, last, 3] - facts.box[n, first, 3])
    growth = np.where(facts.present.any(1), growth, 0.0)
    return _sigmoid((growth if direction == "towards" else -growth) / (3 * p.direction_width))


def _event(facts: TrajectoryFacts, event: str, speeds: np.ndarray, p: SelectorParams) -> np.ndarray:
    if event in ("enters", "leaves"):
        edge = facts.first_frame() > 0 if event == "enters" else facts.last_frame() < facts.num_frames - 1
        return np.where(edge, 1.0, 0.2).astype(np.float32)
    early, late = _halves(facts, speeds)
    if event == "turns":
        return _turn(facts)
    change = early - late if event == "stops" else late - early
    was = early if event == "stops" else late
    return (_sigmoid((change - p.moving_speed) / p.speed_width)
            * _sigmoid((was - p.moving_speed) / p.speed_width)).astype(np.float32)


def _halves(facts: TrajectoryFacts, series: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean of a per-frame series over the first and the last third of each trajectory's frames."""
    early, late = np.zeros(len(series), np.float32), np.zeros(len(series), np.float32)
    for n, row in enumerate(facts.present):
        frames = np.flatnonzero(row)
        if frames.size < 3:
            continue
        third = max(frames.size // 3, 1)
        early[n], late[n] = series[n, frames[1:third + 1]].mean(), series[n, frames[-third:]].mean()
    return early, late


def _turn(facts: TrajectoryFacts) -> np.ndarray:
    """Horizontal travel that reverses: both halves move clearly, in opposite directions."""
    out = np.zeros(facts.num_trajectories, np.float32)
    for n, row in enumerate(facts.present):
        frames = np.flatnonzero(row)
        if frames.size < 4:
            continue
        mid = frames[frames.size // 2]
        a = facts.centroid[n, mid, 0] - facts.centroid[n, frames[0], 0]
        b = facts.centroid[n, frames[-1], 0] - facts.centroid[n, mid, 0]
        out[n] = float(_sigmoid(-(a * b) / 1e-4)) * min(1.0, min(abs(a), abs(b)) / 0.02)
    return out


def order(facts: TrajectoryFacts, query: OrderQuery, candidates: np.ndarray, p: SelectorParams) -> np.ndarray:
    """"The first person to appear": rank by the frame of the event among candidates."""
    if query.event == "appear":
        when = facts.first_frame().astype(np.float32)
    elif query.event == "leave":
        when = facts.last_frame().astype(np.float32)
    else:
        return np.ones(facts.num_trajectories, np.float32)
    return ranked(when, candidates, query.rank, descending=query.from_end, p=p)
