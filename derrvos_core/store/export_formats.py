"""One writer per dataset layout. Each gets videos one at a time (frames streamed) and writes its
JSON at `finish()`. Every path goes through `inside(root, ...)` with sanitised names."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import numpy as np
from PIL import Image

from derrvos_core.masks import write_palette_png
from derrvos_core.store.export_answers import ExportError, ExpressionAnswer, VideoExport
from derrvos_core.store.safe_names import inside

JPEG_QUALITY = 95


def write_json(path: Path, payload) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(payload, handle, ensure_ascii=False)


def write_jpeg(path: Path, frame: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(frame).save(path, format="JPEG", quality=JPEG_QUALITY)


def zip_frames(item: VideoExport, frames: Iterator[np.ndarray]) -> Iterator[tuple[str, np.ndarray]]:
    """(frame name, frame) pairs, pulling frames first so a video longer or shorter than the store
    recorded is caught by `iter_frames` instead of silently cut."""
    names = iter(item.frame_names)
    for frame in frames:
        yield next(names), frame


def object_ids(item: VideoExport) -> list[int]:
    """Per expression, an object id (1..255) for palette formats: expressions with the same answer in
    every frame share one object, as several Ref-YouTube-VOS expressions share an object."""
    ids, seen = [], {}
    for answer in item.expressions:
        key = tuple(None if r is None else r["counts"] for r in answer.rles)
        if key not in seen:
            seen[key] = len(seen) + 1
        ids.append(seen[key])
    if len(seen) > 255:
        raise ExportError(f"video {item.name}: {len(seen)} distinct answers do not fit a palette PNG (255)")
    return ids


def compose_ids(item: VideoExport, ids: list[int], frame: int) -> tuple[np.ndarray, int]:
    """uint8 [H, W] object ids at `frame`, and the number of pixels two objects both claimed (the
    later object keeps them: a palette PNG holds one object per pixel)."""
    v = item.video
    canvas = np.zeros((v.height, v.width), dtype=np.uint8)
    overlap, painted = 0, set()
    for answer, obj in zip(item.expressions, ids):
        if obj in painted:
            continue
        painted.add(obj)
        mask = answer.mask(frame, v.height, v.width)
        overlap += int((mask & (canvas > 0)).sum())
        canvas[mask] = obj
    return canvas, overlap


class MevisWriter:
    """`<split>/JPEGImages/<vid>/<frame>.jpg`, `<split>/meta_expressions.json`, `<split>/mask_dict.json`
    (anno_id -> per-frame RLE or null). Each expression's answer is one annotation."""

    def __init__(self, root: Path, split: str):
        self.root, self.split = root, split
        self.meta: dict = {}
        self.mask_dict: dict = {}
        self.warnings: list[str] = []

    def add_video(self, item: VideoExport, frames: Iterator[np.ndarray]) -> None:
        for name, frame in zip_frames(item, frames):
            write_jpeg(inside(self.root, self.split, "JPEGImages", item.name, name + ".jpg"), frame)
        expressions = {}
        for obj, answer in enumerate(item.expressions):
            anno_id = str(len(self.mask_dict))
            self.mask_dict[anno_id] = list(answer.rles)
            expressions[answer.export_id] = {"exp": answer.text, "obj_id": [obj], "anno_id": [anno_id]}
        self.meta[item.name] = {"frames": item.frame_names, "expressions": expressions}

    def finish(self) -> None:
        write_json(inside(self.root, self.split, "meta_expressions.json"), {"videos": self.meta})
        write_json(inside(self.root, self.split, "mask_dict.json"), self.mask_dict)


class RefYtvosWriter:
    """`<split>/JPEGImages/<vid>/<frame>.jpg`, `<split>/Annotations/<vid>/<frame>.png` (palette, object
    ids), `<split>/meta.json` (objects) and `meta_expressions/<split>/meta_expressions.json`."""

    def __init__(self, root: Path, split: str):
        self.root, self.split = root, split
        self.meta: dict = {}
        self.objects: dict = {}
        self.warnings: list[str] = []

    def add_video(self, item: VideoExport, frames: Iterator[np.ndarray]) -> None:
        ids = object_ids(item)
        overlap = 0
        for index, (name, frame) in enumerate(zip_frames(item, frames)):
            write_jpeg(inside(self.root, self.split, "JPEGImages", item.name, name + ".jpg"), frame)
            canvas, clash = compose_ids(item, ids, index)
            overlap += clash
            write_palette_png(inside(self.root, self.split, "Annotations", item.name, name + ".png"), canvas)
        if overlap:
            self.warnings.append(f"video {item.name}: {overlap} pixels belong to two answers; a palette PNG "
                                 f"keeps the later object's id")
        self.meta[item.name] = {"frames": item.frame_names, "expressions": {
            a.export_id: {"exp": a.text, "obj_id": str(obj)} for a, obj in zip(item.expressions, ids)}}
        self.objects[item.name] = {"objects": {str(obj): {"category": "object", "frames": _present(item, a)}
                                               for a, obj in zip(item.expressions, ids)}}

    def finish(self) -> None:
        write_json(inside(self.root, "meta_expressions", self.split, "meta_expressions.json"),
                   {"videos": self.meta})
        write_json(inside(self.root, self.split, "meta.json"), {"videos": self.objects})


def _present(item: VideoExport, answer: ExpressionAnswer) -> list[str]:
    return [n for n, r in zip(item.frame_names, answer.rles) if r is not None]


class DavisWriter:
    """DAVIS-2017 layout: `JPEGImages/480p/<vid>/<frame>.jpg`, `Annotations/480p/<vid>/<frame>.png`
    (palette), `ImageSets/2017/<split>.txt`; Ref-DAVIS17 expressions, one `<vid> <obj_id> "<expression>"`
    per line, in `davis_text_annotations/Davis17_annot1_full_video.txt` only: our expressions describe
    the whole video, and one file keeps each expression one sample (Ref-DAVIS readers count each
    text file as another annotator). The frames keep the video's size; "480p" is the layout's name."""

    def __init__(self, root: Path, split: str):
        self.root, self.split = root, split
        self.videos: list[str] = []
        self.lines: list[str] = []
        self.warnings: list[str] = []

    def add_video(self, item: VideoExport, frames: Iterator[np.ndarray]) -> None:
        ids = object_ids(item)
        overlap = 0
        for index, (name, frame) in enumerate(zip_frames(item, frames)):
            write_jpeg(inside(self.root, "JPEGImages", "480p", item.name, name + ".jpg"), frame)
            canvas, clash = compose_ids(item, ids, index)
            overlap += clash
            write_palette_png(inside(self.root, "Annotations", "480p", item.name, name + ".png"), canvas)
        if overlap:
            self.warnings.append(f"video {item.name}: {overlap} pixels belong to two answers; a palette PNG "
                                 f"keeps the later object's id")
        self.videos.append(item.name)
        self.lines += [f'{item.name} {obj} "{_one_line(a.text)}"' for a, obj in zip(item.expressions, ids)]

    def finish(self) -> None:
        image_set = inside(self.root, "ImageSets", "2017", self.split + ".txt")
        image_set.parent.mkdir(parents=True, exist_ok=True)
        image_set.write_text("".join(name + "\n" for name in self.videos), encoding="utf-8")
        texts = inside(self.root, "davis_text_annotations", "Davis17_annot1_full_video.txt")
        texts.parent.mkdir(parents=True, exist_ok=True)
        texts.write_text("".join(line + "\n" for line in self.lines), encoding="utf-8")


def _one_line(text: str) -> str:
    """The text file holds one quoted expression per line: no line breaks, no double quotes inside."""
    return " ".join(text.replace('"', "'").split())


class CocoRleWriter:
    """`images/<vid>/<frame>.jpg` and `annotations.json`: COCO images, categories and annotations
    (RLE `segmentation`, `area`, `bbox`), plus `videos` and `expressions`; each annotation names its
    `expression_id` and whether a human corrected it. Frames where an answer is empty have no annotation."""

    def __init__(self, root: Path, split: str):
        self.root, self.split = root, split
        self.videos: list = []
        self.images: list = []
        self.expressions: list = []
        self.annotations: list = []
        self.warnings: list[str] = []

    def add_video(self, item: VideoExport, frames: Iterator[np.ndarray]) -> None:
        from pycocotools import mask as mask_utils
        v = item.video
        video_id = len(self.videos) + 1
        self.videos.append({"id": video_id, "name": item.name, "height": v.height, "width": v.width,
                            "fps": v.fps, "num_frames": v.num_frames})
        first_image = len(self.images) + 1
        for index, (name, frame) in enumerate(zip_frames(item, frames)):
            write_jpeg(inside(self.root, "images", item.name, name + ".jpg"), frame)
            self.images.append({"id": first_image + index, "video_id": video_id, "frame_index": index,
                                "file_name": f"images/{item.name}/{name}.jpg", "height": v.height,
                                "width": v.width})
        for answer in item.expressions:
            expression_id = len(self.expressions) + 1
            self.expressions.append({"id": expression_id, "video_id": video_id, "expression": answer.text,
                                     "expression_key": answer.export_id})
            for index, rle in enumerate(answer.rles):
                if rle is None:
                    continue
                encoded = {"size": rle["size"], "counts": rle["counts"].encode("ascii")}
                self.annotations.append({
                    "id": len(self.annotations) + 1, "image_id": first_image + index,
                    "expression_id": expression_id, "category_id": 1, "segmentation": rle,
                    "area": int(mask_utils.area(encoded)),
                    "bbox": [float(x) for x in mask_utils.toBbox(encoded)],
                    "iscrowd": 0, "corrected": bool(answer.corrected[index])})

    def finish(self) -> None:
        write_json(inside(self.root, "annotations.json"), {
            "info": {"description": "DeRVOS Studio export: referred-object masks per expression"},
            "categories": [{"id": 1, "name": "referred object", "supercategory": "object"}],
            "videos": self.videos, "images": self.images, "expressions": self.expressions,
            "annotations": self.annotations})


WRITERS = {"mevis": MevisWriter, "refytvos": RefYtvosWriter, "davis": DavisWriter, "coco-rle": CocoRleWriter}
