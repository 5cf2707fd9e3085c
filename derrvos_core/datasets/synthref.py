"""SynthRef: a procedural referring-video benchmark written in the MeViS layout.

    <out>/<split>/JPEGImages/<video_id>/<frame>.jpg   (frames "00000", "00001", ...; or .png)
    <out>/<split>/meta_expressions.json   {"videos": {vid: {"frames": [...], "expressions":
                                           {exp_id: {"exp", "obj_id", "anno_id", "category"}}}}}
    <out>/<split>/mask_dict.json          {anno_id: [COCO RLE {"size", "counts"} or null per frame]}
    <out>/<split>/synthref_meta.json      objects, behaviours and held-out flags per video (ours)

Every object of a video has an anno_id in mask_dict (targets or not), so the same files train
the trajectory branch. Each video is generated from its own seed (seed, split, index), so a
split is identical whatever the number of worker processes.
"""
from __future__ import annotations

import json
import multiprocessing
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

from derrvos_core.datasets.mevis import read_synthref  # the reader of this layout, re-exported
from derrvos_core.datasets.synthref_expressions import CATEGORIES, make_expressions
from derrvos_core.datasets.synthref_facts import object_facts
from derrvos_core.datasets.synthref_render import render_frames
from derrvos_core.datasets.synthref_scene import sample_scene
from derrvos_core.errors import InputError
from derrvos_core.masks import encode_rle

SPLITS = ("train", "valid", "test", "long")
_SPLIT_CODE = {"train": 0, "valid": 1, "test": 2, "long": 3, "ris": 4}


@dataclass(frozen=True)
class SynthRefConfig:
    """How SynthRef videos look.

    Attributes:
        width, height: frame size in pixels.
        min_frames, max_frames: video length range (train/valid/test).
        long_min_frames, long_max_frames: video length range of the "long" split.
        min_objects, max_objects: objects per video.
        min_expressions, max_expressions: expressions asked for per video (fewer when the scene allows fewer).
        twin_prob: chance that a video holds 2-3 objects identical in appearance (only motion tells them
            apart).
        image_format: "jpg" (the MeViS layout; official loaders expect it) or "png" (lossless).
        jpeg_quality: JPEG quality when image_format is "jpg".
    """

    width: int = 128
    height: int = 128
    min_frames: int = 24
    max_frames: int = 96
    long_min_frames: int = 300
    long_max_frames: int = 400
    min_objects: int = 2
    max_objects: int = 6
    min_expressions: int = 4
    max_expressions: int = 8
    twin_prob: float = 0.75
    image_format: str = "jpg"
    jpeg_quality: int = 95

    def __post_init__(self):
        if self.image_format not in ("jpg", "png"):
            raise InputError(f"image_format must be 'jpg' or 'png', got {self.image_format!r}")
        if min(self.width, self.height) < 32:
            raise InputError(f"frames must be at least 32x32, got {self.width}x{self.height}")
        if not (2 <= self.min_objects <= self.max_objects) or not (1 <= self.min_frames <= self.max_frames):
            raise InputError("need 2 <= min_objects <= max_objects and 1 <= min_frames <= max_frames")


@dataclass
class SynthRefStats:
    """What a generated split holds."""

    split: str
    videos: int = 0
    frames: int = 0
    objects: int = 0
    expressions: int = 0
    per_category: dict = field(default_factory=dict)
    targets_per_expression: dict = field(default_factory=dict)
    held_out_expressions: int = 0
    seconds: float = 0.0

    def format(self) -> str:
        cats = ", ".join(f"{c} {self.per_category.get(c, 0)}" for c in CATEGORIES)
        tgts = ", ".join(f"{k}: {v}" for k, v in self.targets_per_expression.items())
        unit = "images" if self.split == "ris" else "videos"
        return (f"SynthRef {self.split}: {self.videos} {unit}, {self.frames} frames, {self.objects} objects, "
                f"{self.expressions} expressions "
                f"({self.expressions / max(self.videos, 1):.2f} per {unit[:-1]})\n"
                f"  per category: {cats}\n  targets per expression: {tgts}\n"
                f"  expressions on held-out colour-shape-motion combinations: {self.held_out_expressions}\n"
                f"  generated in {self.seconds:.1f} s")


def generate_synthref(out_dir, split: str, num_videos: int, seed: int,
                      config: SynthRefConfig = SynthRefConfig(),
                      workers: int = 1, progress: Callable[[int, int], None] | None = None) -> SynthRefStats:
    """Write one split in the MeViS layout under out_dir/split and return its statistics."""
    if split not in SPLITS:
        raise InputError(f"split must be one of {SPLITS}, got {split!r}")
    if num_videos < 1:
        raise InputError(f"num_videos must be >= 1, got {num_videos}")
    start = time.perf_counter()
    root = Path(out_dir) / split
    (root / "JPEGImages").mkdir(parents=True, exist_ok=True)
    jobs = [(config, split, seed, i, str(root)) for i in range(num_videos)]
    videos, masks, extra = {}, {}, {}
    stats = SynthRefStats(split)
    next_anno = 0
    with _pool(workers) as pool:
        for done, video in enumerate((pool.imap if pool else map)(_make_video, jobs), start=1):
            next_anno = _collect(video, next_anno, videos, masks, extra, stats)
            if progress:
                progress(done, num_videos)
    _write_json(root / "meta_expressions.json", {"videos": videos})
    _write_json(root / "mask_dict.json", masks)
    _write_json(root / "synthref_meta.json", {"generator": "synthref", "version": 1, "split": split,
                                              "seed": seed,
                                              "config": asdict(config), "videos": extra})
    stats.seconds = time.perf_counter() - start
    return stats


def _pool(workers: int):
    if workers <= 1:
        return _NoPool()
    return multiprocessing.get_context("fork").Pool(workers)


class _NoPool:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def video_rng(seed: int, split: str, index: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), _SPLIT_CODE[split], int(index)])


def _make_video(job) -> dict:
    """Simulate, render and write the frames of one video; return its annotations (anno ids unassigned)."""
    config, split, seed, index, root = job
    rng = video_rng(seed, split, index)
    lo, hi = ((config.long_min_frames, config.long_max_frames) if split == "long"
              else (config.min_frames, config.max_frames))
    num_frames = int(rng.integers(lo, hi + 1))
    num_objects = int(rng.integers(config.min_objects, config.max_objects + 1))
    scene = sample_scene(rng, config.width, config.height, num_frames, num_objects,
                         held_out="include" if split == "test" else "exclude", twin_prob=config.twin_prob)
    video_id = f"{split}_{index:05d}"
    frame_dir = Path(root) / "JPEGImages" / video_id
    frame_dir.mkdir(parents=True, exist_ok=True)
    frames = [f"{t:05d}" for t in range(num_frames)]
    rles = [[] for _ in scene.objects]
    visible = np.zeros((num_frames, len(scene.objects)), dtype=bool)
    for t, (frame, masks) in enumerate(render_frames(scene)):
        _save_frame(frame, frame_dir / f"{frames[t]}.{config.image_format}", config)
        for i, m in enumerate(masks):
            visible[t, i] = m.any()
            rles[i].append(encode_rle(m) if visible[t, i] else None)
    facts = object_facts(scene, visible)
    count = int(rng.integers(config.min_expressions, config.max_expressions + 1))
    expressions = make_expressions(facts, rng, count)
    objects = [{"obj_id": o.obj_id, "shape": o.shape, "colour": o.colour, "size": o.size,
                "texture": o.texture,
                "behaviour": o.behaviour, "direction": o.direction, "leader": o.leader,
                "held_out": o.held_out,
                "z": o.z, "frames_visible": int(visible[:, o.obj_id].sum())} for o in scene.objects]
    return {"video_id": video_id, "frames": frames, "rles": rles, "objects": objects,
            "expressions": [(e.text, list(e.targets), e.category) for e in expressions]}


def _save_frame(frame: np.ndarray, path: Path, config: SynthRefConfig) -> None:
    img = Image.fromarray(frame)
    if config.image_format == "jpg":
        img.save(path, quality=config.jpeg_quality)
    else:
        img.save(path, compress_level=1)  # fast; the files are tiny anyway


def _collect(video: dict, next_anno: int, videos: dict, masks: dict, extra: dict,
             stats: SynthRefStats) -> int:
    """Give the video's objects split-wide anno ids, add it to the output dicts, return the next free id."""
    anno_of = {}
    for obj in video["objects"]:
        anno_of[obj["obj_id"]] = next_anno
        masks[str(next_anno)] = video["rles"][obj["obj_id"]]
        obj["anno_id"] = next_anno
        next_anno += 1
    held = {o["obj_id"] for o in video["objects"] if o["held_out"]}
    exps, held_exps = {}, []
    for k, (text, targets, category) in enumerate(video["expressions"]):
        exps[str(k)] = {"exp": text, "obj_id": targets, "anno_id": [anno_of[t] for t in targets],
                        "category": category}
        if held & set(targets):
            held_exps.append(str(k))
        stats.per_category[category] = stats.per_category.get(category, 0) + 1
        key = str(len(targets)) if len(targets) < 3 else "3+"
        stats.targets_per_expression[key] = stats.targets_per_expression.get(key, 0) + 1
    videos[video["video_id"]] = {"frames": video["frames"], "expressions": exps}
    extra[video["video_id"]] = {"objects": video["objects"], "held_out_expressions": held_exps}
    stats.videos += 1
    stats.frames += len(video["frames"])
    stats.objects += len(video["objects"])
    stats.expressions += len(exps)
    stats.held_out_expressions += len(held_exps)
    stats.targets_per_expression = dict(sorted(stats.targets_per_expression.items()))
    return next_anno


def _write_json(path: Path, obj) -> None:
    tmp = path.with_suffix(".json.tmp")
    with open(tmp, "w") as f:
        json.dump(obj, f, separators=(",", ":"))
    tmp.replace(path)


__all__ = ["SPLITS", "SynthRefConfig", "SynthRefStats", "generate_synthref", "read_synthref", "video_rng"]
