"""Instances in every export format: an answer of two people is two objects, re-read by our own readers;
one object is one instance; two expressions answering the same object share its id."""
from __future__ import annotations

import json

import numpy as np
import pytest

from derrvos_core.result import SegmentationResult, TrajectoryResult
from derrvos_core.settings import SegmentSettings
from derrvos_core.store import Store
from derrvos_core.store.export import SIDECAR, ExportError, export_dataset
from derrvos_core.store.rle import encode_rle
from tests.helpers_export import read_back, union_of
from tests.helpers_store import H, T, W, box, make_frames

FORMATS = ["mevis", "refytvos", "davis", "coco-rle"]
PALETTE = ("refytvos", "davis")


def person_a(frame: int) -> np.ndarray:
    return box(2, 2 + frame, 6)


def person_b(frame: int) -> np.ndarray:
    return box(12, 20 - frame, 5)


def two_people(threshold: float) -> SegmentationResult:
    """One crop over the video, two trajectories (two links): A on every frame, B from frame 1 on."""
    a = TrajectoryResult(trajectory_id=0, crop_index=0, frame_start=0, score=0.9, link_id=0,
                         rles=tuple(encode_rle(person_a(t)) for t in range(T)))
    b = TrajectoryResult(trajectory_id=1, crop_index=0, frame_start=0, score=0.6, link_id=1,
                         rles=(None,) + tuple(encode_rle(person_b(t)) for t in range(1, T)))
    result = SegmentationResult(num_frames=T, height=H, width=W, trajectories=(a, b),
                                settings=SegmentSettings(crop_size=T, threshold=0.5),
                                expression="the two people")
    return result.select(threshold)


def track(mask_of, frames=range(T)) -> np.ndarray:
    return np.stack([mask_of(t) if t in frames else np.zeros((H, W), bool) for t in range(T)])


@pytest.fixture(params=["sqlite", "postgres"])
def people(request, tmp_path) -> Store:
    """Video "street": "the two people" (A and B), "the left person" (A alone, the same object), in a
    SQLite and a PostgreSQL store (skipped where no PostgreSQL server can be started)."""
    url = f"sqlite:///{tmp_path / 'store.db'}" if request.param == "sqlite" else \
        request.getfixturevalue("postgres").create_database()
    store = Store.open(url)
    video = store.add_video(make_frames(tmp_path / "videos" / "street", seed=3), fps=10, num_frames=T,
                            height=H, width=W)
    store.save_run(video, "the two people", two_people(0.5), "tiny@1")
    store.save_run(video, "the left person", two_people(0.8), "tiny@1")
    yield store
    store.close()


def objects_read(fmt: str, samples: list) -> dict[int, np.ndarray]:
    """instance id -> mask track, from an expression's samples: one per object in palette layouts, else
    one sample whose objects are kept apart."""
    if fmt in PALETTE:
        assert all(len(s.object_ids) == 1 for s in samples)
        return {s.object_ids[0]: s.target_masks for s in samples}
    (sample,) = samples
    return dict(zip(sample.object_ids, sample.load_object_masks()))


@pytest.mark.parametrize("fmt", FORMATS)
def test_two_people_export_as_two_instances(people, tmp_path, fmt):
    export_dataset(people, fmt, tmp_path / "out")
    samples = read_back(fmt, tmp_path / "out")
    assert set(samples) == {("street", "the two people"), ("street", "the left person")}
    a, b = track(person_a), track(person_b, range(1, T))
    both = objects_read(fmt, samples["street", "the two people"])
    assert sorted(both) == [1, 2]
    assert np.array_equal(both[1], a) and np.array_equal(both[2], b)
    assert np.array_equal(union_of(samples["street", "the two people"]), a | b)
    left = objects_read(fmt, samples["street", "the left person"])
    assert list(left) == [1] and np.array_equal(left[1], a)  # the same object, the same id
    assert np.array_equal(union_of(samples["street", "the left person"]), a)
    exps = json.loads((tmp_path / "out" / SIDECAR).read_text())["videos"]["street"]["expressions"]
    assert [(o["object_id"], o["instance_id"]) for o in exps["0"]["objects"]] == [(0, 1), (1, 2)]
    assert [(o["object_id"], o["instance_id"]) for o in exps["1"]["objects"]] == [(0, 1)]


def test_each_layout_names_both_objects(people, tmp_path):
    for fmt in FORMATS:
        export_dataset(people, fmt, tmp_path / fmt)
    meta = json.loads((tmp_path / "mevis" / "train" / "meta_expressions.json").read_text())
    exps = meta["videos"]["street"]["expressions"]
    assert (exps["0"]["obj_id"], exps["0"]["anno_id"]) == ([1, 2], ["0", "1"])
    assert (exps["1"]["obj_id"], exps["1"]["anno_id"]) == ([1], ["0"])
    assert len(json.loads((tmp_path / "mevis" / "train" / "mask_dict.json").read_text())) == 2
    ytvos = json.loads((tmp_path / "refytvos" / "meta_expressions" / "train" / "meta_expressions.json")
                       .read_text())["videos"]["street"]["expressions"]
    assert {k: (e["exp"], e["obj_id"]) for k, e in ytvos.items()} == {
        "0": ("the two people", "1"), "1": ("the two people", "2"), "2": ("the left person", "1")}
    lines = (tmp_path / "davis" / "davis_text_annotations" / "Davis17_annot1_full_video.txt").read_text()
    assert lines.splitlines() == ['street 1 "the two people"', 'street 2 "the two people"',
                                  'street 1 "the left person"']
    assert (tmp_path / "davis" / "JPEGImages" / f"{H}p" / "street").is_dir()
    coco = json.loads((tmp_path / "coco-rle" / "annotations.json").read_text())
    assert [e["track_ids"] for e in coco["expressions"]] == [[1, 2], [1]]
    per_track = {}
    for annotation in coco["annotations"]:
        per_track.setdefault((annotation["expression_id"], annotation["track_id"]), []).append(
            annotation["image_id"])
    assert per_track == {(1, 1): list(range(1, T + 1)), (1, 2): list(range(2, T + 1)),
                         (2, 1): list(range(1, T + 1))}  # B is absent on frame 0: no annotation


def test_one_object_is_one_instance_and_no_target_is_none(people, tmp_path):
    video = people.videos()[0]
    nobody = people.save_run(video, "nobody", two_people(0.5), "tiny@1")
    people.reject(nobody, 0, user="ann")
    people.reject(nobody, 1, user="ann")
    for fmt in FORMATS:
        export_dataset(people, fmt, tmp_path / fmt)
        samples = read_back(fmt, tmp_path / fmt)
        (empty,) = samples["street", "nobody"]
        assert not empty.target_masks.any() and empty.target_masks.shape == (T, H, W)
        if fmt not in PALETTE:
            assert empty.object_ids == () and empty.load_object_masks().shape == (0, T, H, W)
    meta = json.loads((tmp_path / "mevis" / "train" / "meta_expressions.json").read_text())
    assert meta["videos"]["street"]["expressions"]["2"] == {"exp": "nobody", "obj_id": [], "anno_id": []}
    objects = json.loads((tmp_path / "refytvos" / "train" / "meta.json").read_text())["videos"]["street"]
    assert objects["objects"]["3"]["frames"] == []  # the palette index no pixel carries


def test_an_object_edit_reaches_its_instance_only(people, tmp_path):
    run_id = people.answer_runs()[0].id
    people.add_correction(run_id, "draw", user="ann", frame=0, mask=box(18, 0, 4), object_id=1)
    export_dataset(people, "mevis", tmp_path / "out")
    both = objects_read("mevis", read_back("mevis", tmp_path / "out")["street", "the two people"])
    assert np.array_equal(both[2][0], box(18, 0, 4)) and np.array_equal(both[1], track(person_a))
    left = objects_read("mevis", read_back("mevis", tmp_path / "out")["street", "the left person"])
    assert list(left) == [1]  # A is still the object both expressions answer


def test_more_objects_than_a_palette_holds(tmp_path):
    store = Store.open(tmp_path / "store.db")
    video = store.add_video(make_frames(tmp_path / "videos" / "crowd"), fps=10, num_frames=T, height=H,
                            width=W)
    pixels = [(y, x) for y in range(H) for x in range(W)][:256]
    trajectories = []
    for k, (y, x) in enumerate(pixels):
        mask = np.zeros((H, W), bool)
        mask[y, x] = True
        trajectories.append(TrajectoryResult(trajectory_id=k, crop_index=0, frame_start=0, score=0.9,
                                             link_id=k, rles=(encode_rle(mask),) * T))
    crowd = SegmentationResult(num_frames=T, height=H, width=W, trajectories=tuple(trajectories),
                               settings=SegmentSettings(crop_size=T, threshold=0.5), expression="everyone")
    store.save_run(video, "everyone", crowd.select(0.5), "tiny@1")
    for fmt in PALETTE:
        with pytest.raises(ExportError, match="crowd: 256 distinct objects do not fit a palette PNG"):
            export_dataset(store, fmt, tmp_path / fmt)
        assert not (tmp_path / fmt).exists()
    export_dataset(store, "mevis", tmp_path / "mevis")
    (sample,) = read_back("mevis", tmp_path / "mevis")["crowd", "everyone"]
    assert len(sample.object_ids) == 256
    assert sample.load_object_masks().sum(axis=(1, 2, 3)).tolist() == [T] * 256  # one pixel each, every frame
    store.close()
