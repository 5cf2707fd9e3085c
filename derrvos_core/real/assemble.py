"""From tracked detections of one crop to `Trajectories`: masks pasted into their boxes, gaps filled,
embeddings laid out as `features.py` documents, scores and class log-probabilities."""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import cv2
import numpy as np

from derrvos_core.real.config import RealBranchConfig
from derrvos_core.real.features import (
    APPEARANCE,
    BOX_SIZE,
    CENTROID,
    CLASS,
    EMBED_DIM,
    NUM_CLASSES,
    PRESENT,
    SCORE,
    SOURCE_BOX,
    SOURCE_UNSEGMENTED,
    VELOCITY,
)
from derrvos_core.real.frame_features import DetectionFeatures

#: Logit written where a mask is certainly background (outside the box).
BACKGROUND_LOGIT = -10.0


@dataclass
class TrackFrames:
    """One identity within a crop: for each frame it is present, the detection row that shows it.

    Attributes:
        slot: the session-stable id.
        rows: crop frame -> detection row; rows of filled frames are the nearest detected frame's.
        boxes: crop frame -> box (x0, y0, x1, y1) in [0, 1]; interpolated on filled frames.
        detected: the crop frames with a detection of its own.
        mask_rows: crop frame -> the detection row whose mask patch and colours the frame shows (its own
            row, or the nearest segmented one on frames the mask makers skipped; see `borrow_masks`).
        previous_centroid: (frame offset before the crop's first frame, centroid) from an earlier crop.
    """

    slot: int
    rows: dict[int, int]
    boxes: dict[int, np.ndarray]
    detected: set[int]
    previous_centroid: tuple[int, np.ndarray] | None = None
    mask_rows: dict[int, int] | None = None


def fill_gaps(track: TrackFrames, max_gap: int) -> None:
    """Fill runs of at most `max_gap` missing frames between two detections (box interpolated, mask of
    the nearer detection moved into it)."""
    frames = sorted(track.detected)
    for a, b in itertools.pairwise(frames):
        if 1 < b - a <= max_gap + 1:
            for t in range(a + 1, b):
                u = (t - a) / (b - a)
                track.boxes[t] = (1 - u) * track.boxes[a] + u * track.boxes[b]
                track.rows[t] = track.rows[a] if u <= 0.5 else track.rows[b]


def borrow_masks(track: TrackFrames, segmented: np.ndarray) -> None:
    """Set `track.mask_rows`: each frame's own row when it was segmented, else the row of the nearest
    frame of the track (in the crop) that was, else its own (the box ellipse)."""
    frames = sorted(track.rows)
    good = np.array([t for t in frames if segmented[track.rows[t]]])
    track.mask_rows = {}
    for t in frames:
        row = track.rows[t]
        if not segmented[row] and good.size:
            row = track.rows[int(good[np.argmin(np.abs(good - t))])]
        track.mask_rows[t] = row


def patch_centroid(patch: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Centroid (x, y) in [0, 1] frame coordinates of a uint8 patch over `box` (box centre when empty)."""
    p = patch.astype(np.float32) * (patch >= 128)
    s = p.sum()
    if s <= 0:
        return np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2], np.float32)
    n = patch.shape[0]
    c = (np.arange(n, dtype=np.float32) + 0.5) / n
    u, v = (p.sum(0) @ c) / s, (p.sum(1) @ c) / s
    return np.array([box[0] + u * (box[2] - box[0]), box[1] + v * (box[3] - box[1])], np.float32)


def paste(patch: np.ndarray, box: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """float32 [h, w] logits of a uint8 patch placed into `box` on an h x w grid; background outside the box.

    The box's own pixels (those whose centre lies in it) are the only ones that can be foreground; a box
    smaller than one pixel still marks the pixel under its centre.
    """
    h, w = size
    x0, y0, x1, y1 = box[0] * w, box[1] * h, box[2] * w, box[3] * h
    n = patch.shape[0]
    sx, sy = max(x1 - x0, 1e-3) / n, max(y1 - y0, 1e-3) / n
    # src (patch px u) -> dst x = x0 + (u + 0.5) * sx - 0.5
    m = np.array([[sx, 0, x0 + 0.5 * sx - 0.5], [0, sy, y0 + 0.5 * sy - 0.5]], np.float32)
    prob = cv2.warpAffine(patch.astype(np.float32) / 255.0, m, (w, h), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    inside = np.zeros((h, w), bool)
    c0, c1 = math.ceil(x0 - 0.5), math.ceil(x1 - 0.5)
    r0, r1 = math.ceil(y0 - 0.5), math.ceil(y1 - 0.5)
    if c1 <= c0 or r1 <= r0:
        c0, r0 = min(max(int((x0 + x1) / 2), 0), w - 1), min(max(int((y0 + y1) / 2), 0), h - 1)
        c1, r1 = c0 + 1, r0 + 1
        prob[r0, c0] = max(prob[r0, c0], 0.75)
    inside[max(r0, 0):max(r1, 0), max(c0, 0):max(c1, 0)] = True
    p = np.clip(prob, 1e-4, 1 - 1e-4)
    logits = np.log(p / (1 - p))
    logits[~inside] = BACKGROUND_LOGIT
    if not (logits > 0).any() and inside.any():  # a mask for every frame the object is present
        rr, cc = np.nonzero(inside)
        k = int(np.argmax(prob[rr, cc]))
        logits[rr[k], cc[k]] = 1.0
    return np.clip(logits, BACKGROUND_LOGIT, -BACKGROUND_LOGIT)


@dataclass
class Assembled:
    """What `assemble` returns, as numpy (the branch wraps it in `Trajectories`)."""

    embeddings: np.ndarray
    mask_logits: np.ndarray
    scores: np.ndarray
    class_logits: np.ndarray
    boxes: np.ndarray
    areas: np.ndarray
    sources: np.ndarray
    slots: np.ndarray


def mask_size(image_size: tuple[int, int], stride: int) -> tuple[int, int]:
    return math.ceil(image_size[0] / stride), math.ceil(image_size[1] / stride)


def assemble(tracks: list[TrackFrames], feats: DetectionFeatures, cfg: RealBranchConfig) -> Assembled:
    """Trajectories of a crop's identities, best first, at most `cfg.top_k`.

    Score: mean detection confidence over the frames it was detected, times a presence factor that
    reaches 1 at `cfg.presence_frames` detected frames (fewer when the crop is shorter). Class
    log-probabilities: the score times the mean class distribution over detected frames, and 1 - score
    for "no object".
    """
    t_len = feats.num_frames
    h, w = mask_size(feats.image_size, cfg.mask_stride)
    scores_all = feats.scores.numpy()
    probs_all = feats.class_probs.numpy()
    need = min(cfg.presence_frames, t_len)
    ranked = []
    for tr in tracks:
        det_rows = [tr.rows[t] for t in sorted(tr.detected)]
        conf = float(scores_all[det_rows].mean())
        ranked.append((conf * min(1.0, len(det_rows) / need), tr, det_rows))
    ranked.sort(key=lambda r: (-r[0], r[1].slot))
    ranked = ranked[:cfg.top_k]
    n = len(ranked)
    out = Assembled(
        embeddings=np.zeros((n, t_len, EMBED_DIM), np.float32),
        mask_logits=np.full((n, t_len, h, w), BACKGROUND_LOGIT, np.float32),
        scores=np.array([r[0] for r in ranked], np.float32).reshape(n),
        class_logits=np.zeros((n, NUM_CLASSES + 1), np.float32),
        boxes=np.zeros((n, t_len, 4), np.float32), areas=np.zeros((n, t_len), np.float32),
        sources=np.zeros(n, np.int64), slots=np.array([r[1].slot for r in ranked], np.int64).reshape(n))
    patches = feats.patches.numpy()
    appearance = feats.appearance.numpy()
    sources = feats.sources.numpy()
    for i, (score, tr, det_rows) in enumerate(ranked):
        dist = probs_all[det_rows].mean(0)
        out.class_logits[i, :NUM_CLASSES] = np.log(np.clip(score * dist / max(dist.sum(), 1e-6), 1e-6, 1))
        out.class_logits[i, NUM_CLASSES] = math.log(max(1.0 - score, 1e-6))
        mask_rows = tr.mask_rows if tr.mask_rows is not None else tr.rows
        shown = sources[[mask_rows[t] for t in sorted(tr.detected)]]
        out.sources[i] = np.bincount(np.where(shown == SOURCE_UNSEGMENTED, SOURCE_BOX, shown)).argmax()
        last = tr.previous_centroid
        for t in sorted(tr.rows):
            row, box, mrow = tr.rows[t], tr.boxes[t], mask_rows[t]
            logits = paste(patches[mrow], box, (h, w))
            out.mask_logits[i, t] = logits
            out.boxes[i, t] = box
            out.areas[i, t] = float((logits > 0).mean())
            centroid = patch_centroid(patches[mrow], box)
            e = out.embeddings[i, t]
            e[CLASS] = probs_all[row]
            e[APPEARANCE] = appearance[mrow]
            e[CENTROID] = centroid
            if last is not None:
                e[VELOCITY] = (centroid - last[1]) / max(t - last[0], 1)
            e[BOX_SIZE] = (box[2] - box[0], box[3] - box[1])
            e[SCORE] = scores_all[row] if t in tr.detected else 0.0
            e[PRESENT] = 1.0
            last = (t, centroid)
    return out
