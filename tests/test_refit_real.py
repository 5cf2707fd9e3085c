"""Refit of the real model from stored corrections: a 24-frame cut of RealRef's vtest-a run through the
real model into a store, corrected with accept / reject, refit with a few trials, loaded and registered.

The annotator runs at a low threshold (0.01), where "the person walking on the left" selects several
people: they accept the best-scored one (the person on the far left) and reject the others, so the corrected
answer is one person; "the dog" selects or nearly selects some trajectory: its best one is rejected, so its
corrected answer is empty. The refit must keep the accepted person and stop selecting the rejected ones.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from derrvos_core.errors import InputError
from derrvos_core.model.catalog import load_model
from derrvos_core.model.real import read_real_config
from derrvos_core.store import Store
from training.refit import main as refit_main
from training.refit_real import RealRefitSettings, refit_real

CLIP = Path(__file__).resolve().parents[1] / "data" / "realref" / "clips" / "vtest-a"
FRAMES = 24
LEFT, DOG = "the person walking on the left", "the dog"
LOW = 0.01  # the annotator's threshold: low enough that the fitted model still selects several

pytestmark = pytest.mark.skipif(not (CLIP / "00023.jpg").is_file(),
                                reason=f"RealRef clips are not set up ({CLIP} is missing): run "
                                       "python training/realref_setup.py")


@pytest.fixture(scope="module")
def cut(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("vtest24") / "frames"
    folder.mkdir()
    for i in range(FRAMES):
        shutil.copy(CLIP / f"{i:05d}.jpg", folder / f"{i:05d}.jpg")
    return folder


@pytest.fixture(scope="module")
def model():
    return load_model("default")


@pytest.fixture(scope="module")
def refit(tmp_path_factory, cut, model):
    """(settings, result, runs) after correcting both expressions and refitting with 6 trials."""
    root = tmp_path_factory.mktemp("refit-real")
    url = f"sqlite:///{root / 'store.db'}"
    runs = {}
    with Store.open(url) as store:
        video = store.add_video_file(cut, fps=10)
        for text in (LEFT, DOG):
            result = model.segment(str(cut), text, model.defaults.settings(threshold=LOW))
            runs[text] = (store.save_run(video, text, result, model.version), result)
        run_id, result = runs[LEFT]
        assert len(result.selected) >= 2, f"the model no longer over-selects here at {LOW}: pick another case"
        best = max(result.selected, key=lambda i: result.trajectories[i].score)
        store.accept(run_id, best, user="annotator")
        for tid in result.selected:
            if tid != best:
                store.reject(run_id, tid, user="annotator")
        run_id, result = runs[DOG]
        store.reject(run_id, max(result.trajectories, key=lambda t: t.score).trajectory_id, user="annotator")
    settings = RealRefitSettings(base="default", out=str(root / "model"), db=url, trials=6, seed=0,
                                 frame_stride=3, realref_split=None)
    return settings, refit_real(settings, log=lambda m: None), runs


def test_refit_writes_a_real_model_that_loads(refit, model):
    settings, result, _ = refit
    out = Path(settings.out)
    assert result.out_dir == out and (out / "config.json").is_file()
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # staging folder gone
    refitted = load_model(out)
    assert refitted.version == result.version != model.version
    assert refitted.name == "derrvos-real-refit" and result.base_version == model.version
    for name in ("nanodet.onnx", "selfie.onnx", "MODEL_CARD.md", "refit_report.json", "refit_per_expression.csv"):
        assert (out / name).is_file(), name
    card = (out / "MODEL_CARD.md").read_text()
    assert "## Refit on corrections" in card and result.base_version in card


def test_refit_follows_the_corrections(refit, model):
    settings, result, runs = refit
    report = result.report
    fit = report["corrections"]["fit"]
    assert fit["count"] == 2 and fit["after"]["JF"] >= fit["before"]["JF"]
    # the corrected answers are selections of the stored trajectories (no pixels drawn): reachable
    assert fit["corrected_selection"]["JF"] == pytest.approx(1.0) and fit["after"]["JF"] > 0.99
    rows = {r["expression"]: r for r in report["per_expression"]}
    _, left = runs[LEFT]
    accepted = max(left.selected, key=lambda i: left.trajectories[i].score)
    assert rows[LEFT]["selected_after"] == [accepted]  # the rejected ones are no longer selected
    assert rows[DOG]["selected_after"] == []
    cfg = read_real_config(Path(settings.out))
    assert cfg.defaults.threshold == report["threshold"]["after"]
    assert cfg.selector.to_dict() == report["selector"]["after"]
    assert report["realref"] == {"skipped": "not asked for (--realref-split none)"}


def test_saved_model_answers_as_the_report_says(refit, cut):
    settings, result, _ = refit
    rows = {r["expression"]: r for r in result.report["per_expression"]}
    answer = load_model(settings.out).segment(str(cut), LEFT)
    assert list(answer.selected) == rows[LEFT]["selected_after"]


def test_refit_is_registered_in_the_store(refit):
    settings, result, _ = refit
    with Store.open(settings.db) as store:
        record = store.get_model_version(result.version)
    assert record is not None and Path(record.path) == Path(settings.out).resolve()
    assert record.base_version == result.base_version
    assert record.metrics["corrections"] == result.report["corrections"]
    assert json.loads((Path(settings.out) / "refit_report.json").read_text())["version"] == result.version


def test_no_real_corrections_is_a_clear_error(tmp_path, cut, model, capsys):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    with Store.open(url) as store:  # a real-model run, never corrected
        video = store.add_video_file(cut, fps=10)
        store.save_run(video, DOG, model.segment(str(cut), DOG), model.version)
    # refit.py dispatches a real base to refit_real
    assert refit_main(["--db", url, "--base", "default", "--out", str(tmp_path / "out")]) == 2
    assert "holds no corrections of runs made with a real model" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    with pytest.raises(InputError, match="no corrections"):
        refit_real(RealRefitSettings(base="real", out=str(tmp_path / "out"), db=url, realref_split=None))
