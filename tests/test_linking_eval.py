"""training/eval_linking.py on a generated (short) long split with a tiny random model."""
from __future__ import annotations

import json


from training import eval_linking

from .test_model import build_model


def test_eval_linking_reports_every_setting(tmp_path, capsys):
    checkpoint = build_model(seed=3).save(tmp_path / "tiny")
    out = tmp_path / "linking.json"
    code = eval_linking.main(["--checkpoint", str(checkpoint), "--root", str(tmp_path / "synthref"),
                              "--videos", "1", "--frames", "8", "10", "--size", "64", "--limit", "2",
                              "--crop-sizes", "3", "6", "--thresholds", "0", "--json", str(out)])
    assert code == 0
    rows = json.loads(out.read_text())["rows"]
    assert [(r["crop_size"], r["linked"]) for r in rows] == [(3, False), (3, True), (6, False), (6, True)]
    for r in rows:
        assert r["count"] == 2 and all(0.0 <= r[m] <= 1.0 for m in eval_linking.METRICS)
    # threshold 0 selects everything: linking must join trajectories into fewer identities
    assert rows[1]["identities"] < rows[0]["identities"] and rows[3]["identities"] < rows[2]["identities"]
    assert "| 0.0 | 3 | on |" in capsys.readouterr().out


def test_largest_changes_orders_by_size_of_move():
    off = {("v", "0"): ("a", 0.5), ("v", "1"): ("b", 0.9), ("v", "2"): ("c", 0.1)}
    on = {("v", "0"): ("a", 0.52), ("v", "1"): ("b", 0.2), ("v", "2"): ("c", 0.4)}
    assert eval_linking.largest_changes(off, on, 2) == [(0.9, 0.2, "b"), (0.1, 0.4, "c")]


def test_eval_linking_lists_changes(tmp_path, capsys):
    checkpoint = build_model(seed=3).save(tmp_path / "tiny")
    code = eval_linking.main(["--checkpoint", str(checkpoint), "--root", str(tmp_path / "synthref"),
                              "--videos", "1", "--frames", "8", "10", "--size", "64", "--limit", "2",
                              "--crop-sizes", "3", "--thresholds", "0", "--changes", "1"])
    assert code == 0
    out = capsys.readouterr().out
    assert "threshold 0.0, crop 3: largest J&F changes (off -> on)" in out
    assert out.rstrip().splitlines()[-1].startswith("  ")  # one expression listed under it
