"""Evaluation: scores, baselines from the same trajectories, the server layout, and the CLI end to end."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from derrvos_core.datasets import open_dataset
from derrvos_core.datasets.synthref import SynthRefConfig, generate_synthref
from derrvos_core.settings import SegmentSettings
from derrvos_core.evaluation import (EvalSettings, decode_trajectories, evaluate, oracle_selection,
                                     score_masks,
                                     write_report)
from derrvos_core.evaluation.baselines import largest_selection
from derrvos_core.masks import encode_rle, read_binary_png
from derrvos_core.result import SegmentationResult, TrajectoryResult

SMALL = SynthRefConfig(width=48, height=48, min_frames=10, max_frames=14, min_objects=2, max_objects=4)


@pytest.fixture(scope="module")
def synthref_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthref_eval")
    generate_synthref(root, "test", 6, seed=11, config=SMALL)
    return root


def _result(tracks: list, crop_size: int, selected=(), scores=None) -> SegmentationResult:
    """A SegmentationResult whose trajectories are the given bool [T, H, W] tracks, cut into crops."""
    t_len, h, w = tracks[0].shape
    trajectories = []
    for start in range(0, t_len, crop_size):
        for track in tracks:
            rles = tuple(encode_rle(m) if m.any() else None for m in track[start:start + crop_size])
            tid = len(trajectories)
            score = (scores or {}).get(tid, 0.5)
            trajectories.append(TrajectoryResult(tid, start // crop_size, start, score, rles, tid))
    return SegmentationResult(t_len, h, w, tuple(trajectories), SegmentSettings(crop_size, 0.7),
                              selected=tuple(selected))


def _object_tracks(root, split: str) -> dict:
    """{video_id: [bool [T, H, W] per object]} from SynthRef's mask_dict and synthref_meta."""
    from derrvos_core.masks import decode_rle

    masks = json.loads((root / split / "mask_dict.json").read_text())
    videos = json.loads((root / split / "synthref_meta.json").read_text())["videos"]
    out = {}
    blank = np.zeros((48, 48), dtype=bool)
    for vid, v in videos.items():
        out[vid] = [np.stack([decode_rle(r) if r else blank for r in masks[str(o["anno_id"])]])
                    for o in v["objects"]]
    return out


def test_oracle_picks_the_target_pieces_not_the_distractor():
    gt = np.zeros((4, 20, 20), dtype=bool)
    a = np.zeros_like(gt)
    a[:, 2:8, 2:8] = True
    b = np.zeros_like(gt)
    b[:, 12:18, 12:18] = True
    c = np.zeros_like(gt)
    c[:, 6:14, 0:20] = True  # grazes both targets, mostly background
    gt = a | b
    trajs = decode_trajectories(_result([a, b, c], crop_size=4))
    assert oracle_selection(trajs, gt) == (0, 1)
    assert oracle_selection(trajs, np.zeros_like(gt)) == ()  # no target: the empty answer is best
    assert largest_selection(trajs) == (2,)


def test_score_masks_definitions():
    gt = np.zeros((2, 10, 10), dtype=bool)
    pred = np.zeros_like(gt)
    gt[0, :5] = True
    pred[0, :5, :5] = True
    s = score_masks(gt, pred)
    assert s.J == pytest.approx((0.5 + 1.0) / 2)  # frame 1: both empty scores 1
    assert s.tIoU == 1.0 and s.vIoU == pytest.approx(0.5) and s.intersection == 25 and s.union == 50
    late = np.zeros_like(gt)
    late[1, :5] = True  # right place, wrong frame: no frame has both
    assert score_masks(gt, late).tIoU == 0.0 and score_masks(gt, late).vIoU == 0.0
    assert score_masks(np.zeros_like(gt), np.zeros_like(gt)).vIoU == 1.0


def test_evaluate_with_ground_truth_trajectories(synthref_root, tmp_path):
    dataset = open_dataset("synthref", synthref_root, "test")
    tracks = _object_tracks(synthref_root, "test")
    calls = []

    def segment(frames, expression):  # a "model" that finds every object and selects none
        vid = dataset.entries[len(calls)].video_id
        calls.append(expression)
        assert frames.shape[1:] == (48, 48, 3)
        return _result(tracks[vid], crop_size=5)

    settings = EvalSettings(crop_size=5, seed=1)
    report = evaluate(segment, dataset, tmp_path, settings)
    assert len(calls) == len(dataset)  # one call per expression, baselines included
    assert report.overall["oracle"]["JF"] == pytest.approx(1.0)  # GT is a union of these trajectories
    none_jf = report.groups["category"]["no_target"]["model"]["JF"]
    assert none_jf == pytest.approx(1.0)  # selecting nothing is right when nothing is referred to
    assert report.overall["model"]["JF"] < 1.0 and report.overall["largest"]["JF"] < 1.0
    assert set(report.groups) >= {"category", "held_out"}
    again = evaluate(lambda f, e: _result(tracks[dataset.entries[0].video_id], 5), dataset, tmp_path / "b",
                     EvalSettings(crop_size=5, seed=1, limit=2, write_annotations=False))
    first = evaluate(lambda f, e: _result(tracks[dataset.entries[0].video_id], 5), dataset, tmp_path / "c",
                     EvalSettings(crop_size=5, seed=1, limit=2, write_annotations=False))
    assert [r.scores["random"] for r in again.records] == [r.scores["random"] for r in first.records]

    paths = write_report(report, tmp_path)
    results = json.loads(paths["results"].read_text())
    assert results["num_expressions"] == len(dataset)
    assert set(results["overall"]) == {"model", "random", "largest", "oracle"}
    rows = list(csv.DictReader(open(paths["csv"], encoding="utf-8")))
    assert len(rows) == len(dataset) and float(rows[0]["oracle_JF"]) == pytest.approx(1.0)
    sample = dataset[0]
    pngs = sorted((tmp_path / "Annotations" / sample.video_id / sample.expression_id).iterdir())
    assert [p.stem for p in pngs] == list(sample.frame_names)
    assert not any(read_binary_png(p).any() for p in pngs)  # nothing was selected


def test_selected_trajectories_are_the_answer(synthref_root, tmp_path):
    dataset = open_dataset("synthref", synthref_root, "test")
    tracks = _object_tracks(synthref_root, "test")
    target = next(i for i, e in enumerate(dataset.entries) if len(e.object_ids) == 1)
    entry = dataset.entries[target]
    obj = entry.object_ids[0]
    n_obj = len(tracks[entry.video_id])
    crops = range(0, len(entry.frames), 5)
    selected = [c * n_obj + obj for c in range(len(crops))]  # the target's trajectory in every crop

    class Subset:
        name, split = "synthref", "test"

        def __len__(self):
            return 1

        def __getitem__(self, i):
            return dataset[target]

    report = evaluate(lambda f, e: _result(tracks[entry.video_id], 5, selected), Subset(), tmp_path)
    assert report.records[0].scores["model"].JF == pytest.approx(1.0)
    png = tmp_path / "Annotations" / entry.video_id / entry.expression_id / f"{entry.frames[0]}.png"
    np.testing.assert_array_equal(read_binary_png(png), dataset[target].target_masks[0])


def test_split_without_ground_truth_only_writes_pngs(synthref_root, tmp_path):
    import shutil

    shutil.copytree(synthref_root / "test", tmp_path / "data" / "valid")
    (tmp_path / "data" / "valid" / "mask_dict.json").unlink()
    dataset = open_dataset("mevis", tmp_path / "data", "valid")
    t = len(dataset.entries[0].frames)
    blank = np.zeros((t, 48, 48), dtype=bool)
    settings = EvalSettings(crop_size=5, limit=2)
    report = evaluate(lambda f, e: _result([blank], 5), dataset, tmp_path / "out", settings)
    assert not report.has_ground_truth and report.overall == {}
    assert (tmp_path / "out" / "Annotations" / dataset.entries[0].video_id).is_dir()


def test_cli_end_to_end_with_tiny_random_model(tmp_path):
    model_mod = pytest.importorskip("derrvos_core.model", reason="the DeRVOS model has not landed yet")
    from training.evaluate import main

    tiny_video = SynthRefConfig(width=48, height=48, min_frames=4, max_frames=4, min_objects=3, max_objects=3)
    generate_synthref(tmp_path / "data", "valid", 1, seed=4, config=tiny_video)
    model = model_mod.DeRVOS.from_config(model_mod.DeRVOSConfig.tiny())
    model.save(tmp_path / "tiny")
    code = main(["--dataset", "synthref", "--root", str(tmp_path / "data"), "--split", "valid",
                 "--checkpoint", str(tmp_path / "tiny"), "--out", str(tmp_path / "eval"),
                 "--crop-size", "2", "--limit", "1"])
    assert code == 0
    results = json.loads((tmp_path / "eval" / "results.json").read_text())
    assert results["num_expressions"] == 1 and 0.0 <= results["overall"]["model"]["JF"] <= 1.0
    assert results["overall"]["oracle"]["JF"] >= results["overall"]["random"]["JF"] - 1e-9
    assert results["model_version"] == model.version
    rows = list(csv.DictReader(open(tmp_path / "eval" / "per_expression.csv", encoding="utf-8")))
    assert len(rows) == 1 and int(rows[0]["num_trajectories"]) > 0  # 2 crops of top-k trajectories
    sample = open_dataset("synthref", tmp_path / "data", "valid")[0]
    folder = tmp_path / "eval" / "Annotations" / sample.video_id / sample.expression_id
    assert sorted(p.stem for p in folder.iterdir()) == list(sample.frame_names)


@pytest.mark.parametrize("given", [None, 0.97])
def test_cli_threshold_is_the_models_recommended_one_unless_given(tmp_path, given):
    """Without --threshold, evaluation selects at the checkpoint's ModelDefaults threshold (its config.json),
    not a constant; --threshold overrides it. The written answer is the model's own selection at it."""
    import dataclasses

    from derrvos_core.model import DeRVOS, DeRVOSConfig, load_model
    from training.evaluate import main

    tiny_video = SynthRefConfig(width=48, height=48, min_frames=4, max_frames=4, min_objects=3, max_objects=3)
    generate_synthref(tmp_path / "data", "valid", 1, seed=4, config=tiny_video)
    DeRVOS.from_config(dataclasses.replace(DeRVOSConfig.tiny(), threshold=0.43)).save(tmp_path / "tiny")
    extra = [] if given is None else ["--threshold", str(given)]
    assert main(["--dataset", "synthref", "--root", str(tmp_path / "data"), "--split", "valid", "--checkpoint",
                 str(tmp_path / "tiny"), "--out", str(tmp_path / "eval"), "--crop-size", "2", "--limit", "1",
                 "--no-baselines", *extra]) == 0
    threshold = 0.43 if given is None else given
    results = json.loads((tmp_path / "eval" / "results.json").read_text())
    assert results["settings"]["threshold"] == threshold
    sample = open_dataset("synthref", tmp_path / "data", "valid")[0]
    model = load_model(tmp_path / "tiny")
    assert model.defaults.threshold == 0.43
    answer = model.segment(sample.load_frames(), sample.expression,
                           model.defaults.settings(crop_size=2, threshold=threshold))
    scores = {t.trajectory_id: t.score for t in answer.trajectories}
    assert all(scores[i] >= threshold for i in answer.selected)
    folder = tmp_path / "eval" / "Annotations" / sample.video_id / sample.expression_id
    for frame, name in enumerate(sample.frame_names):
        assert np.array_equal(read_binary_png(folder / f"{name}.png"), answer.frame_mask(frame))


def test_ris_split_reports_miou_and_oiou(tmp_path):
    from derrvos_core.datasets.refcoco import segmentation_mask
    from derrvos_core.datasets.synthref_ris import generate_synthref_ris

    generate_synthref_ris(tmp_path, 10, seed=2, config=SynthRefConfig(width=48, height=48))
    inst = json.loads((tmp_path / "ris" / "refcoco" / "instances.json").read_text())
    objects: dict = {}
    for ann in inst["annotations"]:
        mask = segmentation_mask(ann["segmentation"], 48, 48, tmp_path, ann["id"])
        objects.setdefault(ann["image_id"], []).append(mask[None])
    dataset = open_dataset("synthref_ris", tmp_path / "ris", "train")
    order = iter(dataset.entries)  # evaluation runs in dataset order

    def segment(frames, text):  # every object of the image as a one-frame trajectory
        return _result(objects[next(order).image["id"]], crop_size=1)

    report = evaluate(segment, dataset, tmp_path / "out", EvalSettings(crop_size=1, write_annotations=False))
    oracle, largest = report.overall["oracle"], report.overall["largest"]
    assert oracle["mIoU"] == pytest.approx(1.0) and oracle["oIoU"] == pytest.approx(1.0)
    assert largest["mIoU"] < 1.0 and 0.0 < largest["oIoU"] < 1.0
