"""The channel layout of the `detector` branch's trajectory embeddings, and the colour statistics in it.

`Trajectories.embeddings` of this branch is float [N, T, EMBED_DIM]; frame t of trajectory n holds:

| slice | width | what |
|---|---|---|
| CLASS | 80 | COCO-80 class distribution of the frame's detection (sums to 1; zeros where not detected) |
| LAB_MEAN, LAB_UPPER, LAB_LOWER | 3 each | mean CIE Lab of the mask's pixels: whole mask, its upper and lower half (rows); L / 100, a / 128, b / 128 |
| LAB_STD | 3 | standard deviation of Lab over the whole mask (same scaling) |
| PALETTE, PALETTE_UPPER, PALETTE_LOWER | 11 each | fraction of the mask's pixels nearest each basic colour of `PALETTE_NAMES` (Lab distance) |
| CENTROID | 2 | mask centroid (x, y) in [0, 1] frame coordinates |
| VELOCITY | 2 | centroid displacement (dx, dy) per frame, in frame widths / heights (0 on the first frame present) |
| BOX_SIZE | 2 | box width and height in [0, 1] frame units |
| SCORE | 1 | detection confidence on this frame (0 where the frame was filled or carried, not detected) |
| PRESENT | 1 | 1 where the object has a mask on this frame, else 0 (then every other channel is 0) |

Boxes and areas over time are in `Trajectories.boxes` / `.areas`; a scorer reads the rest here by name
(`EMBEDDING_LAYOUT`). COCO class names are `COCO80`.
"""
from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

#: COCO-80 class names in the detector's 0-based order.
COCO80 = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
    "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
    "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
    "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
    "tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard",
    "cell phone", "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase",
    "scissors", "teddy bear", "hair drier", "toothbrush",
)
NUM_CLASSES = len(COCO80)
PERSON = 0

#: Basic colour terms (Berlin & Kay's eleven) and the sRGB prototype each is matched against.
PALETTE_NAMES = ("black", "white", "gray", "red", "orange", "yellow", "green", "blue", "purple", "pink",
                 "brown")
PALETTE_RGB = ((20, 20, 20), (235, 235, 235), (128, 128, 128), (190, 30, 35), (235, 130, 30),
               (235, 215, 50), (50, 140, 60), (40, 70, 180), (110, 50, 140), (235, 135, 175),
               (115, 75, 40))


def _layout(parts: list[tuple[str, int]]) -> dict[str, slice]:
    out, start = {}, 0
    for name, width in parts:
        out[name] = slice(start, start + width)
        start += width
    return out


#: Name -> slice of the embedding channels (the table in the module docstring).
EMBEDDING_LAYOUT: dict[str, slice] = _layout([
    ("CLASS", NUM_CLASSES), ("LAB_MEAN", 3), ("LAB_UPPER", 3), ("LAB_LOWER", 3), ("LAB_STD", 3),
    ("PALETTE", len(PALETTE_NAMES)), ("PALETTE_UPPER", len(PALETTE_NAMES)),
    ("PALETTE_LOWER", len(PALETTE_NAMES)), ("CENTROID", 2), ("VELOCITY", 2), ("BOX_SIZE", 2),
    ("SCORE", 1), ("PRESENT", 1),
])
CLASS = EMBEDDING_LAYOUT["CLASS"]
LAB_MEAN = EMBEDDING_LAYOUT["LAB_MEAN"]
LAB_UPPER = EMBEDDING_LAYOUT["LAB_UPPER"]
LAB_LOWER = EMBEDDING_LAYOUT["LAB_LOWER"]
LAB_STD = EMBEDDING_LAYOUT["LAB_STD"]
PALETTE = EMBEDDING_LAYOUT["PALETTE"]
PALETTE_UPPER = EMBEDDING_LAYOUT["PALETTE_UPPER"]
PALETTE_LOWER = EMBEDDING_LAYOUT["PALETTE_LOWER"]
CENTROID = EMBEDDING_LAYOUT["CENTROID"]
VELOCITY = EMBEDDING_LAYOUT["VELOCITY"]
BOX_SIZE = EMBEDDING_LAYOUT["BOX_SIZE"]
SCORE = EMBEDDING_LAYOUT["SCORE"]
PRESENT = EMBEDDING_LAYOUT["PRESENT"]
EMBED_DIM = PRESENT.stop
#: The colour channels (LAB_MEAN .. PALETTE_LOWER): what `appearance` returns, in this order.
APPEARANCE = slice(LAB_MEAN.start, PALETTE_LOWER.stop)
APPEARANCE_DIM = APPEARANCE.stop - APPEARANCE.start

#: Scaling of Lab channels in the embedding (L in 0..100, a and b in about -128..127).
LAB_SCALE = np.array([100.0, 128.0, 128.0], dtype=np.float32)

#: Codes of `Trajectories.mask_sources` for this branch.
MASK_SOURCES = ("person_model", "grabcut", "box")
SOURCE_PERSON_MODEL, SOURCE_GRABCUT, SOURCE_BOX = range(3)


@lru_cache(maxsize=1)
def palette_lab() -> np.ndarray:
    """float32 [11, 3]: the palette prototypes in CIE Lab (L 0..100)."""
    rgb = np.asarray(PALETTE_RGB, dtype=np.float32)[None] / 255.0
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB)[0]


def _stats(lab: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, std (scaled) and palette histogram of Lab pixels [n, 3]; zeros when n = 0."""
    k = len(PALETTE_NAMES)
    if lab.shape[0] == 0:
        return np.zeros(3, np.float32), np.zeros(3, np.float32), np.zeros(k, np.float32)
    d = ((lab[:, None, :] - palette_lab()[None]) ** 2).sum(-1)
    hist = np.bincount(d.argmin(1), minlength=k).astype(np.float32) / lab.shape[0]
    return lab.mean(0) / LAB_SCALE, lab.std(0) / LAB_SCALE, hist


def appearance(rgb_crop: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Colour statistics of the masked pixels of a box crop, float32 [APPEARANCE_DIM].

    Args:
        rgb_crop: uint8 [h, w, 3] RGB pixels of the box.
        mask: bool [h, w], the object's pixels in the crop (an empty mask gives zeros).
    Returns:
        LAB_MEAN, LAB_UPPER, LAB_LOWER, LAB_STD, PALETTE, PALETTE_UPPER, PALETTE_LOWER, concatenated.
        Upper / lower split the mask's rows at their median, so a person's halves are top and legs.
    """
    lab = cv2.cvtColor(rgb_crop.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    ys, xs = np.nonzero(mask)
    pixels = lab[ys, xs]
    split = np.median(ys) if ys.size else 0.0
    mean, std, hist = _stats(pixels)
    upper_mean, _, upper_hist = _stats(pixels[ys < split] if ys.size > 1 else pixels)
    lower_mean, _, lower_hist = _stats(pixels[ys >= split])
    return np.concatenate([mean, upper_mean, lower_mean, std, hist, upper_hist, lower_hist]).astype(np.float32)


def appearance_similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Similarity in [0, 1] of appearance vectors a [n, APPEARANCE_DIM] and b [m, APPEARANCE_DIM] -> [n, m].

    Half histogram intersection of the upper and lower palette histograms, half closeness of the
    upper and lower mean Lab (exp(-distance / 0.15) on the scaled channels).
    """
    off = APPEARANCE.start

    def part(s: slice) -> slice:
        return slice(s.start - off, s.stop - off)

    hist = 0.0
    for s in (PALETTE_UPPER, PALETTE_LOWER):
        hist = hist + np.minimum(a[:, None, part(s)], b[None, :, part(s)]).sum(-1) / 2
    lab = 0.0
    for s in (LAB_UPPER, LAB_LOWER):
        lab = lab + np.exp(-np.linalg.norm(a[:, None, part(s)] - b[None, :, part(s)], axis=-1) / 0.15) / 2
    return (0.5 * hist + 0.5 * lab).astype(np.float32)
