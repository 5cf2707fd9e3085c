"""Reader of our `coco-rle` export: one RVOSSample per expression, its target the union of its objects'
annotations, `object_ids` its track ids and `load_object_masks` one mask track per object (other formats
have readers in `derrvos_core.datasets`)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from derrvos_core.datasets.types import RVOSSample
from derrvos_core.errors import DatasetError
from derrvos_core.result import decode_rle


def read_coco_rle(root: str | Path) -> list[RVOSSample]:
    """Samples of a coco-rle export at `root` (holding `annotations.json` and `images/`)."""
    root = Path(root)
    path = root / "annotations.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        videos = {v["id"]: v for v in data["videos"]}
        images = {i["id"]: i for i in data["images"]}
        expressions = data["expressions"]
        annotations = data["annotations"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DatasetError(f"{path}: not a coco-rle export ({type(exc).__name__}: {exc})") from exc
    frames_of: dict[int, list[dict]] = {}
    for image in sorted(images.values(), key=lambda i: (i["video_id"], i["frame_index"])):
        frames_of.setdefault(image["video_id"], []).append(image)
    by_expression: dict[int, list[dict]] = {}
    for annotation in annotations:
        by_expression.setdefault(annotation["expression_id"], []).append(annotation)
    samples = []
    try:
        for expression in expressions:
            video = videos[expression["video_id"]]
            frames = frames_of.get(video["id"], [])
            samples.append(_sample(root, expression, video, frames, images,
                                   by_expression.get(expression["id"], [])))
    except (ValueError, KeyError, TypeError) as exc:
        raise DatasetError(f"{path}: not a coco-rle export ({type(exc).__name__}: {exc})") from exc
    return samples


def _sample(root: Path, expression: dict, video: dict, frames: list[dict], images: dict,
            annotations: list[dict]) -> RVOSSample:
    """The expression's union target and, per track (its `track_ids` order), the object's masks. An
    export made before objects had no `track_ids`: its objects are not known apart (one object id, 1)."""
    legacy = "track_ids" not in expression
    track_ids = [int(t) for t in expression.get("track_ids", [])]
    shape = (len(frames), video["height"], video["width"])
    objects = np.zeros((len(track_ids),) + shape, dtype=bool)
    masks = np.zeros(shape, dtype=bool)
    corrected = [False] * len(frames)
    for annotation in annotations:
        index = images[annotation["image_id"]]["frame_index"]
        mask = decode_rle(annotation["segmentation"])
        masks[index] |= mask
        if annotation.get("track_id") in track_ids:
            objects[track_ids.index(annotation["track_id"]), index] |= mask
        corrected[index] = bool(annotation.get("corrected", False))
    files = [root / image["file_name"] for image in frames]
    return RVOSSample(
        dataset="coco-rle", video_id=video["name"], expression_id=str(expression["expression_key"]),
        expression=expression["expression"], frame_names=[Path(i["file_name"]).stem for i in frames],
        load_frames=lambda: _load(files), target_masks=masks,
        object_ids=((1,) if masks.any() else ()) if legacy else tuple(track_ids),
        extra={"corrected": corrected}, load_object_masks=None if legacy else lambda: objects)


def _load(files: list[Path]) -> np.ndarray:
    from PIL import Image
    out = []
    for file in files:
        with Image.open(file) as image:
            out.append(np.asarray(image.convert("RGB")))
    return np.stack(out)
