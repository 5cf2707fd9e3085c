"""Attacks with dataset files (issue 19, item 6): pickle bombs, paths out of the dataset root, masks sized
by a few bytes of JSON. Each is a DatasetError naming the file; nothing large is allocated."""
from __future__ import annotations

import json
import pickle
import tracemalloc

import pytest

from derrvos_core.datasets import read_mevis, read_refcoco
from derrvos_core.datasets.safe_pickle import load_plain_pickle
from derrvos_core.errors import DatasetError
from tests.fixtures import rvos_layouts as L

# builtins.bytes(805306368) by REDUCE: 29 bytes that built an 800 MB object through the allowlist
BYTES_BOMB = b"\x80\x02c__builtin__\nbytes\nJ\x00\x00\x00\x30\x85R."
LIST_BOMB = b"\x80\x02c__builtin__\nlist\nc__builtin__\nbytes\nJ\x00\x00\x00\x30\x85R\x85R."
STR_BOMB = b"\x80\x02c__builtin__\nstr\nJ\x00\x00\x00\x30\x85R."


@pytest.mark.parametrize("data", [BYTES_BOMB, LIST_BOMB, STR_BOMB])
def test_tiny_pickles_cannot_build_huge_objects(tmp_path, data):
    path = tmp_path / "refs(unc).p"
    path.write_bytes(data)
    assert len(data) <= 64
    tracemalloc.start()
    try:
        with pytest.raises(DatasetError, match=r"refs\(unc\)\.p: .*builds data the file does not hold"):
            load_plain_pickle(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 10 << 20


def test_plain_pickles_of_every_protocol_still_load(tmp_path):
    value = [{"sent": "the car", "ids": (1, 2), "tags": {"a"}, "f": frozenset([3]), "x": 1.5, "c": 2j,
              "ok": True, "none": None, "big": 10**40}]
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        path = tmp_path / f"p{protocol}.p"
        path.write_bytes(pickle.dumps(value, protocol=protocol))
        assert load_plain_pickle(path) == value


def test_refcoco_reader_refuses_the_bomb_and_escaping_or_huge_images(tmp_path):
    L.write_refcoco(tmp_path)
    refs = tmp_path / "refcoco" / "refs(unc).p"
    good = refs.read_bytes()
    refs.write_bytes(BYTES_BOMB)
    with pytest.raises(DatasetError, match="pickle bomb"):
        read_refcoco(tmp_path, "train")
    refs.write_bytes(good)
    inst_path = tmp_path / "refcoco" / "instances.json"
    inst = json.loads(inst_path.read_text())
    for change, message in [({"file_name": "../../../etc/passwd"}, "leads outside the image folder"),
                            ({"file_name": "/etc/passwd"}, "leads outside the image folder"),
                            ({"height": 100_000, "width": 100_000}, "declares 100000x100000 pixels")]:
        broken = json.loads(json.dumps(inst))
        broken["images"][0].update(change)
        inst_path.write_text(json.dumps(broken))
        dataset = read_refcoco(tmp_path, "train")
        with pytest.raises(DatasetError, match=message):
            [dataset[i] for i in range(len(dataset))]


@pytest.mark.parametrize("video_id", ["../outside", "../../etc", "/etc", "a/b", "..", "C:evil"])
def test_mevis_refuses_video_ids_that_leave_the_root(tmp_path, video_id):
    L.write_mevis(tmp_path)
    meta_path = tmp_path / "train" / "meta_expressions.json"
    meta = json.loads(meta_path.read_text())
    meta["videos"][video_id] = meta["videos"].pop("vid_a")
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(DatasetError, match=r"meta_expressions\.json: .*video id .* not a plain name"):
        read_mevis(tmp_path, "train")


def test_mevis_refuses_frame_names_that_leave_the_root_and_huge_masks(tmp_path):
    L.write_mevis(tmp_path)
    meta_path = tmp_path / "train" / "meta_expressions.json"
    meta = json.loads(meta_path.read_text())
    good = json.dumps(meta)
    meta["videos"]["vid_a"]["frames"][0] = "../../../../etc/hostname"
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(DatasetError, match="frame name"):
        read_mevis(tmp_path, "train")
    meta_path.write_text(good)
    mask_path = tmp_path / "train" / "mask_dict.json"
    masks = json.loads(mask_path.read_text())
    anno = next(iter(masks))
    masks[anno][0] = {"size": [100_000, 100_000], "counts": "0"}
    mask_path.write_text(json.dumps(masks))
    dataset = read_mevis(tmp_path, "train")
    with pytest.raises(DatasetError, match="declares a 100000x100000 mask"):
        [dataset[i] for i in range(len(dataset))]
