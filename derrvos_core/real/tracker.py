"""Online association of detections into identities (ByteTrack's two stages, plus colour appearance).

Each identity predicts its box with a constant-velocity model; detections are matched by motion
(IoU with the predicted box, or nearness of centres once the identity has been lost for a while, so it
is found again after a short occlusion) and by the colour statistics of their masks, so two people
crossing keep their identities. A `TrackingSession` carries the identities from crop to crop.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from derrvos_core.real.config import TrackerConfig
from derrvos_core.real.detector import box_iou
from derrvos_core.real.features import appearance_similarity


@dataclass
class Track:
    """One identity's online state.

    Position is tracked at the box's top centre with a smoothed size: in footage from a raised camera a
    nearer object that hides another is lower in the image, so a partly hidden object keeps its top edge
    and loses its bottom; a detection shorter than `full_height` of the smoothed height is taken as such
    (its top centre moves the track; size and velocity are kept).

    Attributes:
        slot: the session-stable id.
        anchor: float [2]; top centre (x, y0) in [0, 1] at the last match.
        size: float [2]; smoothed (w, h) of the full box.
        velocity: float [2]; smoothed anchor displacement per frame.
        appearance: float [APPEARANCE_DIM]; smoothed colour statistics.
        class_probs: float [80]; smoothed class distribution.
        last_frame: session frame counter at the last match.
        centroid: float [2]; mask centroid at the last match (for per-frame velocity across crops).
        hits: detections matched so far.
    """

    slot: int
    anchor: np.ndarray
    size: np.ndarray
    velocity: np.ndarray
    appearance: np.ndarray
    class_probs: np.ndarray
    last_frame: int
    centroid: np.ndarray
    hits: int = 1

    def predicted(self, frame: int) -> np.ndarray:
        """The full box (x0, y0, x1, y1) expected at `frame`."""
        x, y0 = self.anchor + self.velocity * (frame - self.last_frame)
        w, h = self.size
        return np.array([x - w / 2, y0, x + w / 2, y0 + h])

    @property
    def label(self) -> int:
        return int(np.argmax(self.class_probs))


@dataclass
class TrackingSession:
    """The identities alive after the frames seen so far; pass it on to continue into the next crop.

    Attributes:
        tracks: identities matched within the last `max_age` frames.
        next_slot: the next unused slot.
        frame: frames seen so far (the session's clock).
    """

    tracks: list[Track] = field(default_factory=list)
    next_slot: int = 0
    frame: int = 0


def motion_similarity(tracks: list[Track], boxes: np.ndarray, frame: int, cfg: TrackerConfig) -> np.ndarray:
    """[n_tracks, n_dets] in [0, 1]: IoU with the predicted box, or the centre term if larger.

    The centre term exp(-(d / (centre_scale * h))^2), h the predicted height, widens with the frames
    since the last match (the prediction grows uncertain) and is scaled by the ratio of heights.
    """
    if not tracks or boxes.shape[0] == 0:
        return np.zeros((len(tracks), boxes.shape[0]), np.float32)
    pred = np.stack([t.predicted(frame) for t in tracks])
    iou = np.maximum(box_iou(pred, boxes), _paired_iou(_top_part(pred, boxes), boxes))
    gap = np.array([frame - t.last_frame for t in tracks], np.float32)
    pa = np.stack([(pred[:, 0] + pred[:, 2]) / 2, pred[:, 1]], 1)
    da = np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, boxes[:, 1]], 1)
    ph = np.maximum(pred[:, 3] - pred[:, 1], 1e-4)
    dist = np.linalg.norm(pa[:, None] - da[None], axis=-1)
    scale = cfg.centre_scale * ph * (1.0 + 0.1 * np.maximum(gap - 1, 0))
    centre = np.exp(-(dist / scale[:, None]) ** 2)
    centre = np.where(gap[:, None] > 1, centre, 0.0)  # a track seen last frame must overlap its detection
    return np.maximum(iou, centre).astype(np.float32)


def _top_part(pred: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """[n, m, 4] predicted boxes cut to each detection's height from the top (a partly hidden object)."""
    out = np.repeat(pred[:, None], boxes.shape[0], axis=1)
    h = np.minimum(boxes[None, :, 3] - boxes[None, :, 1], pred[:, None, 3] - pred[:, None, 1])
    out[..., 3] = out[..., 1] + h
    return out


def _paired_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of a [n, m, 4] with b [m, 4] along m -> [n, m]."""
    lt = np.maximum(a[..., :2], b[None, :, :2])
    rb = np.minimum(a[..., 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(-1)
    area_a = np.clip(a[..., 2:] - a[..., :2], 0, None).prod(-1)
    union = area_a + np.clip(b[:, 2:] - b[:, :2], 0, None).prod(-1) - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def height_ratio(tracks: list[Track], boxes: np.ndarray) -> np.ndarray:
    """[n, m]: detection height / the track's full height."""
    th = np.array([t.size[1] for t in tracks], np.float32).reshape(-1, 1)
    return (boxes[None, :, 3] - boxes[None, :, 1]) / np.maximum(th, 1e-4)


def _match(sim: np.ndarray, ok: np.ndarray, min_sim: float) -> list[tuple[int, int]]:
    if sim.size == 0:
        return []
    cost = np.where(ok, sim, -1.0)
    rows, cols = linear_sum_assignment(cost, maximize=True)
    return [(i, j) for i, j in zip(rows.tolist(), cols.tolist()) if ok[i, j] and sim[i, j] >= min_sim]


def step(session: TrackingSession, boxes: np.ndarray, scores: np.ndarray, class_probs: np.ndarray,
         appearance: np.ndarray, centroids: np.ndarray, cfg: TrackerConfig,
         segmented: np.ndarray | None = None) -> np.ndarray:
    """Associate one frame's detections; returns int64 [D]: each detection's slot, -1 when unmatched.

    Stage 1 matches detections scoring >= `high_score` with every identity (motion + appearance);
    stage 2 matches the rest (>= `low_score`) with identities still unmatched that were seen on the
    previous frame, by motion alone. Unmatched detections >= `new_track_score` start identities;
    identities unmatched for more than `max_age` frames end. Advances the session's clock by one.
    `segmented` (bool [D]) marks detections whose colour statistics come from a real mask; the others'
    (box ellipse) are used to match but not to update an identity's appearance.
    """
    if segmented is None:
        segmented = np.ones(boxes.shape[0], bool)
    frame = session.frame
    slots = np.full(boxes.shape[0], -1, np.int64)
    tracks = session.tracks
    motion = motion_similarity(tracks, boxes, frame, cfg)
    if tracks and boxes.shape[0]:
        app = appearance_similarity(np.stack([t.appearance for t in tracks]), appearance)
        same_label = np.array([t.label for t in tracks])[:, None] == class_probs.argmax(1)[None]
        cls = same_label | (np.minimum(np.stack([t.class_probs for t in tracks])[:, None],
                                       class_probs[None]).sum(-1) >= 0.5)
        ratio = height_ratio(tracks, boxes)
    else:
        app = np.zeros_like(motion)
        cls = ratio = np.zeros(motion.shape, bool)
    w = cfg.appearance_weight
    sim = (1 - w) * motion + w * app
    sized = (ratio >= cfg.min_height_ratio) & (ratio <= 1 / cfg.min_height_ratio)
    compatible = (motion >= cfg.min_motion) & cls & sized
    high = scores >= cfg.high_score
    matched_tracks: set[int] = set()
    pairs = _match(sim[:, high], compatible[:, high], cfg.min_similarity)
    high_idx = np.nonzero(high)[0]
    assignments = [(i, int(high_idx[j])) for i, j in pairs]
    matched_tracks.update(i for i, _ in assignments)
    low_idx = np.nonzero(~high & (scores >= cfg.low_score))[0]
    recent = np.array([i not in matched_tracks and frame - t.last_frame == 1 for i, t in enumerate(tracks)],
                      bool)
    if low_idx.size and recent.any():
        rec_idx = np.nonzero(recent)[0]
        sub = motion[np.ix_(rec_idx, low_idx)]
        pairs = _match(sub, compatible[np.ix_(rec_idx, low_idx)] & (sub >= 0.3), 0.3)
        assignments += [(int(rec_idx[i]), int(low_idx[j])) for i, j in pairs]
    for i, j in assignments:
        _update(tracks[i], boxes[j], class_probs[j], appearance[j] if segmented[j] else None, centroids[j],
                frame, cfg)
        slots[j] = tracks[i].slot
    taken = boxes[slots >= 0]
    for j in np.nonzero((slots < 0) & (scores >= cfg.new_track_score))[0]:
        if taken.shape[0] and _containment(boxes[j:j + 1], taken).max() >= cfg.duplicate_containment:
            continue  # a box around a tracked object (often two people merged while they cross)
        x0, y0, x1, y1 = boxes[j].astype(np.float64)
        tracks.append(Track(slot=session.next_slot, anchor=np.array([(x0 + x1) / 2, y0]),
                            size=np.array([x1 - x0, y1 - y0]), velocity=np.zeros(2),
                            appearance=appearance[j].astype(np.float64),
                            class_probs=class_probs[j].astype(np.float64), last_frame=frame,
                            centroid=centroids[j].astype(np.float64)))
        slots[j] = session.next_slot
        taken = np.concatenate([taken, boxes[j:j + 1]])
        session.next_slot += 1
    session.tracks = [t for t in tracks if frame - t.last_frame <= cfg.max_age]
    session.frame = frame + 1
    return slots


def skip(session: TrackingSession, cfg: TrackerConfig) -> None:
    """A frame without detections (skipped by the detector stride): only the clock moves."""
    session.frame += 1
    session.tracks = [t for t in session.tracks if session.frame - 1 - t.last_frame <= cfg.max_age]


def _containment(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """[n, m]: intersection / the smaller of the two areas."""
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(-1)
    area_a = np.clip(a[:, 2:] - a[:, :2], 0, None).prod(-1)
    area_b = np.clip(b[:, 2:] - b[:, :2], 0, None).prod(-1)
    return inter / np.maximum(np.minimum(area_a[:, None], area_b[None]), 1e-12)


def _update(track: Track, box, class_probs, appearance, centroid, frame: int, cfg: TrackerConfig) -> None:
    gap = max(frame - track.last_frame, 1)
    x0, y0, x1, y1 = box.astype(np.float64)
    anchor = np.array([(x0 + x1) / 2, y0])
    full = (y1 - y0) >= cfg.full_height * track.size[1]
    if full:
        m = cfg.velocity_momentum if track.hits > 1 else 0.0
        track.velocity = m * track.velocity + (1 - m) * (anchor - track.anchor) / gap
        track.size = 0.5 * track.size + 0.5 * np.array([x1 - x0, y1 - y0])
        a = cfg.appearance_momentum
        if appearance is not None:
            track.appearance = a * track.appearance + (1 - a) * appearance
        track.class_probs = a * track.class_probs + (1 - a) * class_probs
    track.anchor = anchor
    track.centroid = centroid.astype(np.float64)
    track.last_frame = frame
    track.hits += 1
