"""Refit from stored corrections: SynthRef videos run through a tiny DeRVOS into the store, corrected,
refit, scored before and after, saved, reloaded and registered.

The base model is the tiny configuration with random weights (no trained one is required here), so its
trajectories are noise and rarely overlap a SynthRef object. Two kinds of corrections are therefore made:
- on the videos refit will hold out, the annotator sets every frame to the ground-truth mask (what
  corrections amount to) - the held-out report is real, but nothing promises it improves;
- on the training videos, the annotator accepts, in every crop, the trajectory with the largest masks
  and rejects what the model had selected: a target the frozen trajectories can express, so fitting
  it is a real check of the training (train-set J&F must rise; it fails if TAIS does not learn).
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from derrvos_core.datasets import open_dataset
from derrvos_core.datasets.synthref import SynthRefConfig, generate_synthref
from derrvos_core.errors import InputError
from derrvos_core.evaluation import decode_trajectories
from derrvos_core.model import DeRVOS, DeRVOSConfig, load_model
from derrvos_core.store import Store
from training.refit import RefitSettings, main, refit
from training.refit_data import held_out_videos, split_by_video

FRAMES = 6  # one crop per video: training clips are exactly what inference scores
SMALL = SynthRefConfig(width=48, height=48, min_frames=FRAMES, max_frames=FRAMES, min_objects=2,
                       max_objects=3, min_expressions=2, max_expressions=2)
HOLDOUT, SEED = 0.25, 3


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def corrected(tmp_path_factory, one_thread):
    """(store url, base checkpoint folder, base version, held-out video ids) with every run corrected."""
    root = tmp_path_factory.mktemp("refit")
    generate_synthref(root / "data", "train", 4, seed=7, config=SMALL)
    torch.manual_seed(0)
    cfg = dataclasses.replace(DeRVOSConfig.tiny(), input_size=64, multimodal_image_size=64, crop_size=FRAMES)
    model = DeRVOS.from_config(cfg).eval()
    model.save(root / "base")
    url = f"sqlite:///{root / 'store.db'}"
    with Store.open(url) as store:
        runs = []
        for sample in open_dataset("synthref", root / "data", "train"):
            video = store.add_video_file(root / "data" / "train" / "JPEGImages" / sample.video_id, fps=10)
            with torch.no_grad():
                result = model.segment(sample.load_frames(), sample.expression)
            runs.append((video.id, store.save_run(video, sample.expression, result, model.version), sample,
                         result))
        held = held_out_videos([v for v, *_ in runs], HOLDOUT, SEED)
        for video_id, run_id, sample, result in runs:
            if str(video_id) in held:
                for frame, mask in enumerate(sample.target_masks):
                    store.set_mask(run_id, frame, mask, user="annotator")
            else:
                accept_largest(store, run_id, result)
    return url, root / "base", model.version, held


def accept_largest(store: Store, run_id: int, result) -> None:
    trajectories = decode_trajectories(result)
    for crop in {t.crop_index for t in trajectories}:
        best = max((t for t in trajectories if t.crop_index == crop), key=lambda t: t.area)
        store.accept(run_id, best.trajectory_id, user="annotator")
    for tid in result.selected:
        if tid not in {c.trajectory_id for c in store.corrections(run_id)}:
            store.reject(run_id, tid, user="annotator")


def test_split_is_by_video_deterministic_and_keeps_both_sides():
    ids = ["1", "2", "3", "4", "5"]
    assert held_out_videos(ids, 0.2, 0) == held_out_videos(ids[::-1], 0.2, 0)
    assert len(held_out_videos(["1", "2"], 0.01, 0)) == 1 and len(held_out_videos(["1", "2"], 0.99, 0)) == 1
    picks = {frozenset(held_out_videos([str(i) for i in range(10)], 0.3, seed)) for seed in range(6)}
    assert all(len(p) == 3 for p in picks) and len(picks) > 1
    with pytest.raises(InputError, match="at least 2"):
        held_out_videos(["7", "7"], 0.5, 0)
    with pytest.raises(InputError, match="no corrected expressions"):
        split_by_video([], 0.2, 0)
    with pytest.raises(InputError, match="holdout"):
        held_out_videos(["1", "2"], 1.0, 0)


def test_refit_reports_registers_and_trains_only_the_selection(corrected, tmp_path, capsys):
    url, base_dir, base_version, held = corrected
    out = tmp_path / "models" / "refit-1"
    code = main(["--db", url, "--base", str(base_dir), "--out", str(out), "--holdout", str(HOLDOUT),
                 "--seed", str(SEED), "--steps", "12", "--batch-size", "1", "--lr-rest", "2e-3",
                 "--lr-multimodal", "5e-4", "--flip-prob", "0", "--threads", "1", "--no-progress"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    report = json.loads((out / "refit_report.json").read_text())
    held_rows = [r for r in report["per_expression"] if r["set"] == "held_out"]
    assert {r["video_id"] for r in held_rows} == held and len(held_rows) == 2 * len(held)
    for name in ("held_out", "train"):
        for when in ("before", "after"):
            s = report[name][when]
            assert 0.0 <= s["JF"] <= 1.0 and s["JF"] == pytest.approx((s["J"] + s["F"]) / 2)
    assert report["held_out"]["before"]["count"] == len(held_rows)
    assert "held_out" in printed and "before" in printed and "after" in printed
    print(printed)  # the before/after table, for the record (pytest -s)

    # The training expressions' target is a trajectory the model has: fitting it must raise train J&F.
    assert report["train"]["after"]["JF"] >= report["train"]["before"]["JF"] + 0.2, report["train"]
    assert report["training"]["last_loss"] < report["training"]["first_loss"]

    refitted = load_model(str(out))
    assert refitted.version == report["version"] != base_version
    with Store(url) as store:
        record = store.get_model_version(report["version"])
    assert record is not None and record.base_version == base_version
    assert Path(record.path) == out.resolve()
    assert record.metrics["held_out"]["after"] == report["held_out"]["after"]
    assert record.metrics["data"]["held_out_run_ids"] == sorted(r["run_id"] for r in held_rows)
    card = (out / "MODEL_CARD.md").read_text()
    assert base_version in card and "12 steps" in card and str(held_rows[0]["run_id"]) in card

    old, new = load_file(str(base_dir / "model.safetensors")), load_file(str(out / "model.safetensors"))
    assert old.keys() == new.keys()
    assert all(torch.equal(old[k], new[k]) for k in old if k.startswith("trajectory."))
    assert any(not torch.equal(old[k], new[k]) for k in old if k.startswith("tais."))
    assert any(not torch.equal(old[k], new[k]) for k in old if k.startswith("multimodal."))
    assert [p.name for p in out.parent.iterdir()] == ["refit-1"]  # no work folder left behind


def test_no_corrections_is_a_clear_error(corrected, tmp_path, capsys):
    _, base_dir, *_ = corrected
    Store.open(f"sqlite:///{tmp_path / 'empty.db'}").close()
    code = main(["--db", f"sqlite:///{tmp_path / 'empty.db'}", "--base", str(base_dir),
                 "--out", str(tmp_path / "out"), "--no-progress"])
    assert code == 2 and "no corrected expressions" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_interrupted_refit_leaves_nothing(corrected, tmp_path, monkeypatch):
    url, base_dir, *_ = corrected
    with Store(url) as store:
        versions = len(store.model_versions())

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("training.refit._train", interrupt)
    out = tmp_path / "models" / "never"
    with pytest.raises(KeyboardInterrupt):
        refit(RefitSettings(base=str(base_dir), out=str(out), db=url, holdout=HOLDOUT, seed=SEED, steps=2,
                            eval_train=False, progress=False), log=lambda *_: None)
    assert list(out.parent.iterdir()) == []  # neither the model folder nor the hidden work folder
    with Store(url) as store:
        assert len(store.model_versions()) == versions
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "x").write_text("")
    with pytest.raises(InputError, match="already exists"):
        refit(RefitSettings(base=str(base_dir), out=str(taken), db=url))
    assert [p.name for p in taken.iterdir()] == ["x"]
