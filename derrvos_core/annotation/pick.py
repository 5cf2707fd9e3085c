"""Pick by click: which object lies under a click, and a mask for an object no trajectory covers.

    key = object_at(masks_on_frame, x, y)                  # the trajectory under the pointer, or None
    made = mask_from_clicks(frame, [(x, y)], negatives=[(x2, y2)], proposals=masks_on_frame)
    made.mask, made.method, made.proposal                  # bool [H, W]; "proposal" or "grabcut"

Clicks are (x, y) in frame pixels: x the column, y the row, as a pointer event gives them (fractions
are floored). RLE decoding is the caller's (`derrvos_core.masks.decode_rle`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Hashable, Mapping, Sequence

import cv2
import numpy as np

from derrvos_core.annotation.mask_ops import clean_mask, clean_radius, components_at
from derrvos_core.errors import InputError

Click = tuple[float, float]
"""(x, y) in frame pixels: x the column, y the row."""


@dataclass(frozen=True)
class ClickSettings:
    """How `mask_from_clicks` grows a mask from clicks.

    Attributes:
        disc_radius: radius in pixels of the sure-foreground / sure-background disc drawn at each click.
        margin: how far the region GrabCut may fill reaches past the box of the positive clicks, as a
            fraction of the frame's shorter side (0.2: 115 px at 768x576); outside it is background. One
            click cannot say how large the object is, so the margin must hold a typical object.
        min_margin_px: the margin's floor in pixels, for small frames.
        iterations: GrabCut iterations.
    """

    disc_radius: int = 4
    margin: float = 0.2
    min_margin_px: int = 12
    iterations: int = 5

    def __post_init__(self):
        if self.disc_radius < 0 or self.margin < 0 or self.min_margin_px < 1 or self.iterations < 1:
            raise InputError("click settings must be disc_radius >= 0, margin >= 0, min_margin_px >= 1 and "
                             "iterations >= 1")


@dataclass(frozen=True)
class ClickMask:
    """A mask made from clicks.

    Attributes:
        mask: bool [H, W] at the frame's size.
        method: "proposal" (one of the proposals covered every positive click and no negative one) or
            "grabcut" (grown from the clicks).
        proposal: the key of the proposal used; None for "grabcut".
        region: (x0, y0, x1, y1), the part of the frame GrabCut worked on (x1, y1 exclusive); None for
            "proposal".
    """

    mask: np.ndarray
    method: str
    proposal: Hashable | None = None
    region: tuple[int, int, int, int] | None = None


def object_at(frame_masks: Mapping[Hashable, np.ndarray], x: float, y: float,
              near_px: float = 0.0) -> Hashable | None:
    """The key of the mask under (x, y): the smallest when several hold the point (the one in front, as a
    rule: an object's mask lies inside the larger one it overlaps); None when none does.

    With `near_px` > 0 and no mask under the point, the mask with a pixel closest to it within `near_px`
    (Euclidean) is returned instead, the smaller on a tie; this forgives clicks on a thin object's edge.
    Every mask must be bool [H, W] of one size; a point outside the frame is an InputError.
    """
    if not frame_masks:
        return None
    height, width = _common_shape(frame_masks)
    col, row = _pixel((x, y), height, width, "click")
    holding = [(np.count_nonzero(m), k) for k, m in _items(frame_masks) if m[row, col]]
    if holding:
        return min(holding, key=lambda item: item[0])[1]
    if near_px <= 0:
        return None
    reach = int(math.ceil(near_px))
    y0, y1, x0, x1 = max(0, row - reach), min(height, row + reach + 1), max(0, col - reach), \
        min(width, col + reach + 1)
    yy, xx = np.mgrid[y0:y1, x0:x1]
    distance = np.hypot(yy - row, xx - col)
    best = None
    for key, mask in _items(frame_masks):
        window = mask[y0:y1, x0:x1]
        if window.any():
            d = float(distance[window].min())
            if d <= near_px and (best is None or (d, np.count_nonzero(mask)) < best[:2]):
                best = (d, np.count_nonzero(mask), key)
    return None if best is None else best[2]


def mask_from_clicks(frame: np.ndarray, positives: Sequence[Click], negatives: Sequence[Click] = (),
                     proposals: Mapping[Hashable, np.ndarray] | None = None,
                     settings: ClickSettings = ClickSettings()) -> ClickMask:
    """A mask for the object the positive clicks are on and the negative clicks are not.

    When `proposals` (candidate masks on this frame, e.g. the trajectory branch's) hold one that covers
    every positive click and no negative one, the smallest such is used as it is. Otherwise OpenCV GrabCut
    grows the mask inside the box of the positive clicks grown by the margin (outside: background), with
    discs at positives as sure foreground and at negatives as sure background; the result keeps only the
    parts connected to a positive click, lightly cleaned.
    """
    frame = np.asarray(frame)
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise InputError(f"the frame must be uint8 [H, W, 3] RGB, got {frame.dtype} {frame.shape}")
    height, width = frame.shape[:2]
    if not positives:
        raise InputError("mark the object with at least one positive click")
    pos = [_pixel(p, height, width, "positive click") for p in positives]
    neg = [_pixel(p, height, width, "negative click") for p in negatives]
    if set(pos) & set(neg):
        raise InputError("a pixel was clicked both as the object and as not the object")
    if proposals:
        key = _fitting_proposal(proposals, pos, neg, (height, width))
        if key is not None:
            return ClickMask(mask=np.asarray(proposals[key], dtype=bool).copy(), method="proposal",
                             proposal=key)
    return _grabcut(frame, pos, neg, settings)


def _fitting_proposal(proposals: Mapping[Hashable, np.ndarray], pos: list, neg: list,
                      size: tuple[int, int]) -> Hashable | None:
    if _common_shape(proposals) != size:
        raise InputError(f"proposals must be masks of the frame's size {size[1]}x{size[0]}")
    fitting = [(np.count_nonzero(m), k) for k, m in _items(proposals)
               if all(m[r, c] for c, r in pos) and not any(m[r, c] for c, r in neg)]
    return min(fitting, key=lambda item: item[0])[1] if fitting else None


def _grabcut(frame: np.ndarray, pos: list, neg: list, settings: ClickSettings) -> ClickMask:
    height, width = frame.shape[:2]
    margin = max(settings.min_margin_px, round(settings.margin * min(height, width)))
    xs, ys = [c for c, _ in pos], [r for _, r in pos]
    x0, x1 = max(0, min(xs) - margin), min(width, max(xs) + margin + 1)
    y0, y1 = max(0, min(ys) - margin), min(height, max(ys) + margin + 1)
    # GrabCut learns the background's colours from sure-background pixels: keep a ring of them around
    # the region (half the margin) so the model sees what surrounds the object.
    ring = max(1, margin // 2)
    cx0, cx1, cy0, cy1 = max(0, x0 - ring), min(width, x1 + ring), max(0, y0 - ring), min(height, y1 + ring)
    crop = np.ascontiguousarray(frame[cy0:cy1, cx0:cx1, ::-1])  # OpenCV wants BGR
    labels = np.full(crop.shape[:2], cv2.GC_BGD, dtype=np.uint8)
    labels[y0 - cy0:y1 - cy0, x0 - cx0:x1 - cx0] = cv2.GC_PR_BGD
    # One click says where the object is, not its colours: a disc three times the click's starts as
    # probable foreground, so GrabCut's object model has pixels to learn from; the rest of the region
    # starts as probable background and is relabelled by the iterations.
    _draw_discs(labels, pos, (cx0, cy0), max(2, 3 * settings.disc_radius), cv2.GC_PR_FGD)
    _draw_discs(labels, pos, (cx0, cy0), settings.disc_radius, cv2.GC_FGD)
    _draw_discs(labels, neg, (cx0, cy0), settings.disc_radius, cv2.GC_BGD)
    background, foreground = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    try:
        cv2.grabCut(crop, labels, None, background, foreground, settings.iterations, cv2.GC_INIT_WITH_MASK)
    except cv2.error:  # one colour everywhere: the models cannot be fitted; the discs are all we know
        pass
    mask = np.zeros((height, width), dtype=bool)
    mask[cy0:cy1, cx0:cx1] = (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)
    mask = clean_mask(mask, clean_radius((height, width)))
    mask &= ~_discs_mask(mask.shape, neg, settings.disc_radius)  # the clean-up may have closed over them
    mask = components_at(mask | _discs_mask(mask.shape, pos, settings.disc_radius), pos)
    return ClickMask(mask=mask, method="grabcut", region=(x0, y0, x1, y1))


def _draw_discs(labels: np.ndarray, points: list, origin: tuple[int, int], radius: int, value: int) -> None:
    """Draw `value` discs of `radius` at points (frame coordinates) into labels (crop coordinates)."""
    for c, r in points:
        cv2.circle(labels, (c - origin[0], r - origin[1]), radius, int(value), thickness=-1)


def _discs_mask(shape: tuple[int, int], points: list, radius: int) -> np.ndarray:
    canvas = np.zeros(shape, dtype=np.uint8)
    for c, r in points:
        cv2.circle(canvas, (c, r), radius, 1, thickness=-1)
    return canvas.astype(bool)


def _pixel(point: Click, height: int, width: int, what: str) -> tuple[int, int]:
    """(col, row) of a click; InputError naming the frame's size when it lies outside."""
    try:
        x, y = float(point[0]), float(point[1])
    except (TypeError, ValueError, IndexError):
        raise InputError(f"a {what} must be (x, y) in pixels, got {point!r}") from None
    if not (math.isfinite(x) and math.isfinite(y)) or not (0 <= x < width and 0 <= y < height):
        raise InputError(f"{what} at ({x:g}, {y:g}) is outside the {width}x{height} frame")
    return int(x), int(y)


def _items(masks: Mapping[Hashable, np.ndarray]):
    return ((k, np.asarray(m, dtype=bool)) for k, m in masks.items())


def _common_shape(masks: Mapping[Hashable, np.ndarray]) -> tuple[int, int]:
    shapes = {np.shape(m) for m in masks.values()}
    if len(shapes) != 1 or len(next(iter(shapes))) != 2:
        raise InputError(f"masks must all be [H, W] of one frame's size, got shapes {sorted(shapes)}")
    return next(iter(shapes))
