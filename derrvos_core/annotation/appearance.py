"""Does a proposed mask still look like the corrected object, or like what surrounded it?

Flow alone cannot tell a mask that follows its object from one left behind on a still background: both
are followed consistently. Colour can: `AppearanceCheck` keeps the colour histograms of the corrected
object and of a ring around it, and scores a later mask by how much more it resembles the object than the
ring. An object coloured like its surroundings gives no evidence either way and scores 1.
"""
from __future__ import annotations

import cv2
import numpy as np

_BINS = 8  # per channel: 512 colour bins, coarse enough for lighting and texture to share bins


def colour_histogram(frame: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """float64 [512]: the normalised RGB histogram (8 bins a channel) of frame's pixels under mask, read
    on a grid of every k-th row and column for masks over 20,000 pixels (a histogram needs no more)."""
    step = max(1, int(np.sqrt(np.count_nonzero(mask) / 20_000)))
    pixels = frame[::step, ::step][mask[::step, ::step]] // (256 // _BINS)
    codes = (pixels[:, 0].astype(np.int64) * _BINS + pixels[:, 1]) * _BINS + pixels[:, 2]
    counts = np.bincount(codes, minlength=_BINS ** 3).astype(np.float64)
    return counts / max(1.0, counts.sum())


class AppearanceCheck:
    """The corrected object's colours against its surroundings' (a ring a quarter of its size wide)."""

    def __init__(self, frame: np.ndarray, mask: np.ndarray):
        width = max(3, round(0.25 * float(np.sqrt(np.count_nonzero(mask)))))
        disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * width + 1, 2 * width + 1))
        ring = cv2.dilate(mask.astype(np.uint8), disc).astype(bool) & ~mask
        self.object = colour_histogram(frame, mask)
        self.surroundings = colour_histogram(frame, ring) if ring.any() else None

    def score(self, frame: np.ndarray, mask: np.ndarray) -> float:
        """In [0, 1]: min(1, 2a / (a + b)), a and b the histogram intersections of the mask's colours with
        the object's and the surroundings'; 1 when there is nothing to compare."""
        if self.surroundings is None or not mask.any():
            return 1.0 if mask.any() else 0.0
        colours = colour_histogram(frame, mask)
        like_object = float(np.minimum(colours, self.object).sum())
        like_surroundings = float(np.minimum(colours, self.surroundings).sum())
        total = like_object + like_surroundings
        return 1.0 if total == 0 else min(1.0, 2.0 * like_object / total)
