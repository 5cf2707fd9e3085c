"""Per-video object tracks for training the trajectory branch (segmenter, tracker, refiner).

The referring readers yield one sample per expression with the union of its targets; the
trajectory branch instead needs every object of a video with its own mask per frame. In the
MeViS layout (MeViS, SynthRef) those are the anno_ids of mask_dict.json: SynthRef lists every
object of a video in synthref_meta.json (targets or not); for MeViS we take the union of the
anno_ids its expressions name (the objects it annotates).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from derrvos_core.errors import DatasetError
from derrvos_core.result import decode_rle

from .attributes import object_attribute_ids


@dataclass(frozen=True)
class VideoTracks:
    """All annotated objects of one video.

    Attributes:
        video_id: the video's folder name.
        frame_paths: T image files, in order.
        anno_ids: one per object (mask_dict keys).
        class_ids: one per object, in [0, num_classes) (0 when the dataset has no usable classes).
        rles: per object, T COCO RLEs or None (object not visible in that frame).
        attribute_ids: per object, one index per `attributes.ATTRIBUTES` entry (shape, colour, size,
            texture), -1 where the dataset does not say (MeViS); empty when no object has any.
    """

    video_id: str
    frame_paths: tuple
    anno_ids: tuple
    class_ids: tuple
    rles: tuple
    attribute_ids: tuple = ()

    @property
    def num_frames(self) -> int:
        return len(self.frame_paths)

    def load_frames(self, idx) -> np.ndarray:
        """uint8 [len(idx), H, W, 3] RGB frames at indices `idx`."""
        return np.stack([np.asarray(Image.open(self.frame_paths[i]).convert("RGB")) for i in idx])

    def load_masks(self, idx, height: int, width: int) -> np.ndarray:
        """bool [num_objects, len(idx), H, W]."""
        out = np.zeros((len(self.anno_ids), len(idx), height, width), dtype=bool)
        for o, track in enumerate(self.rles):
            for j, t in enumerate(idx):
                if track[t] is not None:
                    out[o, j] = decode_rle(track[t])
        return out

    def visible(self) -> np.ndarray:
        """bool [num_objects, T]: where each object is visible."""
        return np.array([[r is not None for r in track] for track in self.rles], dtype=bool).reshape(
            len(self.rles), self.num_frames)


def read_video_tracks(root: str | Path, split: str, class_key: str | None = None,
                      classes: tuple[str, ...] = ()) -> list[VideoTracks]:
    """Object tracks of every video of a MeViS-layout split (MeViS, SynthRef).

    class_key: a field of synthref_meta.json objects (e.g. "shape") mapped to its index in `classes`;
    None makes the branch class-agnostic (every object is class 0).
    """
    folder = Path(root) / split
    meta_path, mask_path = folder / "meta_expressions.json", folder / "mask_dict.json"
    for p in (meta_path, mask_path):
        if not p.is_file():
            raise DatasetError(f"{p} is missing (expected the MeViS layout under {folder})")
    videos = _load(meta_path).get("videos")
    if not isinstance(videos, dict):
        raise DatasetError(f"{meta_path}: key 'videos' is missing or not a mapping")
    masks = _load(mask_path)
    objects = _synthref_objects(folder / "synthref_meta.json")
    out = []
    for vid, entry in sorted(videos.items()):
        frames = entry.get("frames")
        if not frames:
            raise DatasetError(f"{meta_path}: video '{vid}' has no 'frames'")
        objs = objects.get(vid) or [{"anno_id": a} for a in _expression_annos(entry, meta_path, vid)]
        annos = tuple(str(o["anno_id"]) for o in objs)
        for a in annos:
            if a not in masks or len(masks[a]) != len(frames):
                raise DatasetError(f"{mask_path}: anno_id '{a}' of video '{vid}' is missing or has the wrong length")
        cls = tuple(classes.index(o[class_key]) if class_key else 0 for o in objs)
        out.append(VideoTracks(video_id=vid, frame_paths=tuple(_frame_path(folder, vid, f) for f in frames),
                               anno_ids=annos, class_ids=cls, rles=tuple(tuple(masks[a]) for a in annos),
                               attribute_ids=tuple(object_attribute_ids(o) for o in objs)))
    return out


def _load(path: Path):
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{path}: not valid JSON ({exc})") from exc


def _synthref_objects(path: Path) -> dict:
    if not path.is_file():
        return {}
    return {vid: v["objects"] for vid, v in _load(path).get("videos", {}).items()}


def _expression_annos(entry: dict, meta_path: Path, vid: str) -> list:
    annos = set()
    for exp_id, exp in entry.get("expressions", {}).items():
        if "anno_id" not in exp:
            raise DatasetError(f"{meta_path}: expression '{exp_id}' of video '{vid}' has no 'anno_id'")
        annos.update(int(a) for a in exp["anno_id"])
    return sorted(annos)


def _frame_path(folder: Path, vid: str, frame: str) -> Path:
    base = folder / "JPEGImages" / vid / frame
    for ext in (".jpg", ".png", ".jpeg"):
        if base.with_suffix(ext).is_file():
            return base.with_suffix(ext)
    raise DatasetError(f"frame '{frame}' of video '{vid}' not found under {folder / 'JPEGImages' / vid}")


def expression_objects(dataset, videos: int) -> list[tuple]:
    """(load_frames, {object id: bool [T, H, W]}) of the first `videos` videos of a referring dataset
    (`open_dataset`), the objects being the targets its expressions name (each mask track read once)."""
    out: dict[str, tuple] = {}
    for index in range(len(dataset)):
        sample = dataset[index]
        if sample.video_id not in out:
            if len(out) == videos:
                break
            out[sample.video_id] = (sample.load_frames, {})
        objects = out[sample.video_id][1]
        if sample.load_object_masks is not None and any(o not in objects for o in sample.object_ids):
            for oid, track in zip(sample.object_ids, sample.load_object_masks()):
                objects.setdefault(oid, track)
    return list(out.values())
