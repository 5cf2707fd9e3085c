"""training/selection_rules.py: the relative rule keeps a crop's clear winner, and the sweep's report."""
from __future__ import annotations

import numpy as np
import pytest

from derrvos_core.masks import encode_rle
from derrvos_core.result import SegmentationResult, TrajectoryResult
from derrvos_core.settings import SegmentSettings
from training.selection_rules import gated_selection, relative_selection, report, rule_name, rules, select


def _result(scores_per_crop: list[list[float]]) -> SegmentationResult:
    """One 2-frame crop per list; trajectory k of a crop covers row k of a 4x4 frame."""
    trajectories = []
    for c, scores in enumerate(scores_per_crop):
        for k, score in enumerate(scores):
            mask = np.zeros((4, 4), bool)
            mask[k] = True
            tid = len(trajectories)
            trajectories.append(TrajectoryResult(tid, c, 2 * c, score, (encode_rle(mask),) * 2, -1))
    return SegmentationResult(2 * len(scores_per_crop), 4, 4, tuple(trajectories),
                              SegmentSettings(2, 0.3, at_least_one=False))


def test_the_relative_rule_adds_a_crops_clear_winner_and_its_close_rivals_only():
    result = _result([[0.28, 0.20, 0.05], [0.18, 0.17, 0.02], [0.45, 0.10, 0.0]])
    assert result.select(0.3).selected == (6,)
    # crop 0's top (0.28) clears the floor: it and 0.20 (>= 0.7 x 0.28) join; crop 1's top (0.18) does not
    assert relative_selection(result, 0.3, 0.7, 0.25) == (0, 1, 6)
    assert relative_selection(result, 0.3, 0.8, 0.25) == (0, 6)
    assert relative_selection(result, 0.3, 0.7, 0.15) == (0, 1, 3, 4, 6)
    picked = select(result, ("relative", 0.3, 0.8, 0.25))
    assert picked.frame_mask(0)[0].all() and not picked.frame_mask(0)[1].any()
    assert select(result, ("threshold", 0.2)).selected == (0, 1, 6)


def test_the_gated_rule_answers_on_a_low_bar_only_when_the_video_has_a_clear_candidate():
    weak = _result([[0.28, 0.20, 0.05], [0.18, 0.17, 0.02]])  # best 0.28: below the gate, nothing
    assert gated_selection(weak, 0.15, 0.3) == ()
    assert weak.select(0.15).selected == (0, 1, 3, 4)  # the plain low threshold answers it
    strong = _result([[0.28, 0.20, 0.05], [0.18, 0.17, 0.02], [0.45, 0.10, 0.0]])
    assert gated_selection(strong, 0.15, 0.3) == (0, 1, 3, 4, 6)  # 0.45 opens the gate for the whole video
    assert gated_selection(strong, 0.15, 0.5) == ()
    assert select(strong, ("gated", 0.2, 0.4)).selected == (0, 1, 6)
    assert rule_name(("gated", 0.2, 0.4)) == "score >= 0.2 if the video's top >= 0.4"


def test_rules_and_report():
    listed = rules(thresholds=(0.2, 0.3), ratios=(0.6,), floors=(0.25,), gated=(0.15,), gates=(0.35,))
    assert listed == [("threshold", 0.2), ("threshold", 0.3), ("relative", 0.2, 0.6, 0.25),
                      ("relative", 0.3, 0.6, 0.25), ("gated", 0.15, 0.35)]
    res = {"top_scores": {"motion": [0.3, 0.4, 0.5], "no_target": [0.2]},
           "jf": {("threshold", 0.3): {"motion": [1.0, 0.0, 0.5], "no_target": [1.0]},
                  ("threshold", 0.2): {"motion": [1.0, 1.0, 0.0], "no_target": [0.0]}}}
    table, numbers = report(res)
    assert numbers["top_scores"]["motion"]["median"] == pytest.approx(0.4)
    assert [r["rule"] for r in numbers["rules"]] == ["score >= 0.3", "score >= 0.2"]  # best (over all) first
    assert numbers["rules"][0]["all"] == pytest.approx(0.625)
    assert numbers["rules"][1]["motion"] == pytest.approx(2 / 3) and numbers["rules"][1]["all"] == 0.5
    assert "| no_target | 1 | 0.200 |" in table
