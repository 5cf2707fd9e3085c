"""Reading exports back for the export tests: the store's per-object answer, what a palette PNG can show,
and our own dataset readers."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from derrvos_core.result import decode_rle
from derrvos_core.store import Store
from derrvos_core.store.coco_rle import read_coco_rle
from derrvos_core.store.export import SIDECAR
from tests.helpers_store import H, T, W


def object_masks(store: Store, run_id: int) -> dict[int, np.ndarray]:
    """object id -> bool [T, H, W], the store's own per-object answer (objects empty throughout left out)."""
    plan = store.answer_plan(run_id)
    tracks = {o.object_id: np.stack([plan.frame_objects(t)[o.object_id] for t in range(T)])
              for o in plan.objects}
    return {k: v for k, v in tracks.items() if v.any()}


def read_mevis_layout(root: Path) -> dict:
    """(video, exp_id) -> (text, masks [T, H, W]) from meta_expressions.json + mask_dict.json."""
    meta = json.loads((root / "train" / "meta_expressions.json").read_text())["videos"]
    mask_dict = json.loads((root / "train" / "mask_dict.json").read_text())
    out = {}
    for vid, entry in meta.items():
        for exp_id, exp in entry["expressions"].items():
            masks = np.zeros((len(entry["frames"]), H, W), dtype=bool)
            for anno in exp["anno_id"]:
                for t, rle in enumerate(mask_dict[anno]):
                    if rle is not None:
                        masks[t] |= decode_rle(rle)
            out[vid, exp_id] = (exp["exp"], masks)
    return out


def palette_visible(root: Path, store: Store) -> dict:
    """(video, instance id) -> what a palette PNG can show of the instance: the store's mask of its object
    less the pixels of later instances (a pixel holds one id; the later one keeps it). Every expression
    naming an instance must mean the same mask by it."""
    instances: dict = {}
    for vid, video in json.loads((root / SIDECAR).read_text())["videos"].items():
        for exp in video["expressions"].values():
            masks = object_masks(store, exp["run_id"])
            for o in exp["objects"]:
                known = instances.setdefault((vid, o["instance_id"]), masks[o["object_id"]])
                assert np.array_equal(known, masks[o["object_id"]])
    return {(vid, k): mask & ~np.any([m for (v, j), m in instances.items() if v == vid and j > k] +
                                     [np.zeros_like(mask)], axis=0)
            for (vid, k), mask in instances.items()}


def read_back(fmt: str, root: Path) -> dict:
    """(video, expression text) -> [sample, ...], through our own dataset readers (palette layouts give
    an expression with several objects one sample per object, all with its text)."""
    from derrvos_core.datasets.davis import read_davis
    from derrvos_core.datasets.mevis import read_mevis
    from derrvos_core.datasets.refytvos import read_refytvos
    readers = {"mevis": lambda: read_mevis(root, "train"), "refytvos": lambda: read_refytvos(root, "train"),
               "davis": lambda: read_davis(root, "train"), "coco-rle": lambda: read_coco_rle(root)}
    out: dict = {}
    for sample in readers[fmt]():
        out.setdefault((sample.video_id, sample.expression), []).append(sample)
    return out


def union_of(samples: list) -> np.ndarray:
    return np.any([s.target_masks for s in samples], axis=0)
