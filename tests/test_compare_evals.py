"""training/compare_evals.py: paired per-category comparison of two evaluate.py outputs."""
from __future__ import annotations

import csv

import pytest

from training.compare_evals import compare, main, read_scores

FIELDS = ["video_id", "expression_id", "expression", "category", "JF", "largest_JF"]


def _write(folder, rows):
    folder.mkdir()
    with (folder / "per_expression.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        w.writeheader()
        for vid, eid, cat, jf, largest in rows:
            w.writerow({"video_id": vid, "expression_id": eid, "expression": "x", "category": cat, "JF": jf,
                        "largest_JF": largest})


def test_differences_are_paired_by_expression_and_split_by_category(tmp_path):
    _write(tmp_path / "a", [("v0", 0, "motion", 0.9, 0.1), ("v0", 1, "motion", 0.7, 0.1),
                            ("v1", 0, "position", 0.2, 0.5)])
    # the same expressions in another order
    _write(tmp_path / "b", [("v1", 0, "position", 0.4, 0.5), ("v0", 1, "motion", 0.5, 0.1),
                            ("v0", 0, "motion", 0.7, 0.1)])
    a = read_scores(tmp_path / "a", "JF")
    rows = {r["group"]: r for r in compare(a, read_scores(tmp_path / "b", "JF"))}
    assert rows["all"]["n"] == 3 and rows["all"]["diff"] == pytest.approx(0.2 / 3)
    motion = rows["motion"]
    # every motion expression gained 0.2: the interval is exactly that
    assert (motion["n"], motion["diff"], motion["low"], motion["high"]) == (2, pytest.approx(0.2), pytest.approx(0.2),
                                                                          pytest.approx(0.2))
    assert rows["position"]["diff"] == pytest.approx(-0.2)
    # the model against its own run's largest-trajectory baseline
    base = {r["group"]: r for r in compare(a, read_scores(tmp_path / "a", "largest_JF"))}
    assert base["motion"]["diff"] == pytest.approx(0.7)


def test_runs_over_different_expressions_are_refused(tmp_path, capsys):
    _write(tmp_path / "a", [("v0", 0, "motion", 0.9, 0.1), ("v0", 1, "motion", 0.7, 0.1)])
    _write(tmp_path / "b", [("v0", 0, "motion", 0.9, 0.1)])
    assert main([str(tmp_path / "a"), str(tmp_path / "b")]) == 2
    assert "different expressions" in capsys.readouterr().err
    assert main([str(tmp_path / "a"), str(tmp_path / "missing")]) == 2
    assert "no per_expression.csv" in capsys.readouterr().err
    assert main([str(tmp_path / "a"), str(tmp_path / "a"), "--column", "nope"]) == 2
