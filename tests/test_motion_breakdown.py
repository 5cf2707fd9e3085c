"""training/motion_breakdown.py reads back the motion a SynthRef expression names, from the generator's phrases."""
from __future__ import annotations

import csv

import numpy as np

from derrvos_core.datasets.synthref_phrases import MOTION_PHRASES, SPEED_PHRASES, motion_phrase
from training.motion_breakdown import breakdown, motion_kind


def test_every_phrase_the_generator_writes_reads_back_as_its_motion():
    rng = np.random.default_rng(0)
    for pred, forms in MOTION_PHRASES.items():
        for singular, _plural in forms:
            assert motion_kind(f"the small red striped circle {singular}") == pred, singular
    for _ in range(40):
        assert motion_kind(f"the green cross {motion_phrase('dir:down-left', rng)}") == "direction"
    for templates in SPEED_PHRASES.values():
        for template in templates:
            assert motion_kind(template.format(np="blue square")) == "speed", template
    assert motion_kind("the blue square") is None  # no motion named


def test_breakdown_averages_per_kind_over_motion_rows_only(tmp_path):
    path = tmp_path / "per_expression.csv"
    rows = [("the red circle that stops", "motion", 0.2, 0.4, 0.8), ("the red circle that stops moving", "motion",
            0.4, 0.0, 0.6), ("the slower star", "motion", 1.0, 0.5, 1.0), ("the red circle", "appearance", 0, 0, 0)]
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["expression", "category", "JF", "largest_JF", "oracle_JF"])
        writer.writerows(rows)
    result = breakdown(path)
    assert set(result) == {"stops", "speed"}
    assert result["stops"]["count"] == 2 and abs(result["stops"]["model"] - 0.3) < 1e-9
    assert abs(result["stops"]["largest"] - 0.2) < 1e-9 and abs(result["speed"]["oracle"] - 1.0) < 1e-9
