"""The training ablations: every variant trains stage 4 on the same frozen branch with one setting
changed, is scored once per expression for all thresholds, and lands as a table in the model card."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from derrvos_core.model import DeRVOS, DeRVOSConfig, load_model
from training import ablate_train
from training.ablate import SECTION, refresh_card_ablations

from .helpers_synthref import tiny_synthref


def _row(category: str, best: float, other: float, largest: float) -> dict:
    model = {str(round(0.1 * i, 1)): other for i in range(1, 10)}
    model["0.4"] = best
    return {"category": category, "model": model, "largest": largest}


def test_summary_takes_the_best_threshold_over_all_expressions():
    rows = [_row("motion", 0.8, 0.2, 0.5), _row("position", 0.6, 0.4, 0.1), _row("motion", 0.4, 0.3, 0.3)]
    s = ablate_train.summarise(rows)
    assert s["best_threshold"] == 0.4
    assert s["groups"]["all"]["best"] == pytest.approx((0.8 + 0.6 + 0.4) / 3)
    assert s["groups"]["motion"]["best"] == pytest.approx(0.6) and s["groups"]["motion"]["n"] == 2
    assert s["groups"]["motion"]["at_0.3"] == pytest.approx(0.25)
    assert s["groups"]["position"]["largest"] == pytest.approx(0.1)


def test_the_paired_interval_is_exact_for_a_constant_shift_and_widens_with_noise():
    base = [0.1, 0.5, 0.9, 0.3]
    assert ablate_train.paired_interval([b + 0.1 for b in base], base) == pytest.approx((0.1, 0.1, 0.1))
    rng = np.random.default_rng(1)
    noisy = list(rng.uniform(0, 1, 120))
    other = [v + d for v, d in zip(noisy, rng.normal(0, 0.2, 120))]
    mean, low, high = ablate_train.paired_interval(other, noisy)
    assert low < mean < high and 0.02 < high - low < 0.15  # about 4 x 0.2 / sqrt(120) = 0.07 wide
    with pytest.raises(ValueError):
        ablate_train.paired_interval([], [])


def test_the_table_compares_each_row_with_the_base_row_where_scores_were_kept():
    rows = [_row("motion", 0.8, 0.2, 0.5), _row("position", 0.6, 0.4, 0.1)]
    better = [_row("motion", 0.9, 0.2, 0.5), _row("position", 0.7, 0.4, 0.1)]
    results = {"base": ablate_train.summarise(rows), "Nd1": ablate_train.summarise(better),
               "Nd2": {k: v for k, v in ablate_train.summarise(better).items() if k != "per_expression"}}
    args = type("Args", (), {"steps": 10, "split": "valid", "limit": 2})()
    table = ablate_train.markdown("decoder_layers", ablate_train.ABLATIONS["decoder_layers"], results, args)
    line = {row.split(" | ")[0].strip("| "): row for row in table.splitlines() if row.startswith("| ")}
    assert line["1"].endswith("| +0.100 [+0.100, +0.100] |") and line["2"].endswith("| n/a |")
    assert line["3"].endswith("| (reference) |") and "| not run |" in line["4"]


def test_card_gets_every_ablation_note_in_order(tmp_path):
    (tmp_path / "MODEL_CARD.md").write_text("# m\n\nbody\n\n## Ablations\n\nstale numbers\n")
    (tmp_path / "ablation_decoder_layers.md").write_text("### decoder layers N_d\n\nlayers table\n")
    (tmp_path / "ablation.md").write_text("### Inference settings\n\nthreshold table\n")
    refresh_card_ablations(tmp_path)
    card = (tmp_path / "MODEL_CARD.md").read_text()
    assert card.count(SECTION) == 1 and "stale numbers" not in card and card.startswith("# m\n\nbody")
    assert card.index("threshold table") < card.index("layers table")


@pytest.fixture(scope="module")
def branch(tmp_path_factory):
    root = tmp_path_factory.mktemp("ablate")
    tiny_synthref(root / "data", train=(2, 3), valid=(1, 4))
    torch.manual_seed(0)
    DeRVOS.from_config(DeRVOSConfig.tiny()).save(root / "branch")
    return root


def test_a_layer_ablation_trains_on_the_frozen_branch_and_writes_its_table(branch):
    root = branch
    argv = ["decoder_layers", "--branch", str(root / "branch"), "--root", str(root / "data"), "--limit", "2",
            "--steps", "2", "--runs", str(root / "runs"), "--cache", str(root / "cache"), "--only", "base", "Nd1", "--out", str(root / "notes")]
    assert ablate_train.main(argv) == 0
    one = load_model(str(root / "runs" / "decoder_layers-Nd1" / "final"))
    base = load_model(str(root / "runs" / "base" / "final"))
    source = load_model(str(root / "branch"))
    assert len(one.tais.layers) == 1 and len(base.tais.layers) == 3
    for a, b in zip(one.trajectory.state_dict().values(), source.trajectory.state_dict().values()):
        assert torch.equal(a, b)  # the branch is loaded and stays frozen
    stored = json.loads((root / "notes" / "ablation_decoder_layers.json").read_text())
    assert set(stored["results"]) == {"base", "Nd1"}
    table = (root / "notes" / "ablation_decoder_layers.md").read_text()
    assert "| 1 |" in table and "| 3 |" in table and "| 6 | not run |" in table
    assert (root / "notes" / "ablation_decoder_layers.png").stat().st_size > 1000
