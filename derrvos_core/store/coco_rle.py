"""Reader of our `coco-rle` export: one RVOSSample per expression (other formats have readers in
`derrvos_core.datasets`)."""
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
    for expression in expressions:
        video = videos[expression["video_id"]]
        frames = frames_of.get(video["id"], [])
        masks = np.zeros((len(frames), video["height"], video["width"]), dtype=bool)
        corrected = [False] * len(frames)
        for annotation in by_expression.get(expression["id"], []):
            index = images[annotation["image_id"]]["frame_index"]
            masks[index] |= decode_rle(annotation["segmentation"])
            corrected[index] = bool(annotation.get("corrected", False))
        files = [root / image["file_name"] for image in frames]
        samples.append(RVOSSample(
            dataset="coco-rle", video_id=video["name"], expression_id=str(expression["expression_key"]),
            expression=expression["expression"], frame_names=[Path(i["file_name"]).stem for i in frames],
            load_frames=lambda files=files: _load(files), target_masks=masks,
            object_ids=[1] if masks.any() else [], extra={"corrected": corrected}))
    return samples


def _load(files: list[Path]) -> np.ndarray:
    from PIL import Image
    out = []
    for file in files:
        with Image.open(file) as image:
            out.append(np.asarray(image.convert("RGB")))
    return np.stack(out)
