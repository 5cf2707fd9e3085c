"""The real model's fact selector on hand-made trajectories: each asked fact moves the right one."""
from __future__ import annotations

import pytest
import torch

from derrvos_core.language.query import (ClassWeight, ColourMention, ExpressionQuery, MotionQuery,
                                         OrderQuery, RelatedObject, SpatialRelation, TargetCount)
from derrvos_core.real import features as F
from derrvos_core.selection import FactSelector, SelectorParams, TrajectoryFacts, score_facts
from derrvos_core.trajectory.types import Trajectories

T = 20
PERSON, CAR, DOG, UMBRELLA = 0, 2, 16, 25


def track(cls: int = PERSON, x0: float = 0.5, x1: float | None = None, y: float = 0.6, h: float = 0.3,
          h1: float | None = None, frames: range = range(T), upper: str = "gray", lower: str = "black",
          stop_at: int | None = None) -> dict:
    """One trajectory: centre moves linearly x0 -> x1 (or stops at `stop_at`), height h -> h1."""
    return dict(cls=cls, x0=x0, x1=x0 if x1 is None else x1, y=y, h=h, h1=h if h1 is None else h1,
                frames=frames, upper=upper, lower=lower, stop_at=stop_at)


def make(*specs: dict) -> Trajectories:
    n = len(specs)
    emb = torch.zeros(n, T, F.EMBED_DIM)
    boxes = torch.zeros(n, T, 4)
    areas = torch.zeros(n, T)
    for i, s in enumerate(specs):
        for t in s["frames"]:
            u = t / (T - 1) if s["stop_at"] is None else min(t, s["stop_at"]) / max(s["stop_at"], 1)
            x = s["x0"] + (s["x1"] - s["x0"]) * u
            h = s["h"] + (s["h1"] - s["h"]) * t / (T - 1)
            w = h / 3
            boxes[i, t] = torch.tensor([x - w / 2, s["y"] - h / 2, x + w / 2, s["y"] + h / 2])
            areas[i, t] = w * h
            e = emb[i, t]
            e[F.CLASS.start + s["cls"]] = 1
            e[F.PALETTE_UPPER.start + F.PALETTE_NAMES.index(s["upper"])] = 1
            e[F.PALETTE_LOWER.start + F.PALETTE_NAMES.index(s["lower"])] = 1
            e[F.PALETTE.start + F.PALETTE_NAMES.index(s["upper"])] = 0.5
            e[F.PALETTE.start + F.PALETTE_NAMES.index(s["lower"])] = 0.5
            upper, lower = (torch.from_numpy(F.palette_lab()[F.PALETTE_NAMES.index(s[k])] / F.LAB_SCALE)
                            for k in ("upper", "lower"))
            e[F.LAB_UPPER], e[F.LAB_LOWER], e[F.LAB_MEAN] = upper, lower, (upper + lower) / 2
            e[F.CENTROID] = torch.tensor([x, s["y"]])
            e[F.SCORE] = 0.8
            e[F.PRESENT] = 1
    return Trajectories(embeddings=emb, mask_logits=torch.zeros(n, T, 4, 4), scores=torch.full((n,), 0.8),
                        class_logits=torch.zeros(n, 81), boxes=boxes, areas=areas)


def query(classes=((PERSON, 1.0),), colours=(), spatial=(), motion=MotionQuery(), order=None,
          count=TargetCount("one", 1), related=(), unknown=None) -> ExpressionQuery:
    return ExpressionQuery(text="test", head_noun="x", unknown_noun=unknown,
                           classes=tuple(ClassWeight(c, "c", w, "coco") for c, w in classes),
                           colours=tuple(colours), spatial=tuple(spatial), motion=motion, order=order,
                           count=count, related=tuple(related))


def best(traj: Trajectories, q: ExpressionQuery) -> int:
    scores = FactSelector().scores(traj, None, q)
    assert scores.shape == (traj.num_trajectories,) and bool(((scores >= 0) & (scores <= 1)).all())
    return int(scores.argmax())


def test_dim_colours_still_rank_by_hue():
    """Dim footage: the bluest jacket is "the light blue jacket" even if no pixel is palette blue."""
    blue = ColourMention("blue", "blue", (68, 27, -49), True, "light", "jacket", "upper")
    traj = make(track(upper="black"), track(upper="gray", x0=0.2), track(upper="black", x0=0.8))
    traj.embeddings[1, :, F.LAB_UPPER] = torch.tensor([30.0, 2.0, -9.0]) / torch.from_numpy(F.LAB_SCALE)
    assert best(traj, query(colours=[blue])) == 1
    black = ColourMention("black", "black", (0, 0, 0), True, None, None, "upper")
    assert best(make(track(upper="white"), track(upper="black", x0=0.3)), query(colours=[black])) == 1


def test_class_decides_and_an_absent_class_selects_nothing():
    traj = make(track(CAR, 0.2), track(PERSON, 0.8))
    assert best(traj, query()) == 1
    assert best(traj, query(classes=((CAR, 1.0),))) == 0
    dog = FactSelector().scores(traj, None, query(classes=((DOG, 1.0),)))
    assert float(dog.max()) < 0.05
    tree = FactSelector().scores(traj, None, query(classes=(), unknown="tree"))
    assert float(tree.max()) == 0.0


def test_colour_of_the_upper_body():
    pink = ColourMention("pink", "pink", (70, 55, -10), True, None, "jacket", "upper")
    traj = make(track(upper="blue"), track(upper="pink", x0=0.2), track(upper="black", x0=0.8))
    assert best(traj, query(colours=[pink])) == 1
    not_pink = ColourMention("pink", "pink", (70, 55, -10), True, None, "jacket", "upper", negated=True)
    assert FactSelector().scores(traj, None, query(colours=[not_pink], count=TargetCount("all", None)))[1] < 0.05


@pytest.mark.parametrize("kind, rank, expected", [("left", 1, 0), ("right", 1, 2), ("right", 2, 1),
                                                  ("left", None, 0), ("middle", 1, 1)])
def test_place_ranks_among_the_asked_class(kind, rank, expected):
    # a car further left than everyone must not count for "the person on the far left"
    traj = make(track(x0=0.2), track(x0=0.5), track(x0=0.8), track(CAR, x0=0.05))
    assert best(traj, query(spatial=[SpatialRelation(kind, rank, kind)])) == expected


def test_size_and_depth():
    traj = make(track(h=0.2, y=0.4), track(h=0.5, y=0.6, x0=0.3))
    assert best(traj, query(spatial=[SpatialRelation("biggest", 1, "biggest")])) == 1
    assert best(traj, query(spatial=[SpatialRelation("far", 1, "far")])) == 0


def test_motion_direction_speed_and_stillness():
    traj = make(track(x0=0.8, x1=0.2), track(x0=0.2, x1=0.8, y=0.5), track(x0=0.5))
    assert best(traj, query(motion=MotionQuery(moving=True, directions=("left",)))) == 0
    assert best(traj, query(motion=MotionQuery(moving=True, directions=("right",)))) == 1
    assert best(traj, query(motion=MotionQuery(moving=False))) == 2
    fast = make(track(x0=0.1, x1=0.3), track(x0=0.1, x1=0.9, y=0.4))
    assert best(fast, query(motion=MotionQuery(speed="fast", speed_rank=1))) == 1


def test_towards_the_camera_and_stops():
    traj = make(track(h=0.1, h1=0.4), track(h=0.4, h1=0.1, x0=0.3))
    assert best(traj, query(motion=MotionQuery(directions=("towards",)))) == 0
    assert best(traj, query(motion=MotionQuery(directions=("away",)))) == 1
    stops = make(track(x0=0.1, x1=0.9), track(x0=0.1, x1=0.6, y=0.3, stop_at=8))
    assert best(stops, query(motion=MotionQuery(events=("stops",)))) == 1


def test_first_to_appear():
    traj = make(track(frames=range(8, T)), track(frames=range(2, T), x0=0.2), track(frames=range(5, T), x0=0.8))
    assert best(traj, query(order=OrderQuery("appear", 1))) == 1


def test_count_damps_extra_targets_but_not_a_split_track():
    two = make(track(x0=0.2), track(x0=0.5), track(x0=0.8, h=0.1))
    s = FactSelector().scores(two, None, query(count=TargetCount("exact", 2),
                                               spatial=[SpatialRelation("biggest", None, "big")]))
    assert s[2] < min(s[0], s[1])
    split = make(track(frames=range(0, 10)), track(frames=range(10, T)))
    s = FactSelector().scores(split, None, query())
    assert abs(float(s[0]) - float(s[1])) < 1e-6  # one person tracked in two parts: both kept
    many = FactSelector().scores(two, None, query(count=TargetCount("all", None)))
    assert float(many.min()) > 0.5


def test_related_object_near_the_target():
    umbrella = RelatedObject("hold", "umbrella", (ClassWeight(UMBRELLA, "umbrella", 1.0, "coco"),), (),
                             "holding an umbrella")
    traj = make(track(x0=0.2), track(x0=0.8), track(UMBRELLA, x0=0.8, y=0.4, h=0.1))
    assert best(traj, query(related=[umbrella])) == 1


def test_empty_and_facts_shapes():
    empty = make()
    assert FactSelector().scores(empty, None, query()).shape == (0,)
    facts = TrajectoryFacts.of(make(track(frames=range(3, 9))))
    assert facts.first_frame()[0] == 3 and facts.last_frame()[0] == 8
    assert score_facts(facts, query(), SelectorParams()).shape == (1,)


def test_params_refuse_unknown_and_bad_values():
    assert SelectorParams.from_dict({"rank_decay": 0.5}).rank_decay == 0.5
    with pytest.raises(Exception, match="unknown selector parameters"):
        SelectorParams.from_dict({"nope": 1})
    with pytest.raises(Exception, match="must be numbers"):
        SelectorParams.from_dict({"rank_decay": float("nan")})


def test_a_related_class_nobody_has_damps_everyone_and_an_unlikely_colour_selects_nothing():
    bicycle = RelatedObject("ride", "bicycle", (ClassWeight(1, "bicycle", 1.0, "coco"),), (), "riding a bicycle")
    traj = make(track(x0=0.2), track(x0=0.8))
    plain = FactSelector().scores(traj, None, query())
    riding = FactSelector().scores(traj, None, query(related=[bicycle]))
    assert float(riding.max()) < 0.5 * float(plain.max())
    red = ColourMention("red", "red", (53, 80, 67), True, None, None, "whole")
    grey_van = make(track(CAR, upper="white", lower="gray"))
    assert float(FactSelector().scores(grey_van, None, query(classes=((CAR, 1.0),), colours=[red]))[0]) < 0.2


def test_the_reader_refuses_unstorable_text_before_parsing():
    from derrvos_core.errors import InputError
    from derrvos_core.selection.reader import ExpressionReader

    reader = ExpressionReader(parser=object())  # never reached: the checks come first
    for bad in ("", "   ", "the car\x00", "\u200b\u200b", "the \ud800 car"):
        with pytest.raises(InputError):
            reader.read(bad)
