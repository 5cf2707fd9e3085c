"""A mask per detection, kept as a box-relative patch: a person model for people, GrabCut for the rest.

A patch is uint8 [P, P], the foreground probability x 255 over the detection box (row 0 = the box's top),
so a mask never leaves its box and a patch moves with its box when a frame is carried or filled.
"""
from __future__ import annotations

import cv2
import numpy as np

from derrvos_core.real.config import RealBranchConfig
from derrvos_core.real.features import (
    PERSON,
    SOURCE_BOX,
    SOURCE_GRABCUT,
    SOURCE_PERSON_MODEL,
    SOURCE_UNSEGMENTED,
)
from derrvos_core.real.parts import load_onnx, single_input


def _region(box_px: np.ndarray, aspect: float, margin: float) -> tuple[float, float, float, float]:
    """A region (x0, y0, w, h) of width / height = aspect, centred on the box and holding it with a margin."""
    x0, y0, x1, y1 = box_px
    bw, bh = max(x1 - x0, 1.0), max(y1 - y0, 1.0)
    pad = margin * max(bw, bh)
    w, h = bw + 2 * pad, bh + 2 * pad
    if w / h < aspect:
        w = h * aspect
    else:
        h = w / aspect
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return cx - w / 2, cy - h / 2, w, h


def _warp_region(image: np.ndarray, region, size: tuple[int, int], border: int) -> np.ndarray:
    """The region (x0, y0, w, h) of `image` resampled to size (width, height)."""
    x0, y0, w, h = region
    sx, sy = size[0] / w, size[1] / h
    m = np.array([[sx, 0, -x0 * sx + 0.5 * sx - 0.5], [0, sy, -y0 * sy + 0.5 * sy - 0.5]], np.float32)
    return cv2.warpAffine(image, m, size, flags=cv2.INTER_LINEAR, borderMode=border)


def _box_patch(prob: np.ndarray, region, box_px: np.ndarray, patch: int) -> np.ndarray:
    """The box's part of a probability map `prob` that covers `region`, resampled to patch x patch."""
    rx, ry, rw, rh = region
    h, w = prob.shape
    sx, sy = w / rw, h / rh
    x0, y0, x1, y1 = box_px
    bx, by = (x0 - rx) * sx, (y0 - ry) * sy
    bw, bh = (x1 - x0) * sx, (y1 - y0) * sy
    # dst (u, v) in the patch -> src in prob: x = bx + (u + 0.5) * bw / patch - 0.5
    m = np.array([[bw / patch, 0, bx + 0.5 * bw / patch - 0.5], [0, bh / patch, by + 0.5 * bh / patch - 0.5]],
                 np.float32)
    return cv2.warpAffine(prob, m, (patch, patch), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def ellipse_patch(patch: int) -> np.ndarray:
    """uint8 [P, P]: the ellipse inscribed in the box (the fallback when no model finds the object)."""
    out = np.zeros((patch, patch), np.uint8)
    cv2.ellipse(out, (patch // 2, patch // 2), (patch // 2 - 1, patch // 2 - 1), 0, 0, 360, 255, -1)
    return out


class PersonSegmenter:
    """MediaPipe selfie segmentation (ONNX) run on square windows around person boxes.

    The model segments every person in its input, so people standing close at a similar size share one
    window: a window grows to take another person while its side stays within `cfg.person_window` times
    the tallest box in it. That costs one call per group instead of one per person.
    """

    def __init__(self, cfg: RealBranchConfig):
        self.cfg = cfg
        path = cfg.person_path
        self.session = load_onnx(path, cfg.threads)
        self.input_name, shape = single_input(self.session, path)
        self.height, self.width = int(shape[1]), int(shape[2])
        self.output_name = self.session.get_outputs()[0].name
        self.calls = 0  # model calls so far (the benchmark reports them per frame)

    def _run(self, x: np.ndarray) -> np.ndarray:
        self.calls += 1
        feed = {self.input_name: x.astype(np.float32)[None] / 255.0}
        out = self.session.run([self.output_name], feed)[0][0]
        if out.shape[-1] == 2:  # meet: (background, person) logits
            return (1.0 / (1.0 + np.exp(out[..., 0] - out[..., 1]))).astype(np.float32)
        return np.clip(out[..., 0].astype(np.float32), 0.0, 1.0)

    def groups(self, boxes_px: np.ndarray) -> list[list[int]]:
        """Indices of boxes segmented together, each group's first the tallest."""
        heights = boxes_px[:, 3] - boxes_px[:, 1]
        left = list(np.argsort(-heights, kind="stable"))
        out = []
        while left:
            group = [left.pop(0)]
            limit = self.cfg.person_window * heights[group[0]] * (1 + 2 * self.cfg.person_margin)
            for i in list(left):
                union = np.concatenate([boxes_px[group + [i], :2].min(0), boxes_px[group + [i], 2:].max(0)])
                if heights[i] >= 0.6 * heights[group[0]] and max(union[2:] - union[:2]) * (
                        1 + 2 * self.cfg.person_margin) <= limit:
                    group.append(i)
                    left.remove(i)
            out.append(group)
        return out

    def patches(self, frame: np.ndarray, boxes_px: np.ndarray) -> np.ndarray:
        """float32 [n, P, P] person probability over each box (boxes in pixels, [n, 4])."""
        out = np.zeros((len(boxes_px), self.cfg.patch_size, self.cfg.patch_size), np.float32)
        for group in self.groups(boxes_px):
            union = np.concatenate([boxes_px[group, :2].min(0), boxes_px[group, 2:].max(0)])
            region = _region(union, self.width / self.height, self.cfg.person_margin)
            prob = self._run(_warp_region(frame, region, (self.width, self.height), cv2.BORDER_REPLICATE))
            for i in group:
                out[i] = _box_patch(prob, region, boxes_px[i], self.cfg.patch_size)
        return out


def grabcut_patch(frame: np.ndarray, box_px: np.ndarray, cfg: RealBranchConfig) -> np.ndarray:
    """float32 [P, P] foreground (0 / 1) of GrabCut seeded by the box, run at low resolution."""
    x0, y0, x1, y1 = box_px
    bw, bh = max(x1 - x0, 1.0), max(y1 - y0, 1.0)
    pad = 0.2 * max(bw, bh)
    region = (x0 - pad, y0 - pad, bw + 2 * pad, bh + 2 * pad)
    scale = cfg.grabcut_size / max(region[2], region[3])
    size = (max(round(region[2] * scale), 8), max(round(region[3] * scale), 8))
    crop = _warp_region(frame, region, size, cv2.BORDER_REPLICATE)
    sx, sy = size[0] / region[2], size[1] / region[3]
    rect = (max(int(pad * sx), 1), max(int(pad * sy), 1), max(int(bw * sx), 2), max(int(bh * sy), 2))
    rect = (rect[0], rect[1], min(rect[2], size[0] - rect[0] - 1), min(rect[3], size[1] - rect[1] - 1))
    mask = np.zeros((size[1], size[0]), np.uint8)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    try:
        cv2.grabCut(cv2.cvtColor(crop, cv2.COLOR_RGB2BGR), mask, rect, bgd, fgd, cfg.grabcut_iterations,
                    cv2.GC_INIT_WITH_RECT)
    except cv2.error:  # degenerate colour models (a flat crop): no segmentation
        return np.zeros((cfg.patch_size, cfg.patch_size), np.float32)
    fg = ((mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)).astype(np.float32)
    return _box_patch(fg, region, box_px, cfg.patch_size)


def frame_patches(frame: np.ndarray, boxes: np.ndarray, classes: np.ndarray, scores: np.ndarray,
                  cfg: RealBranchConfig, person: PersonSegmenter | None, segment: bool = True
                  ) -> tuple[np.ndarray, np.ndarray]:
    """uint8 [D, P, P] mask patches of a frame's detections and their sources (`features.SOURCE_*`).

    Boxes shorter than `cfg.min_segment_height` pixels keep the ellipse (at the masks' resolution such
    an object is a few pixels tall; both mask makers mostly fail on it). People scoring at least
    `cfg.mask_min_score`: the person model. Any detection still without a mask
    (the person model found less than `cfg.min_person_fill` of the box, or another class) that scores at
    least `cfg.grabcut_min_score`: GrabCut. Else, or when the mask is nearly empty: the ellipse
    inscribed in the box (weak detections rarely become trajectories; where one continues a trajectory
    it is usually a partly hidden object).

    With `segment` False (a frame `segment_every` skips) every patch is the ellipse, marked unsegmented.

    Args:
        frame: uint8 [H, W, 3] RGB; boxes: float [D, 4] in [0, 1]; classes, scores: [D].
    """
    h, w = frame.shape[:2]
    boxes_px = boxes.reshape(-1, 4) * np.array([w, h, w, h], np.float32)
    d, p = len(boxes_px), cfg.patch_size
    patches = np.repeat(ellipse_patch(p)[None], d, axis=0)
    if not segment:
        return patches, np.full(d, SOURCE_UNSEGMENTED, np.int64)
    sources = np.full(d, SOURCE_BOX, np.int64)
    big = boxes_px[:, 3] - boxes_px[:, 1] >= cfg.min_segment_height
    people = np.nonzero((classes == PERSON) & (scores >= cfg.mask_min_score) & big)[0] if person is not None \
        else np.zeros(0, np.int64)
    if people.size:
        probs = person.patches(frame, boxes_px[people])
        for i, prob in zip(people.tolist(), probs):
            if (prob > 0.5).mean() >= cfg.min_person_fill:
                patches[i], sources[i] = (prob * 255).round().astype(np.uint8), SOURCE_PERSON_MODEL
    for i in range(d):
        if sources[i] != SOURCE_BOX or scores[i] < cfg.grabcut_min_score or not big[i]:
            continue
        fg = grabcut_patch(frame, boxes_px[i], cfg)
        if (fg > 0.5).mean() >= cfg.min_person_fill:
            patches[i], sources[i] = (fg * 255).round().astype(np.uint8), SOURCE_GRABCUT
    return patches, sources
