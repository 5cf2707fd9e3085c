"""Evaluation with memoized trajectories equals plain evaluation; shipping writes a small fp16 model
with its card; the ablation sweep re-selects thresholds from one run and writes its table and plot."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from derrvos_core.datasets import open_dataset
from derrvos_core.model import DeRVOS, DeRVOSConfig, load_model
from training.ablate import markdown, plot, recommend_threshold, sweep
from training.trainer.fast_eval import evaluate_checkpoint, memoize_trajectories
from training.trainer.model_card import card_text, ship_model

from .helpers_synthref import tiny_synthref


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("ship")
    tiny_synthref(root / "data", test=(2, 3))
    torch.manual_seed(0)
    model = DeRVOS.from_config(DeRVOSConfig.tiny())
    model.save(root / "model")
    return root


def test_memoized_segment_equals_plain(setup):
    sample = open_dataset("synthref", setup / "data", "test")[0]
    frames = sample.load_frames()
    plain = load_model(str(setup / "model"))
    fast = memoize_trajectories(load_model(str(setup / "model")))
    calls = []
    inner = fast.trajectory.refine
    fast.trajectory.refine = lambda *a, **k: calls.append(1) or inner(*a, **k)
    for text in ("the red circle", "the square on the left"):
        a = plain.segment(frames, text, plain.defaults.settings(crop_size=4, threshold=0.5))
        b = fast.segment(frames, text, fast.defaults.settings(crop_size=4, threshold=0.5))
        assert [t.score for t in a.trajectories] == pytest.approx([t.score for t in b.trajectories], abs=1e-6)
        assert np.array_equal(a.masks, b.masks)
    assert len(calls) == 2  # two crops, computed once for both expressions


def test_evaluate_ship_and_ablate(setup, tmp_path):
    report = evaluate_checkpoint(setup / "model", "synthref", setup / "data", "test", tmp_path / "eval", crop_size=4,
                                 workers=2)
    one = evaluate_checkpoint(setup / "model", "synthref", setup / "data", "test", tmp_path / "eval1", crop_size=4)
    assert report.overall == one.overall  # two processes, one merged report: the same numbers
    results = json.loads((tmp_path / "eval" / "results.json").read_text())
    assert set(results["overall"]) >= {"model", "random", "largest", "oracle"} and report.records
    pipeline = {"synthref_tiny_segmenter": {"seconds": 60.0, "command": "python training/train.py --config x"}}
    text = card_text(results, pipeline)
    assert "| all | oracle |" in text and "Total wall time: 1 min" in text
    (tmp_path / "eval" / "results.json").write_text(json.dumps(results))
    (tmp_path / "pipeline.json").write_text(json.dumps(pipeline))
    out = ship_model(setup / "model", tmp_path / "shipped", tmp_path / "eval" / "results.json",
                     tmp_path / "pipeline.json")
    assert json.loads((out / "config.json").read_text())["checkpoint"]["dtype"] == "float16"
    assert "| all | model |" in (out / "MODEL_CARD.md").read_text()
    shipped = load_model(str(out))
    assert next(shipped.parameters()).dtype == torch.float32
    samples = [open_dataset("synthref", setup / "data", "test")[i] for i in range(2)]
    res = sweep(memoize_trajectories(shipped), samples, crop_sizes=("4", "whole"), base_crop=4, progress=None)
    assert list(res["threshold"]) == [str(t) for t in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)]
    assert res["crop_size"]["4"] == res["threshold"]["0.7"]  # the same run, not a second one
    assert "| 0.7 |" in markdown(res, "test")
    plot(res, tmp_path / "ablation.png")
    assert (tmp_path / "ablation.png").stat().st_size > 1000


def test_recommended_threshold_goes_into_the_config_and_becomes_the_default(setup, tmp_path):
    import shutil

    folder = tmp_path / "model"
    shutil.copytree(setup / "model", folder)
    before = load_model(str(folder))
    res = {"threshold": {"0.1": {"JF": 0.2}, "0.3": {"JF": 0.5}, "0.5": {"JF": 0.5}, "0.7": {"JF": 0.4}}}
    assert recommend_threshold(folder, res) == 0.5  # best J&F; the higher threshold on a tie
    after = load_model(str(folder))
    assert after.cfg.threshold == 0.5 and before.cfg.threshold == 0.7
    assert after.version == before.version  # the weights did not change
    frames = open_dataset("synthref", setup / "data", "test")[0].load_frames()
    assert after.segment(frames, "the red circle", after.defaults.settings(crop_size=4)).threshold == 0.5
