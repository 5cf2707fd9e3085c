"""RefCOCO / RefCOCO+ / RefCOCOg reader (the refer API layout), one sample (T = 1) per sentence.

    <root>/<dataset>/refs(<split_by>).p    pickled list of refs: {ref_id, ann_id, image_id, split,
                                           sentences: [{sent_id, sent, raw, tokens}], ...}
                                           (read with a plain-data unpickler)
    <root>/<dataset>/instances.json        COCO {images, annotations (polygon or RLE), categories}
    <root>/images/mscoco/images/train2014/<file_name>

split_by defaults to "unc" for refcoco and refcoco+, "umd" for refcocog. SynthRef's RIS split
(`make_synthref.py --split ris`) is written in this layout with dataset "refcoco".
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pycocotools import mask as mask_utils

from derrvos_core.datasets.common import RVOSDataset, frame_loader, get, load_json
from derrvos_core.datasets.safe_pickle import load_plain_pickle
from derrvos_core.datasets.types import RVOSSample
from derrvos_core.errors import DatasetError
from derrvos_core.validation import DEFAULT_MAX_PIXELS

DEFAULT_SPLIT_BY = {"refcoco": "unc", "refcoco+": "unc", "refcocog": "umd"}
_IMAGE_DIRS = (("images", "mscoco", "images", "train2014"), ("images", "train2014"), ("train2014",),
               ("images",))


@dataclass(frozen=True)
class _Entry:
    image: dict
    annotation: dict
    ref: dict
    sentence: dict


def read_refcoco(root, split: str, dataset: str = "refcoco", split_by: str | None = None,
                 image_dir=None) -> RVOSDataset:
    """Samples of refs whose "split" equals `split` ("train", "val", "test", "testA", "testB")."""
    root = Path(root)
    split_by = split_by or DEFAULT_SPLIT_BY.get(dataset, "unc")
    refs_path = root / dataset / f"refs({split_by}).p"
    inst_path = root / dataset / "instances.json"
    refs = load_plain_pickle(refs_path)
    if not isinstance(refs, list):
        raise DatasetError(f"{refs_path}: should hold a list of refs, got {type(refs).__name__}")
    instances = load_json(inst_path)
    images = {get(im, "id", inst_path, f"images[{i}]", int): im
              for i, im in enumerate(get(instances, "images", inst_path, "the top level", list))}
    anns = {get(a, "id", inst_path, f"annotations[{i}]", int): a
            for i, a in enumerate(get(instances, "annotations", inst_path, "the top level", list))}
    folder = Path(image_dir) if image_dir else _image_folder(root)
    entries = []
    for i, ref in enumerate(refs):
        where = f"ref {i}"
        if get(ref, "split", refs_path, where, str) != split:
            continue
        ann_id = get(ref, "ann_id", refs_path, where, int)
        image_id = get(ref, "image_id", refs_path, where, int)
        if ann_id not in anns:
            raise DatasetError(f"{inst_path}: no annotation with id {ann_id} "
                               f"(key 'ann_id' of {where} in {refs_path})")
        if image_id not in images:
            raise DatasetError(f"{inst_path}: no image with id {image_id} "
                               f"(key 'image_id' of {where} in {refs_path})")
        for j, sent in enumerate(get(ref, "sentences", refs_path, where, list)):
            get(sent, "sent", refs_path, f"{where} sentence {j}", str)
            entries.append(_Entry(images[image_id], anns[ann_id], ref, sent))
    return RVOSDataset(dataset, split, entries, lambda e: _build(e, folder, inst_path, dataset))


def _image_folder(root: Path) -> Path:
    for parts in _IMAGE_DIRS:
        if root.joinpath(*parts).is_dir():
            return root.joinpath(*parts)
    return root.joinpath(*_IMAGE_DIRS[0])  # the error names it when an image is asked for


def _build(entry: _Entry, folder: Path, inst_path: Path, dataset: str) -> RVOSSample:
    image, ann, ref, sent = entry.image, entry.annotation, entry.ref, entry.sentence
    where = f"image {image.get('id')}"
    file_name = get(image, "file_name", inst_path, where, str)
    h = get(image, "height", inst_path, where, int)
    w = get(image, "width", inst_path, where, int)
    if not (0 < h and 0 < w and h * w <= DEFAULT_MAX_PIXELS):
        raise DatasetError(f"{inst_path}: {where} declares {w}x{h} pixels; a mask is made at that size, and "
                           f"at most {DEFAULT_MAX_PIXELS} pixels (3840x2160) are accepted")
    path = _inside(folder, file_name, inst_path, where)
    if not path.is_file():
        raise DatasetError(f"{path}: image file not found (file_name of {where} in {inst_path})")
    mask = segmentation_mask(get(ann, "segmentation", inst_path, f"annotation {ann.get('id')}", (list, dict)),
                             h, w, inst_path, ann.get("id"))
    category = sent.get("category") if isinstance(sent.get("category"), str) else None
    return RVOSSample(dataset=dataset, video_id=str(image["id"]), expression_id=str(sent.get("sent_id", 0)),
                      expression=sent["sent"], frame_names=[Path(file_name).stem],
                      load_frames=frame_loader([path]),
                      target_masks=mask[None], object_ids=(int(ann["id"]),), category=category,
                      extra={"ref_id": ref.get("ref_id"), "category_id": ann.get("category_id"),
                             "has_annotations": True})


def _inside(folder: Path, file_name: str, inst_path: Path, where: str) -> Path:
    """folder / file_name, refused when it leads out of the image folder ("../", an absolute path)."""
    path = folder / file_name
    root = Path(os.path.realpath(folder))
    escapes = root not in Path(os.path.realpath(path)).parents
    if "\x00" in file_name or Path(file_name).is_absolute() or escapes:
        raise DatasetError(f"{inst_path}: file_name {file_name!r} of {where} leads outside the image folder "
                           f"{folder}; refused")
    return path


def segmentation_mask(seg, h: int, w: int, path: Path, ann_id) -> np.ndarray:
    """bool [H, W] from a COCO segmentation: polygons, uncompressed RLE or compressed RLE."""
    try:
        if isinstance(seg, list):
            if not seg:
                return np.zeros((h, w), dtype=bool)
            rle = mask_utils.merge(mask_utils.frPyObjects(seg, h, w))
        elif isinstance(seg.get("counts"), list):
            rle = mask_utils.frPyObjects(seg, h, w)
        else:
            counts = seg["counts"]
            rle = {"size": seg["size"], "counts": counts.encode() if isinstance(counts, str) else counts}
        mask = mask_utils.decode(rle).astype(bool)
    except DatasetError:
        raise
    except Exception as exc:
        raise DatasetError(f"{path}: annotation {ann_id} key 'segmentation' is malformed ({exc})") from exc
    if mask.shape != (h, w):
        raise DatasetError(f"{path}: annotation {ann_id} key 'segmentation' is {mask.shape}, "
                           f"image is {(h, w)}")
    return mask
