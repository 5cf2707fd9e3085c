"""The channel layout of the `detector` branch's trajectory embeddings, and the colour statistics in it.

`Trajectories.embeddings` of this branch is float [N, T, EMBED_DIM]; frame t of trajectory n holds:

- CLASS (80): COCO-80 class distribution of the frame's detection (sums to 1; zeros where not detected).
- LAB_MEAN, LAB_UPPER, LAB_LOWER (3 each): mean CIE Lab of the mask's pixels: whole mask, its upper
  and lower half (rows); L / 100, a / 128, b / 128.
- LAB_STD (3): standard deviation of Lab over the whole mask (same scaling).
- PALETTE, PALETTE_UPPER, PALETTE_LOWER (11 each): fraction of the mask's pixels nearest each basic
  colour of `PALETTE_NAMES` (Lab distance).
- CENTROID (2): mask centroid (x, y) in [0, 1] frame coordinates.
- VELOCITY (2): centroid displacement (dx, dy) per frame, in frame widths / heights, from the
  trajectory's previous frame with a mask (an earlier crop's when the session is linked); 0 on its
  first frame.
- BOX_SIZE (2): box width and height in [0, 1] frame units.
- SCORE (1): detection confidence on this frame (0 where the frame was filled or carried, not detected).
- PRESENT (1): 1 where the object has a mask on this frame, else 0 (then every other channel is 0).

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

#: Codes of `Trajectories.mask_sources` for this branch (the most common source of a trajectory's
#: frames). "unsegmented" marks per-frame rows on frames the mask makers skip (`segment_every`); a
#: trajectory takes those frames' masks from its nearest segmented frame, so it never reports it.
MASK_SOURCES = ("person_model", "grabcut", "box", "unsegmented")
SOURCE_PERSON_MODEL, SOURCE_GRABCUT, SOURCE_BOX, SOURCE_UNSEGMENTED = range(4)


@lru_cache(maxsize=1)
def palette_lab() -> np.ndarray:
    """float32 [11, 3]: the palette prototypes in CIE Lab (L 0..100)."""
    rgb = np.asarray(PALETTE_RGB, dtype=np.float32)[None] / 255.0
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB)[0]


#: RGB is quantised to this many levels per channel for the colour look-up tables.
LUT_LEVELS = 32


@lru_cache(maxsize=1)
def colour_tables() -> tuple[np.ndarray, np.ndarray]:
    """Look-up tables over quantised RGB (index r * L^2 + g * L + b, L = LUT_LEVELS): float32 [L^3, 3]
    scaled Lab of the bin centre and int64 [L^3] its nearest palette colour."""
    levels = (np.arange(LUT_LEVELS, dtype=np.float32) + 0.5) / LUT_LEVELS
    rgb = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), -1).reshape(-1, 1, 3)
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB).reshape(-1, 3)
    nearest = ((lab[:, None] - palette_lab()[None]) ** 2).sum(-1).argmin(1)
    return (lab / LAB_SCALE).astype(np.float32), nearest


def appearance(rgb_crops: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Colour statistics of the masked pixels of box crops, float32 [D, APPEARANCE_DIM].

    Args:
        rgb_crops: uint8 [D, g, g, 3] RGB pixels of each box (resampled to a g x g grid).
        masks: bool [D, g, g], each object's pixels in its crop (an empty mask gives zeros).
    Returns:
        LAB_MEAN, LAB_UPPER, LAB_LOWER, LAB_STD, PALETTE, PALETTE_UPPER, PALETTE_LOWER, concatenated.
        Upper / lower split each mask's rows at the row holding its median pixel, so a person's halves
        are top and legs. Colours go through `colour_tables` (RGB quantised to 32 levels a channel).
    """
    d, g = masks.shape[:2]
    k = len(PALETTE_NAMES)
    if d == 0:
        return np.zeros((0, APPEARANCE_DIM), np.float32)
    lab_table, nearest_table = colour_tables()
    q = (rgb_crops.reshape(d, g * g, 3) >> 3).astype(np.int64)  # 256 / 32 = 8 values a level
    index = (q[..., 0] * LUT_LEVELS + q[..., 1]) * LUT_LEVELS + q[..., 2]
    lab = lab_table[index]  # [D, g*g, 3]
    values = np.concatenate([lab, lab ** 2, np.eye(k, dtype=np.float32)[nearest_table[index]]], -1)
    rows = masks.sum(2).cumsum(1)  # [D, g]
    split = (rows >= rows[:, -1:] / 2).argmax(1)  # the row holding the median pixel
    upper = masks & (np.arange(g)[None, :, None] < split[:, None, None])
    upper = np.where(upper.any((1, 2), keepdims=True), upper, masks)  # one-row masks: all "upper"
    parts = np.stack([masks, upper, masks & ~upper], 1).reshape(d, 3, g * g).astype(np.float32)
    sums = parts @ values  # [D, 3, 6 + k]
    means = sums / np.maximum(parts.sum(-1, keepdims=True), 1)
    std = np.sqrt(np.maximum(means[:, 0, 3:6] - means[:, 0, :3] ** 2, 0))
    return np.concatenate([means[:, 0, :3], means[:, 1, :3], means[:, 2, :3], std,
                           means[:, 0, 6:], means[:, 1, 6:], means[:, 2, 6:]], 1).astype(np.float32)


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
