"""SynthRef images for referring image segmentation (T = 1), written in the RefCOCO layout.

    <out>/ris/refcoco/refs(unc).p        pickled list of refs (builtins only), as the refer API reads them:
                                          {ref_id, ann_id, image_id, split, category_id, file_name, sent_ids,
                                           sentences: [{tokens, raw, sent, sent_id}]}
    <out>/ris/refcoco/instances.json     COCO {images, annotations (polygon segmentation), categories}
    <out>/ris/images/mscoco/images/train2014/<file_name>.jpg

Objects do not overlap and stay inside the image, and each object's pixels are painted exactly
where the COCO rasteriser fills its polygon, so the polygon is the ground truth to the pixel.
"""
from __future__ import annotations

import json
import math
import pickle
import time
from pathlib import Path

import numpy as np
from PIL import Image
from pycocotools import mask as mask_utils

from derrvos_core.datasets.synthref import SynthRefConfig, SynthRefStats, video_rng
from derrvos_core.datasets.synthref_expressions import make_expressions
from derrvos_core.datasets.synthref_facts import object_facts
from derrvos_core.datasets.synthref_render import make_background, paint, shape_polygon
from derrvos_core.datasets.synthref_scene import Scene, SceneObject, _random_appearance, _size_px
from derrvos_core.datasets.synthref_vocab import SHAPES
from derrvos_core.errors import InputError


def generate_synthref_ris(out_dir, num_images: int, seed: int,
                          config: SynthRefConfig = SynthRefConfig()) -> SynthRefStats:
    """Write the RIS split (refs split "train" / "val" / "test" by image, 8:1:1) and return its statistics."""
    if num_images < 1:
        raise InputError(f"num_images must be >= 1, got {num_images}")
    start = time.perf_counter()
    root = Path(out_dir) / "ris"
    image_dir = root / "images" / "mscoco" / "images" / "train2014"
    image_dir.mkdir(parents=True, exist_ok=True)
    (root / "refcoco").mkdir(parents=True, exist_ok=True)
    images, annotations, refs = [], [], []
    stats = SynthRefStats("ris")
    for i in range(num_images):
        rng = video_rng(seed, "ris", i)
        scene, masks = _static_scene(rng, config)
        name = f"SYNTHREF_ris_{i:06d}"
        image_id = i + 1
        Image.fromarray(_render(scene, masks)).save(image_dir / f"{name}.jpg", quality=config.jpeg_quality)
        images.append({"id": image_id, "file_name": f"{name}.jpg", "height": config.height,
                       "width": config.width})
        ann_ids = []
        for obj, (polygon, mask) in zip(scene.objects, masks):
            ann_ids.append(len(annotations) + 1)
            annotations.append(_annotation(ann_ids[-1], image_id, obj, polygon, mask))
        facts = object_facts(scene, np.array([[m.any() for _, m in masks]]))
        count = int(rng.integers(config.min_expressions, config.max_expressions + 1))
        exprs = make_expressions(facts, rng, count, static=True)
        split = ("train",) * 8 + ("val", "test")
        _add_refs(refs, exprs, ann_ids, scene, image_id, name, split[i % 10])
        stats.videos += 1
        stats.frames += 1
        stats.objects += len(scene.objects)
        for e in exprs:
            stats.per_category[e.category] = stats.per_category.get(e.category, 0) + 1
            stats.expressions += 1
    stats.targets_per_expression = {"1": stats.expressions}
    categories = [{"id": k + 1, "name": s, "supercategory": "shape"} for k, s in enumerate(SHAPES)]
    with open(root / "refcoco" / "instances.json", "w") as f:
        json.dump({"images": images, "annotations": annotations, "categories": categories}, f)
    with open(root / "refcoco" / "refs(unc).p", "wb") as f:
        pickle.dump(refs, f, protocol=2)
    stats.seconds = time.perf_counter() - start
    return stats


def _static_scene(rng, config: SynthRefConfig) -> tuple:
    """A one-frame scene of non-overlapping objects and their [(polygon, mask)]."""
    w, h = config.width, config.height
    scene = Scene(w, h, 1, int(rng.integers(2**31)), [])
    boxes, masks = [], []
    for obj_id in range(int(rng.integers(config.min_objects, config.max_objects + 1))):
        shape, colour, size, texture = _random_appearance(rng)
        px = _size_px(rng, size, w, h)
        for _ in range(30):  # rejection sampling keeps objects apart, so polygons are exact ground truth
            x0, y0 = float(rng.uniform(1, w - px - 1)), float(rng.uniform(1, h - px - 1))
            if all(x0 + px + 2 < bx or bx + bs + 2 < x0 or y0 + px + 2 < by or by + bs + 2 < y0
                   for bx, by, bs in boxes):
                break
        else:
            continue
        boxes.append((x0, y0, px))
        obj = SceneObject(len(scene.objects), shape, colour, size, texture, "still", None, px)
        obj.positions = np.array([[x0 + px / 2, y0 + px / 2]])
        obj.velocities = np.zeros((1, 2))
        scene.objects.append(obj)
        polygon = _polygon(shape, x0, y0, px)
        rle = mask_utils.merge(mask_utils.frPyObjects([polygon], h, w))
        masks.append((polygon, mask_utils.decode(rle).astype(bool)))
    return scene, masks


def _polygon(shape: str, x0: float, y0: float, size: float) -> list:
    """Flat COCO polygon [x1, y1, x2, y2, ...] of a shape in the box (x0, y0, size)."""
    if shape == "square":
        m = size * 0.06
        pts = [(m, m), (size - m, m), (size - m, size - m), (m, size - m)]
    elif shape == "circle":
        c = size / 2
        angles = np.linspace(0, 2 * math.pi, 32, endpoint=False)
        pts = [(c + c * math.cos(a), c + c * math.sin(a)) for a in angles]
    elif shape == "cross":
        a, b = size / 3, size * 2 / 3
        pts = [(a, 0), (b, 0), (b, a), (size, a), (size, b), (b, b), (b, size), (a, size), (a, b), (0, b),
               (0, a), (a, a)]
    else:
        pts = shape_polygon(shape, size)
    return [round(float(v), 2) for x, y in pts for v in (x0 + x, y0 + y)]


def _render(scene: Scene, masks: list) -> np.ndarray:
    frame = make_background(scene.background_seed, scene.width, scene.height)
    for obj, (_, mask) in zip(scene.objects, masks):
        ys, xs = np.nonzero(mask)
        if not len(ys):
            continue
        box = (slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1))
        sub = mask[box]
        frame[box][sub] = paint(sub, obj.colour, obj.texture)[sub]
    return frame


def _annotation(ann_id: int, image_id: int, obj, polygon: list, mask: np.ndarray) -> dict:
    ys, xs = np.nonzero(mask)
    bbox = [float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1), float(ys.max() - ys.min() + 1)]
    return {"id": ann_id, "image_id": image_id, "category_id": SHAPES.index(obj.shape) + 1,
            "segmentation": [polygon], "area": float(mask.sum()), "bbox": bbox, "iscrowd": 0}


def _add_refs(refs: list, exprs: list, ann_ids: list, scene: Scene, image_id: int, name: str,
              split: str) -> None:
    """One ref per referred object, holding every sentence about it (as RefCOCO groups them)."""
    by_target: dict = {}
    for e in exprs:
        by_target.setdefault(e.targets[0], []).append(e)
    sent_base = refs[-1]["sent_ids"][-1] + 1 if refs else 0
    for obj_id, group in sorted(by_target.items()):
        sentences = []
        for e in group:
            sent_id = sent_base + len(sentences)
            sentences.append({"tokens": e.text.split(), "raw": e.text, "sent": e.text, "sent_id": sent_id,
                              "category": e.category})
        sent_base += len(sentences)
        ann_id = ann_ids[obj_id]
        refs.append({"ref_id": len(refs), "ann_id": ann_id, "image_id": image_id, "split": split,
                     "category_id": SHAPES.index(scene.objects[obj_id].shape) + 1,
                     "file_name": f"{name}_{ann_id}.jpg", "sent_ids": [s["sent_id"] for s in sentences],
                     "sentences": sentences})
