"""Dataset readers on tiny fixtures written in the official layouts (tests/fixtures/rvos_layouts.py)."""
from __future__ import annotations

import json
import os
import pickle

import numpy as np
import pytest

from derrvos_core.datasets import (DATASETS, RVOSDataset, RVOSSample, open_dataset, read_davis, read_longrvos,
                                   read_mevis, read_refcoco, read_refytvos)
from derrvos_core.errors import DatasetError, InputError
from tests.fixtures import rvos_layouts as L


def test_mevis_union_of_anno_ids_and_no_target(tmp_path):
    masks = L.write_mevis(tmp_path)
    ds = read_mevis(tmp_path, "train")
    assert isinstance(ds, RVOSDataset) and len(ds) == 3
    one, both, none = ds[0], ds[1], ds[2]
    assert isinstance(one, RVOSSample) and one.dataset == "mevis" and one.frame_names == L.FRAMES
    np.testing.assert_array_equal(one.target_masks, masks[1])
    np.testing.assert_array_equal(both.target_masks, masks[1] | masks[2])
    assert both.object_ids == (0, 1) and both.extra["anno_ids"] == ["10", "11"]
    assert none.target_masks.shape == (L.T, L.H,
                                       L.W) and not none.target_masks.any() and none.object_ids == ()
    assert one.load_frames().shape == (L.T, L.H, L.W, 3) and one.load_frames().dtype == np.uint8
    # the target objects apart, for training labels
    np.testing.assert_array_equal(both.load_object_masks(), np.stack([masks[1], masks[2]]))
    np.testing.assert_array_equal(one.load_object_masks(), masks[1][None])
    assert none.load_object_masks().shape == (0, L.T, L.H, L.W)


def test_mevis_is_lazy_frames_are_read_per_sample(tmp_path):
    L.write_mevis(tmp_path)
    ds = read_mevis(tmp_path, "train")
    for f in (tmp_path / "train" / "JPEGImages" / "vid_a").iterdir():
        f.unlink()
    assert len(ds) == 3  # opening never touched the frames
    with pytest.raises(DatasetError, match="frame '00000' not found"):
        ds[0]


def test_mevis_split_without_mask_dict_has_empty_targets(tmp_path):
    L.write_mevis(tmp_path, "valid")
    (tmp_path / "valid" / "mask_dict.json").unlink()
    sample = read_mevis(tmp_path, "valid")[0]
    assert sample.extra["has_annotations"] is False and sample.target_masks.shape == (L.T, L.H, L.W)
    assert sample.load_object_masks is None


@pytest.mark.parametrize("breakage, message", [
    (lambda meta, masks: meta["videos"]["vid_a"]["expressions"]["0"].pop("exp"),
     r"meta_expressions\.json.*'exp'"),
    (lambda meta, masks: meta["videos"]["vid_a"].pop("frames"), r"meta_expressions\.json.*'frames'"),
    (lambda meta, masks: meta.pop("videos"), r"meta_expressions\.json.*'videos'"),
    (lambda meta, masks: masks.pop("11"), r"mask_dict\.json: key '11'"),
    (lambda meta, masks: masks["10"].pop(), r"mask_dict\.json: key '10' has 2 masks"),
])
def test_mevis_malformed_files_name_file_and_key(tmp_path, breakage, message):
    L.write_mevis(tmp_path)
    meta_path, mask_path = tmp_path / "train" / "meta_expressions.json", tmp_path / "train" / "mask_dict.json"
    meta, masks = json.loads(meta_path.read_text()), json.loads(mask_path.read_text())
    breakage(meta, masks)
    meta_path.write_text(json.dumps(meta))
    mask_path.write_text(json.dumps(masks))
    with pytest.raises(DatasetError, match=message):
        read_mevis(tmp_path, "train")


def test_mevis_corrupt_json_and_corrupt_rle(tmp_path):
    L.write_mevis(tmp_path)
    mask_path = tmp_path / "train" / "mask_dict.json"
    masks = json.loads(mask_path.read_text())
    masks["10"][0] = {"size": [L.H, L.W]}
    mask_path.write_text(json.dumps(masks))
    with pytest.raises(DatasetError, match=r"mask_dict\.json: key '10' frame 0 is not a COCO RLE"):
        read_mevis(tmp_path, "train")[0]
    mask_path.write_text("{not json")
    with pytest.raises(DatasetError, match=r"mask_dict\.json: not valid JSON"):
        read_mevis(tmp_path, "train")


def test_refytvos_palette_ids_and_categories(tmp_path):
    masks = L.write_refytvos(tmp_path)
    ds = read_refytvos(tmp_path, "train")
    assert [s.expression for s in ds] == ["a square moving right", "a square sitting still"]
    np.testing.assert_array_equal(ds[0].target_masks, masks[1])
    np.testing.assert_array_equal(ds[1].target_masks, masks[2])
    assert ds[1].object_ids == (2,) and ds[1].extra["object_category"] == "square"


def test_refytvos_unannotated_split_and_bad_obj_id(tmp_path):
    L.write_refytvos(tmp_path, "valid", annotated=False)
    sample = read_refytvos(tmp_path, "valid")[0]
    assert sample.extra["has_annotations"] is False and not sample.target_masks.any()
    path = tmp_path / "meta_expressions" / "valid" / "meta_expressions.json"
    meta = json.loads(path.read_text())
    meta["videos"]["vid_a"]["expressions"]["0"]["obj_id"] = "one"
    path.write_text(json.dumps(meta))
    with pytest.raises(DatasetError, match=r"meta_expressions\.json: .*'obj_id' should be an integer"):
        read_refytvos(tmp_path, "valid")


def test_refytvos_rgb_annotation_is_rejected(tmp_path):
    from PIL import Image

    L.write_refytvos(tmp_path)
    png = tmp_path / "train" / "Annotations" / "vid_a" / "00000.png"
    Image.new("RGB", (L.W, L.H)).save(png)
    with pytest.raises(DatasetError, match="00000.png: expected a palette"):
        read_refytvos(tmp_path, "train")[0]


def test_davis_official_layout_four_annotators(tmp_path):
    masks = L.write_davis_official(tmp_path)
    ds = read_davis(tmp_path, "valid")
    assert len(ds) == 8  # 2 objects x 4 annotations
    assert sorted({s.extra["annotator"] for s in ds}) == [0, 1, 2, 3]
    first = ds[0]
    assert first.video_id == "classic-car"  # the text files' typo "clasic-car" is mapped as RVOS codebases do
    assert first.object_ids == (1,) and first.extra["annotator"] == 0
    np.testing.assert_array_equal(first.target_masks, masks[1])
    assert any("caf\u00e9" in s.expression for s in ds if s.extra["annotator"] == 2)  # latin-1 file decoded


@pytest.mark.parametrize("resolution", ["24p", "1080p", "Full-Resolution"])
def test_davis_video_outside_480p_is_read_from_its_resolution_folder(tmp_path, resolution):
    """Our export names the folder for the video's height; the download also has Full-Resolution."""
    masks = L.write_davis_official(tmp_path)
    davis = tmp_path / "DAVIS"
    for top in ("JPEGImages", "Annotations_unsupervised"):
        (davis / top / "480p").rename(davis / top / resolution)
    ds = read_davis(tmp_path, "valid")
    assert len(ds) == 8 and ds[0].extra["has_annotations"]
    np.testing.assert_array_equal(ds[0].target_masks, masks[1])


def test_davis_480p_comes_first_and_a_missing_video_names_it(tmp_path):
    masks = L.write_davis_official(tmp_path)
    davis = tmp_path / "DAVIS"
    for top in ("JPEGImages", "Annotations_unsupervised"):  # a blank copy at another size: not read
        other = davis / top / "24p" / "classic-car"
        other.mkdir(parents=True)
    np.testing.assert_array_equal(read_davis(tmp_path, "valid")[0].target_masks, masks[1])
    (davis / "ImageSets" / "2017" / "val.txt").write_text("classic-car\nbmx-trees\n")
    with pytest.raises(DatasetError, match="video 'bmx-trees' has no frame folder"):
        read_davis(tmp_path, "valid")


def test_davis_converted_layout_annotator_from_exp_id(tmp_path):
    L.write_refytvos(tmp_path, "valid")
    ds = read_davis(tmp_path, "valid")
    assert [s.extra["annotator"] for s in ds] == [0, 1] and ds[0].dataset == "davis"


def test_refcoco_polygon_rle_split_filter(tmp_path):
    expected = L.write_refcoco(tmp_path)
    train = read_refcoco(tmp_path, "train")
    assert [s.expression for s in train] == ["left car", "small car"]
    sample = train[0]
    assert sample.num_frames == 1 and sample.target_masks.shape == (1, L.H, L.W)
    np.testing.assert_array_equal(sample.target_masks[0], expected[101])
    assert sample.load_frames().shape == (1, L.H, L.W, 3)
    test_a = read_refcoco(tmp_path, "testA")
    np.testing.assert_array_equal(test_a[0].target_masks[0], expected[102])  # uncompressed RLE


def test_refcoco_pickle_with_code_is_refused_and_never_run(tmp_path):
    L.write_refcoco(tmp_path)
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    with open(tmp_path / "refcoco" / "refs(unc).p", "wb") as f:
        pickle.dump([Evil()], f, protocol=2)
    with pytest.raises(DatasetError, match=r"refs\(unc\)\.p: refuses to load '(posix|os|nt)\.system'"):
        read_refcoco(tmp_path, "train")
    assert not marker.exists()


def test_refcoco_missing_annotation_names_key(tmp_path):
    L.write_refcoco(tmp_path, "refcocog", "umd")
    path = tmp_path / "refcocog" / "instances.json"
    inst = json.loads(path.read_text())
    inst["annotations"] = inst["annotations"][1:]
    path.write_text(json.dumps(inst))
    with pytest.raises(DatasetError, match=r"instances\.json: no annotation with id 101 \(key 'ann_id'"):
        open_dataset("refcocog", tmp_path, "train")


def test_longrvos_absent_frames_and_types(tmp_path):
    masks = L.write_longrvos(tmp_path)
    ds = read_longrvos(tmp_path, "valid")
    assert [s.category for s in ds] == ["dynamic", "hybrid"]
    np.testing.assert_array_equal(ds[1].target_masks, masks[2])
    assert not ds[1].target_masks[-1].any()  # no PNG for the last frame: the object is absent there


def test_open_dataset_names(tmp_path):
    L.write_mevis(tmp_path)
    assert len(open_dataset("MeViS", tmp_path, "train")) == 3
    assert set(DATASETS) >= {"mevis", "refytvos", "davis", "refcoco", "longrvos", "synthref"}
    with pytest.raises(InputError, match="unknown dataset"):
        open_dataset("kinetics", tmp_path, "train")
