"""One writer per dataset layout. Each gets videos one at a time (frames streamed) and writes its
JSON at `finish()`. Every path goes through `inside(root, ...)` with sanitised names."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import numpy as np
from PIL import Image

from derrvos_core.masks import write_palette_png
from derrvos_core.store.export_answers import ExpressionAnswer, VideoExport
from derrvos_core.store.export_palette import PaletteIds, compose_ids, palette_ids, present_frames
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


class MevisWriter:
    """`<split>/JPEGImages/<vid>/<frame>.jpg`, `<split>/meta_expressions.json`, `<split>/mask_dict.json`
    (anno_id -> per-frame RLE or null). Each instance of a video is one annotation, shared by the
    expressions that answer it; an expression's `obj_id` / `anno_id` list its instances (none: no target),
    and its ground truth is the union of its anno_ids."""

    def __init__(self, root: Path, split: str):
        self.root, self.split = root, split
        self.meta: dict = {}
        self.mask_dict: dict = {}
        self.warnings: list[str] = []

    def add_video(self, item: VideoExport, frames: Iterator[np.ndarray]) -> None:
        for name, frame in zip_frames(item, frames):
            write_jpeg(inside(self.root, self.split, "JPEGImages", item.name, name + ".jpg"), frame)
        first_anno = len(self.mask_dict)
        for track in item.instances.tracks:
            self.mask_dict[str(len(self.mask_dict))] = list(track)
        expressions = {}
        for answer, ids in zip(item.expressions, item.instances.per_expression):
            expressions[answer.export_id] = {"exp": answer.text, "obj_id": list(ids),
                                             "anno_id": [str(first_anno + k - 1) for k in ids]}
        self.meta[item.name] = {"frames": item.frame_names, "expressions": expressions}

    def finish(self) -> None:
        write_json(inside(self.root, self.split, "meta_expressions.json"), {"videos": self.meta})
        write_json(inside(self.root, self.split, "mask_dict.json"), self.mask_dict)


def write_palette_frames(item: VideoExport, frames: Iterator[np.ndarray], jpeg_dir: Path,
                         png_dir: Path) -> str | None:
    """Frames as JPEG and instance ids as palette PNG, per frame; a warning when instances overlapped."""
    overlap = 0
    for index, (name, frame) in enumerate(zip_frames(item, frames)):
        write_jpeg(jpeg_dir / (name + ".jpg"), frame)
        canvas, clash = compose_ids(item, index)
        overlap += clash
        write_palette_png(png_dir / (name + ".png"), canvas)
    if overlap:
        return (f"video {item.name}: {overlap} pixels belong to two objects; a palette PNG keeps the "
                f"later object's id")
    return None


def ytvos_entries(item: VideoExport, ids: PaletteIds) -> list[tuple[str, ExpressionAnswer, int]]:
    """(exp_id, answer, palette id): Ref-YouTube-VOS gives an expression one object, so an answer with
    several objects is one entry per object with the same text; exp ids "0", "1", ... per video."""
    pairs = [(a, obj) for a, objs in zip(item.expressions, ids.per_expression) for obj in objs]
    return [(str(n), a, obj) for n, (a, obj) in enumerate(pairs)]


class RefYtvosWriter:
    """`<split>/JPEGImages/<vid>/<frame>.jpg`, `<split>/Annotations/<vid>/<frame>.png` (palette, one index
    per instance), `<split>/meta.json` (objects) and `meta_expressions/<split>/meta_expressions.json`
    (one entry per (expression, object), see `ytvos_entries`)."""

    def __init__(self, root: Path, split: str):
        self.root, self.split = root, split
        self.meta: dict = {}
        self.objects: dict = {}
        self.warnings: list[str] = []

    def add_video(self, item: VideoExport, frames: Iterator[np.ndarray]) -> None:
        ids = palette_ids(item)
        warning = write_palette_frames(item, frames, inside(self.root, self.split, "JPEGImages", item.name),
                                       inside(self.root, self.split, "Annotations", item.name))
        self.warnings += [warning] if warning else []
        self.meta[item.name] = {"frames": item.frame_names, "expressions": {
            exp_id: {"exp": a.text, "obj_id": str(obj)} for exp_id, a, obj in ytvos_entries(item, ids)}}
        self.objects[item.name] = {"objects": {
            str(k): {"category": "object", "frames": present_frames(item, k)} for k in range(1, ids.count + 1)}}

    def finish(self) -> None:
        write_json(inside(self.root, "meta_expressions", self.split, "meta_expressions.json"),
                   {"videos": self.meta})
        write_json(inside(self.root, self.split, "meta.json"), {"videos": self.objects})


def davis_resolution(item: VideoExport) -> str:
    """DAVIS names its folders for the frames' height ("480p"); ours keep the video's own size."""
    return f"{item.video.height}p"


class DavisWriter:
    """DAVIS-2017 layout: `JPEGImages/<H>p/<vid>/<frame>.jpg`, `Annotations/<H>p/<vid>/<frame>.png`
    (palette, one index per instance), `ImageSets/2017/<split>.txt`; Ref-DAVIS17 expressions, one
    `<vid> <obj_id> "<expression>"` per line and object (an expression with two objects is two lines),
    in `davis_text_annotations/Davis17_annot1_full_video.txt` only: our expressions describe the whole
    video, and one file keeps each expression one sample (Ref-DAVIS readers count each text file as
    another annotator). The frames keep the video's size, and the folder says it (`davis_resolution`)."""

    def __init__(self, root: Path, split: str):
        self.root, self.split = root, split
        self.videos: list[str] = []
        self.lines: list[str] = []
        self.warnings: list[str] = []

    def add_video(self, item: VideoExport, frames: Iterator[np.ndarray]) -> None:
        ids = palette_ids(item)
        res = davis_resolution(item)
        warning = write_palette_frames(item, frames, inside(self.root, "JPEGImages", res, item.name),
                                       inside(self.root, "Annotations", res, item.name))
        self.warnings += [warning] if warning else []
        self.videos.append(item.name)
        self.lines += [f'{item.name} {obj} "{_one_line(a.text)}"'
                       for a, objs in zip(item.expressions, ids.per_expression) for obj in objs]

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
    (RLE `segmentation`, `area`, `bbox`), plus `videos` and `expressions`. One annotation per object of
    an expression per frame where the object has pixels; each names its `expression_id`, its object's
    `track_id` (one per video instance, unique in the export: expressions answering the same object
    share it; an expression lists its `track_ids`) and whether a human corrected the frame."""

    def __init__(self, root: Path, split: str):
        self.root, self.split = root, split
        self.videos: list = []
        self.images: list = []
        self.expressions: list = []
        self.annotations: list = []
        self.num_tracks = 0
        self.warnings: list[str] = []

    def add_video(self, item: VideoExport, frames: Iterator[np.ndarray]) -> None:
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
        first_track = self.num_tracks
        self.num_tracks += item.instances.count
        for answer, ids in zip(item.expressions, item.instances.per_expression):
            expression_id = len(self.expressions) + 1
            track_ids = [first_track + k for k in ids]
            self.expressions.append({"id": expression_id, "video_id": video_id, "expression": answer.text,
                                     "expression_key": answer.export_id, "track_ids": track_ids})
            for k, track_id in zip(ids, track_ids):
                self._add_track(item.instances.tracks[k - 1], answer, expression_id, track_id, first_image)

    def _add_track(self, rles: tuple, answer: ExpressionAnswer, expression_id: int, track_id: int,
                   first_image: int) -> None:
        from pycocotools import mask as mask_utils
        for index, rle in enumerate(rles):
            if rle is None:
                continue
            encoded = {"size": rle["size"], "counts": rle["counts"].encode("ascii")}
            self.annotations.append({
                "id": len(self.annotations) + 1, "image_id": first_image + index,
                "expression_id": expression_id, "track_id": track_id, "category_id": 1,
                "segmentation": rle, "area": int(mask_utils.area(encoded)),
                "bbox": [float(x) for x in mask_utils.toBbox(encoded)],
                "iscrowd": 0, "corrected": bool(answer.corrected[index])})

    def finish(self) -> None:
        write_json(inside(self.root, "annotations.json"), {
            "info": {"description": "DeRVOS Studio export: referred-object masks per expression and object"},
            "categories": [{"id": 1, "name": "referred object", "supercategory": "object"}],
            "videos": self.videos, "images": self.images, "expressions": self.expressions,
            "annotations": self.annotations})


WRITERS = {"mevis": MevisWriter, "refytvos": RefYtvosWriter, "davis": DavisWriter, "coco-rle": CocoRleWriter}
