"""RealRef: the annotation format's checks, the reader, box/mask scoring, the set-up end to end on a tiny
packaged video, and every shipped annotation file."""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from derrvos_core.datasets import open_dataset
from derrvos_core.datasets.realref_format import CATEGORIES, load_annotation, load_annotations
from derrvos_core.errors import DatasetError, InputError
from derrvos_core.evaluation.realref import box_iou, mask_box, score_realref, summarize_realref
from derrvos_core.masks import encode_rle
from derrvos_core.store.videos import content_hash
from derrvos_core.video import write_video
from training import realref_setup

SHIPPED = Path(__file__).resolve().parents[1] / "assets" / "realref" / "annotations"
T, H, W = 21, 48, 64


def box_mask(box, h=H, w=W) -> np.ndarray:
    m = np.zeros((h, w), bool)
    x0, y0, x1, y1 = (int(v) for v in box)
    m[y0:y1, x0:x1] = True
    return m


def boxes_of(start_x: int) -> dict:
    """An object 10x12 px moving 1 px a frame to the right; keyframes 0, 10, 20."""
    return {str(t): [start_x + t, 10, start_x + t + 10, 22] for t in (0, 10, 20)}


def annotation(**changes) -> dict:
    a_boxes, b_boxes = boxes_of(2), boxes_of(30)
    b_boxes["20"] = None  # object 2 leaves before the end
    data = {"clip_id": "tiny", "source": {"package": "debian:fakepkg", "file": "examples/tiny.mp4",
                                          "sha256": "0" * 64},
            "start_frame": 0, "num_frames": T, "width": W, "height": H, "fps": 10.0, "split": "tune",
            "objects": {"1": {"label": "person", "description": "left", "boxes": a_boxes},
                        "2": {"label": "person", "description": "right", "boxes": b_boxes}},
            "masks": {"1": {"10": encode_rle(box_mask(a_boxes["10"]))},
                      "2": {"10": encode_rle(box_mask(b_boxes["10"]))}},
            "expressions": {"0": {"exp": "the left one", "category": "position", "obj_ids": ["1"]},
                            "1": {"exp": "both", "category": "multi", "obj_ids": ["1", "2"]},
                            "2": {"exp": "the dog", "category": "none", "obj_ids": []}}}
    data.update(changes)
    return data


def write_annotation(folder: Path, data: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{data['clip_id']}.json"
    path.write_text(json.dumps(data))
    return path


def masks_from_boxes(clip, obj_ids) -> list:
    """Per object bool [T, H, W]: the GT box filled on keyframes, the neighbouring boxes interpolated."""
    out = []
    for o in obj_ids:
        m = np.zeros((T, H, W), bool)
        for t, box in clip.objects[o].boxes.items():
            if box is not None:
                m[t] = box_mask(box)
        out.append(m)
    return out


def test_parse_reads_boxes_masks_and_keyframes(tmp_path):
    clip = load_annotation(write_annotation(tmp_path, annotation()))
    assert clip.keyframes() == [0, 10, 20]
    assert clip.objects["2"].boxes[20] is None
    assert clip.object_mask("1", 10).sum() == 120 and clip.object_mask("1", 0) is None
    assert clip.expressions["1"].obj_ids == ("1", "2")


@pytest.mark.parametrize("change, message", [
    ({"objects": {"1": {"label": "p", "description": "", "boxes": {"0": [5, 5, 5, 9]}}}}, "empty or outside"),
    ({"objects": {"1": {"label": "p", "description": "", "boxes": {"0": [0, 0, W + 1, 9]}}}}, "outside"),
    ({"expressions": {"0": {"exp": "x", "category": "colour", "obj_ids": ["7"]}}}, "not in 'objects'"),
    ({"expressions": {"0": {"exp": "x", "category": "size", "obj_ids": ["1"]}}}, "not one of"),
    ({"expressions": {"0": {"exp": "x", "category": "none", "obj_ids": ["1"]}}}, "category 'none'"),
    ({"expressions": {"0": {"exp": "x", "category": "multi", "obj_ids": ["1"]}}}, "'multi'"),
    ({"split": "train"}, "split"),
    ({"clip_id": "other"}, "differs from the file name"),
    ({"masks": {"1": {"10": encode_rle(np.ones((H, W + 2), bool))}}}, "the clip is"),
    ({"masks": {"2": {"20": encode_rle(np.ones((H, W), bool))}}}, "box is null"),
])
def test_parse_refuses_broken_files(tmp_path, change, message):
    data = annotation(**change)
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(data))
    with pytest.raises(DatasetError, match=message):
        load_annotation(path)


def test_referred_objects_need_keyframes_every_ten_frames(tmp_path):
    data = annotation()
    del data["objects"]["1"]["boxes"]["10"]
    with pytest.raises(DatasetError, match="at most every 10 frames"):
        load_annotation(write_annotation(tmp_path, data))
    data = annotation()
    del data["objects"]["2"]["boxes"]["20"]  # 10 -> end (20) is a gap of 10: allowed
    load_annotation(write_annotation(tmp_path, data))


def test_box_helpers():
    assert mask_box(box_mask((3, 4, 9, 20))) == (3, 4, 9, 20)
    assert mask_box(np.zeros((5, 5), bool)) is None
    assert box_iou(None, None) == 1 and box_iou((0, 0, 2, 2), None) == 0
    assert box_iou((0, 0, 2, 2), (1, 0, 3, 2)) == pytest.approx(2 / 6)


def test_scores_of_perfect_empty_and_partial_predictions(tmp_path):
    clip = load_annotation(write_annotation(tmp_path, annotation()))
    perfect = masks_from_boxes(clip, ["1", "2"])
    both = score_realref(perfect, clip, "1")
    assert both.box_iou == 1 and both.matched_box_iou == 1 and both.tIoU == 1 and both.JF == 1
    assert both.num_box_frames == 3 and both.num_mask_frames == 1
    # the union of both objects answers "the left one": right place only where the right one is gone
    left = score_realref(perfect[0] | perfect[1], clip, "0")
    assert left.matched_box_iou is None and 0 < left.box_iou < 1 and left.tIoU == 1 and left.J < 1
    # per-object, the spurious second object halves the matched score, the target still matches
    assert score_realref(perfect, clip, "0").matched_box_iou == pytest.approx(0.5)
    none_empty = score_realref(np.zeros((T, H, W), bool), clip, "2")
    assert none_empty.box_iou == 1 and none_empty.tIoU == 1 and none_empty.JF is None
    none_wrong = score_realref(perfect[0], clip, "2")
    assert none_wrong.box_iou == 0 and none_wrong.tIoU == 0
    assert score_realref([], clip, "2").matched_box_iou == 1
    assert score_realref([], clip, "0").matched_box_iou == 0
    summary = summarize_realref([("multi", both), ("none", none_empty)])
    assert summary["all"]["count"] == 2 and summary["all"]["mask_count"] == 1 and summary["none"]["JF"] is None
    with pytest.raises(InputError, match="clip tiny"):
        score_realref(np.zeros((T, H, W + 1), bool), clip, "0")


def test_setup_then_reader_end_to_end(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (H, W, 3), dtype=np.uint8) for _ in range(T + 4)]
    video = write_video(tmp_path / "tiny.mp4", frames, fps=10.0)
    doc = tmp_path / "doc" / "fakepkg" / "examples"
    doc.mkdir(parents=True)
    with open(video, "rb") as src, gzip.open(doc / "tiny.mp4.gz", "wb") as dst:
        dst.write(src.read())
    monkeypatch.setattr(realref_setup, "DEBIAN_DOC_ROOT", tmp_path / "doc")
    annotations, out, cache = tmp_path / "ann", tmp_path / "out", tmp_path / "cache"
    write_annotation(annotations, annotation(start_frame=2, source={
        "package": "debian:fakepkg", "file": "examples/tiny.mp4", "sha256": "f" * 64}))
    with pytest.raises(DatasetError, match="sha256"):
        list(realref_setup.iter_setup(annotations, out, cache, install=False))
    sha = content_hash(cache / "sources" / "fakepkg" / "examples" / "tiny.mp4")
    write_annotation(annotations, annotation(start_frame=2, source={
        "package": "debian:fakepkg", "file": "examples/tiny.mp4", "sha256": sha}))
    [first] = realref_setup.iter_setup(annotations, out, cache, install=False)
    [again] = realref_setup.iter_setup(annotations, out, cache, install=False)
    assert "written" in first and "up to date" in again
    assert len(list((out / "clips" / "tiny").glob("*.jpg"))) == T
    dataset = open_dataset("realref", out, "tune")
    assert len(dataset) == 3 and len(open_dataset("realref", out, "test")) == 0
    sample = dataset[1]
    assert sample.load_frames().shape == (T, H, W, 3) and sample.category == "multi"
    assert sample.object_ids == (1, 2) and sample.extra["box_frames"] == [0, 10, 20]
    assert sample.extra["mask_frames"] == [10] and sample.target_masks[10].sum() == 240
    assert not sample.target_masks[0].any() and sample.load_object_masks().shape == (2, T, H, W)


def test_missing_package_is_named_with_its_command(tmp_path, monkeypatch):
    monkeypatch.setattr(realref_setup, "DEBIAN_DOC_ROOT", tmp_path / "doc")
    write_annotation(tmp_path / "ann", annotation())
    with pytest.raises(DatasetError, match="apt-get install -y fakepkg"):
        list(realref_setup.iter_setup(tmp_path / "ann", tmp_path / "out", tmp_path / "cache", install=False))


# --- every shipped annotation file -------------------------------------------------------------------

def test_shipped_annotations_validate_and_agree_with_themselves():
    clips = load_annotations(SHIPPED)
    assert clips, "no shipped RealRef annotations"
    assert {c.split for c in clips} == {"tune", "test"}
    for clip in clips:
        assert clip.num_frames <= 150, clip.clip_id
        assert clip.expressions and {e.category for e in clip.expressions.values()} <= set(CATEGORIES)
        for obj_id, frames in clip.masks.items():
            for t in frames:
                mask = clip.object_mask(obj_id, t)
                assert mask.shape == (clip.height, clip.width)
                box = clip.objects[obj_id].boxes.get(t)
                if box is not None:  # a mask drawn on a keyframe lies in (and mostly fills out) its box
                    assert box_iou(mask_box(mask), box) >= 0.5, (clip.clip_id, obj_id, t)
